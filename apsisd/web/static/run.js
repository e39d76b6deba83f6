// A run's page, live: its state, facts, log and buttons follow the stream (the page's parts are fetched again
// when the run changes), and its output follows as it is written, picking up after the last byte it had when
// the answer is cut (apsisd restarted, the network dropped). The output scrolls with what comes unless the
// reader has scrolled up (then "follow" is unticked until they scroll back down or tick it).

import { follow, on } from "./live.js";
import { localize, tick } from "./time.js";
import { AnsiWriter } from "./ansi.js";
import { onIdle, seen } from "./visible.js";

const box = document.getElementById("run");
const runId = box.dataset.runId;
const output = document.getElementById("output");
const following = document.getElementById("follow");
const said = document.getElementById("output-state");
const MAX_SHOWN = 2_000_000; // characters kept on the page; the rest is in "as text"
let shownChars = 0;
let refreshing = null;

async function refresh() {
  const response = await fetch(location.href, { credentials: "same-origin" });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const selector of ["#state", "#reason", ".grid2", "#json", "#actions"]) {
    const now = document.querySelector(selector);
    const then = fresh.querySelector(selector);
    if (now && then) now.replaceWith(then);
    else if (!now && then && selector === "#actions") document.getElementById("reason").closest("p").after(then);
    else if (now && !then) now.remove();
  }
  const late = fresh.querySelector("#run > p .late");
  document.querySelector("#run > p .late")?.replaceWith(late ?? "");
  box.dataset.state = fresh.getElementById("run").dataset.state;
  localize(document);
  tick(document);
}

on("run", (run) => {
  if (run.run_id !== runId) return;
  if (!refreshing) refreshing = refresh().finally(() => { refreshing = null; });
  else refreshing.then(() => { if (!refreshing) refreshing = refresh().finally(() => { refreshing = null; }); });
});
on("snapshot", (snapshot) => { if (snapshot.runs.some((run) => run.run_id === runId)) refresh(); });
follow(`recent=0&job=${encodeURIComponent(box.dataset.jobId)}`);

function atBottom() {
  return output.scrollHeight - output.scrollTop - output.clientHeight < 24;
}

output.addEventListener("scroll", () => {
  if (!atBottom() && following.checked && !output.dataset.scrolling) following.checked = false;
  else if (atBottom() && !following.checked) following.checked = true;
});
following.addEventListener("change", () => { if (following.checked) output.scrollTop = output.scrollHeight; });

function trimShown() {
  while (shownChars > MAX_SHOWN && output.firstChild) {
    shownChars -= output.firstChild.textContent.length;
    output.firstChild.remove();
  }
}

async function stream(which, target) {
  const writer = new AnsiWriter(target);
  const decoder = new TextDecoder();
  let received = 0;
  let delay = 500;
  const url = `/api/v1/runs/${runId}/output?follow=1${which ? `&stream=${which}` : ""}`;
  let controller = null;
  let idle = false;
  onIdle(() => {
    idle = true;
    controller?.abort();
  });
  for (;;) {
    if (idle) {
      said.textContent = "paused (tab hidden)";
      await seen();
      idle = false;
    }
    controller = new AbortController();
    try {
      said.textContent = received ? "following" : "waiting for output";
      const response = await fetch(url, { credentials: "same-origin", signal: controller.signal,
        headers: received ? { Range: `bytes=${received}-` } : {} });
      if (response.status === 416) break;
      if (!response.ok) {
        const answer = await response.json().catch(() => ({}));
        said.textContent = answer.error ?? `${response.status}`;
        if (response.status >= 400 && response.status < 500 && ![408, 429].includes(response.status)) return;
        throw new Error("try again");
      }
      if (response.headers.get("Apsis-Output-Incomplete")) said.textContent = `incomplete: ${response.headers.get("Apsis-Output-Incomplete")}`;
      const reader = response.body.getReader();
      delay = 500;
      said.textContent = "following";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        received += value.length;
        const text = decoder.decode(value, { stream: true });
        shownChars += text.length;
        writer.write(text);
        trimShown();
        if (following.checked) {
          output.dataset.scrolling = "1";
          target.scrollTop = target.scrollHeight;
          output.scrollTop = output.scrollHeight;
          requestAnimationFrame(() => delete output.dataset.scrolling);
        }
      }
      break; // the answer ended: the run has ended and all of its output is here
    } catch {
      if (idle) continue;
      said.textContent = "output: reconnecting…";
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10000);
    }
  }
  output.dataset.complete = "yes";
  said.textContent = "complete";
}

if (box.dataset.split === "yes") {
  const panes = {};
  for (const name of ["stdout", "stderr"]) {
    const pane = document.createElement("span");
    pane.dataset.stream = name;
    if (name === "stderr") pane.className = "hidden stderr";
    output.append(pane);
    panes[name] = pane;
  }
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => {
      for (const other of document.querySelectorAll("[role=tab]")) other.setAttribute("aria-selected", String(other === tab));
      for (const [name, pane] of Object.entries(panes)) pane.classList.toggle("hidden", name !== tab.dataset.stream);
    });
  }
  stream("stdout", panes.stdout);
  stream("stderr", panes.stderr);
} else {
  output.querySelector("noscript")?.remove();
  stream("", output);
}
