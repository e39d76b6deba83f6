// The live stream (/api/v1/events): one EventSource per page, from the last change the page was rendered with,
// and made again from the last change applied (?since=), so nothing is missed between the page's reading and
// the stream, across a drop, or across a restart of apsisd. The page's state is on <html>:
// data-live="on|connecting|off" and data-live-seq (the last change applied).

import { toast } from "./toast.js";
import { onIdle, seen } from "./visible.js";

const html = document.documentElement;
const handlers = { run: [], run_deleted: [], jobs: [], snapshot: [], hello: [] };
let source = null;
let seq = html.dataset.liveSeq || null; // the last change the page was rendered with, when it says
let delay = 500;
let lost = false;
let query = "";

export function on(name, handler) {
  handlers[name].push(handler);
}

function state(word, text) {
  html.dataset.live = word;
  const shown = document.querySelector("#live .word");
  if (shown) shown.textContent = text;
}

function deliver(name, event) {
  const data = JSON.parse(event.data);
  for (const handler of handlers[name]) handler(data);
  if (event.lastEventId) {
    seq = event.lastEventId;
    html.dataset.liveSeq = seq;
  }
}

function connect() {
  if (document.visibilityState !== "visible" && html.dataset.live === "paused") return;
  const params = new URLSearchParams(query);
  if (seq !== null) params.set("since", seq);
  state("connecting", "connecting…");
  source = new EventSource(`/api/v1/events?${params}`);
  source.addEventListener("hello", (event) => {
    const hello = JSON.parse(event.data);
    if (seq === null && hello.seq !== undefined) {
      seq = String(hello.seq);
      html.dataset.liveSeq = seq;
    }
    for (const handler of handlers.hello) handler(hello);
    state("on", "live");
    if (lost) toast(hello.resume === "exact" ? "Live again: caught up with every change"
      : "Live again: apsisd restarted or the page was away long; every run changed meanwhile is shown", "good");
    lost = false;
    delay = 500;
  });
  for (const name of ["run", "run_deleted", "jobs", "snapshot"]) {
    source.addEventListener(name, (event) => deliver(name, event));
  }
  source.onerror = () => {
    source.close();
    if (!lost) toast("Live updates lost: reconnecting…", "bad");
    lost = true;
    state("off", "not live: reconnecting");
    setTimeout(async () => {
      if (await signedOut()) return;
      connect();
    }, delay);
    delay = Math.min(delay * 2, 10000);
  };
}

async function signedOut() {
  try {
    const response = await fetch("/api/v1/health", { credentials: "same-origin" });
    if (response.status === 401) {
      state("off", "not live: signed out");
      toast("Your session has ended: sign in again to follow the changes", "bad",
        `/login?next=${encodeURIComponent(location.pathname + location.search)}`);
      return true;
    }
  } catch {
    // apsisd is not answering yet: try the stream again
  }
  return false;
}

export function follow(parameters = "") {
  query = parameters;
  connect();
  onIdle(() => {
    // Hidden long: the stream is let go (visible.js), and taken up again from the last change when seen.
    if (!source) return;
    source.close();
    state("paused", "paused (tab hidden)");
    seen().then(() => {
      if (html.dataset.live === "paused") connect();
    });
  });
}
