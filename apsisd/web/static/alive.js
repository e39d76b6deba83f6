// Pages whose facts are not runs (control, hosts, reload, ad hoc) follow the stream too, so the live indicator
// says whether apsisd is there; on the hosts page, each host's count of runs under way is kept live.

import { follow, on } from "./live.js";

const ON_HOST = new Set(["starting", "running", "stopping"]);
const counts = new Map([...document.querySelectorAll("[data-host-runs]")].map((cell) => [cell.dataset.hostRuns, cell]));
const where = new Map(); // run id -> its host, for the runs under way

function seen(run) {
  if (ON_HOST.has(run.state)) where.set(run.run_id, run.host ?? "local");
  else where.delete(run.run_id);
}

function show() {
  if (!counts.size) return;
  const totals = new Map();
  for (const host of where.values()) totals.set(host, (totals.get(host) ?? 0) + 1);
  for (const [host, cell] of counts) cell.textContent = String(totals.get(host) ?? 0);
}

on("snapshot", (snapshot) => {
  where.clear();
  snapshot.runs.forEach(seen);
  show();
});
on("run", (run) => {
  seen(run);
  show();
});
on("run_deleted", ({ run_id: runId }) => {
  where.delete(runId);
  show();
});
follow("recent=0&ahead=0");
