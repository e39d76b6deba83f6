// The runs page, live: each change of a run on the page replaces its row; a new run that the page's filters
// match is added in its place (on the first page only: a later page is a fixed window of history). Changes are
// applied once per frame, the latest of each run only, and the table never holds more rows than its page size:
// the page keeps up with hundreds of changes a second and does not grow.

import { follow, on } from "./live.js";
import { localize, tick } from "./time.js";

const table = document.getElementById("runs");
const body = table.tBodies[0];
const filter = JSON.parse(table.dataset.filter);
const pending = new Map();
const labelsOf = new Map();
let scheduled = false;

const byTime = filter.order === "time";

function cell(row, content = "", className = "") {
  const td = row.insertCell();
  if (className) td.className = className;
  if (content instanceof Node) td.append(content);
  else td.textContent = content;
  return td;
}

function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  made.textContent = text;
  return made;
}

function link(href, text) {
  const a = element("a", "", text);
  a.href = href;
  return a;
}

function when(iso) {
  if (!iso) return "";
  const time = element("time", "", iso);
  time.setAttribute("datetime", iso);
  return time;
}

const span = (className, text) => element("span", className, text);

function filteredBy(changes) {
  const params = new URLSearchParams(location.search);
  for (const [name, value] of Object.entries(changes)) params.set(name, value);
  params.delete("before");
  return `/runs?${params}`;
}

const UNSTARTED = new Set(["scheduled", "waiting", "new"]);

export function buildRow(run) {
  const row = document.createElement("tr");
  row.dataset.runId = run.run_id;
  row.dataset.state = run.state;
  row.dataset.time = run.times.schedule;
  cell(row, link(`/runs/${run.run_id}`, run.run_id));
  const job = cell(row, link(filteredBy({ job: run.job_id }), run.job_id));
  if (run.origin === "adhoc") job.append(" ", span("tag adhoc", "ad hoc"));
  else if (run.origin !== "schedule") job.append(" ", span("tag", run.origin));
  if (filter.columns.length) for (const column of filter.columns) cell(row, run.args[column] ?? "");
  else cell(row, Object.entries(run.args).map(([k, v]) => `${k}=${v}`).join(" "), "hide-narrow mono");
  const state = cell(row, span(`state state-${run.state}`, run.state), "state-cell");
  if (UNSTARTED.has(run.state)) {
    const late = span("late", "");
    late.dataset.due = run.times.schedule;
    state.append(" ", late);
  } else if (run.lateness !== null && run.lateness > 60) state.append(" ", span("late", "late"));
  cell(row, when(run.times.schedule));
  const began = run.times.running ?? run.times.starting;
  cell(row, when(began), "hide-narrow");
  const elapsed = cell(row, "", "elapsed");
  if (began) {
    const shown = document.createElement("span");
    shown.dataset.since = began;
    const ended = run.times[run.state];
    if (["success", "failure", "error", "skipped"].includes(run.state) && ended) shown.dataset.until = ended;
    elapsed.append(shown);
  }
  cell(row, run.host ?? "", "hide-narrow");
  cell(row, run.exit_code !== null ? `exit ${run.exit_code}` : run.signal ?? (run.result && run.result !== "success" ? run.result : ""),
    "hide-narrow outcome");
  localize(row);
  tick(row);
  return row;
}

function inFolder(jobId, path) {
  const folder = path.replace(/\/+$/, "");
  return !folder || jobId.startsWith(`${folder}/`) || (!path.endsWith("/") && jobId === folder);
}

function matches(run) {
  if (filter.job && run.job_id !== filter.job) return false;
  if (filter.path && !inFolder(run.job_id, filter.path)) return false;
  if (filter.states.length && !filter.states.includes(run.state)) return false;
  if (filter.origins.length && !filter.origins.includes(run.origin)) return false;
  if (filter.hosts.length && !filter.hosts.includes(run.host)) return false;
  for (const arg of filter.args) {
    const [name, ...rest] = arg.split("=");
    if (run.args[name] !== rest.join("=")) return false;
  }
  if (filter.labels.length) {
    const labels = labelsOf.get(run.job_id) ?? [];
    if (!filter.labels.every((label) => labels.includes(label))) return false;
  }
  const time = Date.parse(run.times.schedule);
  // The bounds as the server read them: instants with their offset (an input without one is UTC there).
  if (filter.since && time < Date.parse(filter.since)) return false;
  if (filter.until && time >= Date.parse(filter.until)) return false;
  return true;
}

const number = (runId) => Number(runId.slice(1));

function before(row, run) {
  // Whether `run` goes above `row`: newest id first, or latest schedule time first (then newest id).
  if (!row.dataset.runId) return false;
  if (byTime) {
    const a = Date.parse(run.times.schedule), b = Date.parse(row.dataset.time);
    if (a !== b) return a > b;
  }
  return number(run.run_id) > number(row.dataset.runId);
}

function place(run) {
  const old = body.querySelector(`tr[data-run-id="${run.run_id}"]`);
  const wanted = matches(run);
  if (old) {
    if (!wanted && filter.live) {
      old.remove();
      return;
    }
    if (old.dataset.time === run.times.schedule) {
      old.replaceWith(buildRow(run));
      return;
    }
    old.remove(); // its time changed: it moves (by time)
  }
  if (!wanted || !filter.live) return;
  const row = buildRow(run);
  row.classList.add("fresh");
  const rows = [...body.rows].filter((each) => each.dataset.runId);
  const after = rows.find((each) => before(each, run));
  if (after) body.insertBefore(row, after);
  else if (rows.length < filter.limit) body.append(row);
  else return;
  document.getElementById("none")?.remove();
}

function trim() {
  const rows = [...body.rows].filter((each) => each.dataset.runId);
  for (const row of rows.slice(filter.limit)) row.remove();
}

function placeNow() {
  // The line at now, among runs by schedule time: above the first run due by now.
  if (!byTime || !filter.live) return;
  let line = body.querySelector("tr.now");
  if (!line) {
    line = body.insertRow();
    line.className = "now";
    const td = line.insertCell();
    td.colSpan = 20;
    td.append(span("", "now"));
  }
  const now = Date.now();
  const first = [...body.rows].find((row) => row.dataset.runId && Date.parse(row.dataset.time) <= now);
  if (first) {
    if (line.nextElementSibling !== first) body.insertBefore(line, first);
  } else body.append(line);
}

function flush() {
  scheduled = false;
  for (const run of pending.values()) place(run);
  pending.clear();
  trim();
  placeNow();
}

function queue(run) {
  pending.delete(run.run_id); // keep the latest, in arrival order
  pending.set(run.run_id, run);
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(flush);
  }
}

function learnJobs(jobs) {
  for (const job of jobs) labelsOf.set(job.id ?? job.job_id, job.labels ?? job.metadata?.labels ?? []);
}

on("snapshot", (snapshot) => {
  learnJobs(snapshot.jobs);
  for (const run of snapshot.runs) queue(run);
});
on("jobs", (jobs) => learnJobs([...jobs.added, ...jobs.changed]));
on("run", queue);
on("run_deleted", ({ run_id: runId }) => body.querySelector(`tr[data-run-id="${runId}"]`)?.remove());
setInterval(placeNow, 5000);
follow(filter.job || filter.path ? `recent=0&job=${encodeURIComponent(filter.job || filter.path)}` : "recent=0");

