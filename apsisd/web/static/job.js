// A job's page: the start form through the API (the CSRF header set by page.js's call), then to the new run;
// and its runs' states kept live (a run new since the page was made is added at the top of the recent runs).

import { follow, on } from "./live.js";
import { call } from "./page.js";
import { localize, tick } from "./time.js";

const form = document.getElementById("start");
const recent = document.getElementById("recent");
const jobId = document.querySelector("h1 .mono").textContent;

if (form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const args = {};
    for (const input of form.querySelectorAll("input[data-param]")) args[input.dataset.param] = input.value;
    const button = form.querySelector("button");
    button.disabled = true;
    const { ok, answer } = await call("POST", "/api/v1/runs", { job_id: form.dataset.jobId, args });
    button.disabled = false;
    if (ok) {
      location.assign(`/runs/${answer.runs[0].run_id}`);
      return;
    }
    const problem = document.getElementById("start-problem");
    problem.textContent = answer.error ?? "refused";
    problem.classList.remove("hidden");
  });
}

function stateCell(run) {
  const state = document.createElement("span");
  state.className = `state state-${run.state}`;
  state.textContent = run.state;
  return state;
}

function seen(run) {
  if (run.job_id !== jobId) return;
  const rows = document.querySelectorAll(`tr[data-run-id="${run.run_id}"]`);
  for (const row of rows) {
    row.dataset.state = run.state;
    row.cells[row.closest("#recent") ? 2 : 1].replaceChildren(stateCell(run));
  }
  if (rows.length || !recent || ["new", "scheduled", "waiting"].includes(run.state)) return;
  const row = recent.tBodies[0].insertRow(0);
  row.dataset.runId = run.run_id;
  row.dataset.state = run.state;
  row.className = "fresh";
  const link = document.createElement("a");
  link.href = `/runs/${run.run_id}`;
  link.textContent = run.run_id;
  row.insertCell().append(link);
  row.insertCell().textContent = Object.entries(run.args).map(([k, v]) => `${k}=${v}`).join(" ");
  row.insertCell().append(stateCell(run));
  const time = document.createElement("time");
  time.setAttribute("datetime", run.times.schedule);
  time.textContent = run.times.schedule;
  row.insertCell().append(time);
  for (let i = 0; i < 4; i += 1) row.insertCell();
  row.cells[6].textContent = run.host ?? "";
  localize(row);
  tick(row);
}

on("snapshot", (snapshot) => snapshot.runs.forEach(seen));
on("run", seen);
follow(`recent=0&ahead=0&job=${encodeURIComponent(jobId)}`);
