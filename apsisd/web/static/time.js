// Instants and durations in the reader's own zone: each <time datetime> is rewritten in local time, with local,
// UTC, the run's zone (data-zone) and how long ago in its tooltip; each [data-since] shows the time elapsed since
// it (to [data-until] when the run has ended), ticking every second.

const pad = (n) => String(n).padStart(2, "0");

export function local(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function inZone(date, zone) {
  try {
    return date.toLocaleString("sv-SE", { timeZone: zone, timeZoneName: "short" });
  } catch {
    return null;
  }
}

export function duration(seconds) {
  if (seconds < 0) return "-" + duration(-seconds);
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.floor(seconds);
  if (whole >= 86400) return `${Math.floor(whole / 86400)} d ${pad(Math.floor((whole % 86400) / 3600))} h`;
  if (whole >= 3600) return `${Math.floor(whole / 3600)} h ${pad(Math.floor((whole % 3600) / 60))} min`;
  return `${Math.floor(whole / 60)} min ${pad(whole % 60)} s`;
}

function ago(date) {
  const seconds = (Date.now() - date.getTime()) / 1000;
  return seconds >= 0 ? `${duration(seconds)} ago` : `in ${duration(-seconds)}`;
}

export function localize(root) {
  for (const element of root.querySelectorAll("time[datetime]")) {
    const date = new Date(element.getAttribute("datetime"));
    if (Number.isNaN(date.getTime())) continue;
    element.textContent = local(date);
    const zone = element.dataset.zone;
    const lines = [`Local: ${local(date)} (${Intl.DateTimeFormat().resolvedOptions().timeZone})`,
      `UTC: ${date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC")}`];
    const zoned = zone && inZone(date, zone);
    if (zoned) lines.push(`Job's zone (${zone}): ${zoned}`);
    lines.push(ago(date));
    element.title = lines.join("\n");
  }
}

export function tick(root) {
  const now = Date.now();
  for (const element of root.querySelectorAll("[data-since]")) {
    const since = Date.parse(element.dataset.since);
    const until = element.dataset.until ? Date.parse(element.dataset.until) : now;
    if (!Number.isNaN(since)) element.textContent = duration(Math.max(0, (until - since) / 1000));
  }
  for (const element of root.querySelectorAll("[data-due]")) {
    const late = (now - Date.parse(element.dataset.due)) / 1000;
    element.textContent = late > LATE ? `late ${duration(late)}` : "";
  }
}

export const LATE = 10; // seconds past its time after which a run not yet started is marked late
