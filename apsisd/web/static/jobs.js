// The jobs page: the tree filtered as the operator types (the id and the description's start; the form's button
// asks the server, which looks in the whole description), and each job's last run kept live from the stream.

import { follow, on } from "./live.js";
import { toast } from "./toast.js";

const tree = document.getElementById("tree");
const input = document.getElementById("q");
const count = document.getElementById("count");
const items = [...tree.querySelectorAll("li.job")];
// What the filter looks in: the id and the description's first line (the server's search reads it whole).
const texts = new Map(items.map((item) => [item, `${item.dataset.jobId} ${item.querySelector(".small")?.textContent ?? ""}`.toLowerCase()]));
const byId = new Map(items.map((item) => [item.dataset.jobId, item]));
const folders = [...tree.querySelectorAll("li.folder")].reverse(); // innermost first
const wasOpen = new Map(folders.map((folder) => [folder, folder.firstElementChild.open]));
let pending = false;

function filter() {
  pending = false;
  const needle = input.value.trim().toLowerCase();
  let shown = 0;
  for (const item of items) {
    const hit = !needle || texts.get(item).includes(needle);
    item.classList.toggle("hidden", !hit);
    if (hit) shown += 1;
  }
  for (const folder of folders) {
    const any = folder.querySelector("li.job:not(.hidden)") !== null;
    folder.classList.toggle("hidden", !any);
    folder.firstElementChild.open = needle ? any : wasOpen.get(folder);
  }
  count.textContent = `${shown} of ${count.dataset.total} jobs${needle ? ` matching “${input.value.trim()}”` : ""}.`;
  document.getElementById("none-here").classList.toggle("hidden", shown > 0 || items.length === 0);
  const url = new URL(location.href);
  if (needle) url.searchParams.set("q", input.value.trim());
  else url.searchParams.delete("q");
  history.replaceState(null, "", url);
}

input.addEventListener("input", () => {
  if (!pending) {
    pending = true;
    requestAnimationFrame(filter);
  }
});

const number = (runId) => Number(runId.slice(1));
const UNSHOWN = new Set(["new", "scheduled"]);

function seen(run) {
  // The run is its job's last if it has left its schedule and is the newest such.
  if (UNSHOWN.has(run.state)) return;
  const item = byId.get(run.job_id);
  if (!item) return;
  const last = item.querySelector(".last");
  if (last.dataset.lastRun && number(last.dataset.lastRun) > number(run.run_id)) return;
  last.dataset.lastRun = run.run_id;
  const link = document.createElement("a");
  link.href = `/runs/${run.run_id}`;
  link.title = `its last run, ${run.run_id}`;
  const state = document.createElement("span");
  state.className = `state state-${run.state}`;
  state.textContent = run.state;
  link.append(state);
  last.replaceChildren(link);
}

on("snapshot", (snapshot) => snapshot.runs.forEach(seen));
on("run", seen);
on("jobs", (jobs) => {
  if (jobs.all) return; // a resume from the store sends every job: nothing new to say
  if (jobs.added.length || jobs.removed.length || jobs.changed.length)
    toast("The jobs folder was reloaded: reload this page to see it", "", location.href);
});
follow("recent=0&ahead=0");
