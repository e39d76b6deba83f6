// Whether the tab is seen. A tab hidden for a while lets its streams go (the live stream, a followed output):
// a browser opens at most six connections to one address over HTTP/1.1, and an operator's background tabs
// must not take them all from the one being looked at. Shown again, each stream resumes from where it was.

export const IDLE_AFTER = 30_000; // ms hidden before a tab lets its streams go

const waiting = new Set();
const hiders = new Set();
let timer = null;

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") {
    clearTimeout(timer);
    timer = null;
    for (const resolve of waiting) resolve();
    waiting.clear();
  } else if (timer === null) {
    timer = setTimeout(() => {
      timer = null;
      if (document.visibilityState === "hidden") for (const hide of hiders) hide();
    }, IDLE_AFTER);
  }
});

// Until the tab is seen (at once if it is).
export function seen() {
  if (document.visibilityState === "visible") return Promise.resolve();
  return new Promise((resolve) => waiting.add(resolve));
}

// `hide()` is called once the tab has been hidden for IDLE_AFTER.
export function onIdle(hide) {
  hiders.add(hide);
}
