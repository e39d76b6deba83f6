// What every page does: instants in local time (ticking elapsed times), and actions confirmed in a dialog, then
// done through the API (the same request the CLI makes), without leaving the page.

import { localize, tick } from "./time.js";
import { toast } from "./toast.js";

localize(document);
tick(document);
setInterval(() => tick(document), 1000);

const csrf = document.querySelector('meta[name="apsis-csrf"]')?.content ?? "";

export async function call(method, url, body = undefined) {
  const headers = { Accept: "application/json" };
  if (csrf) headers["X-Apsis-CSRF"] = csrf;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    answer = { error: `${response.status} ${response.statusText}` };
  }
  return { ok: response.ok, status: response.status, answer };
}

function confirmed(link) {
  return new Promise((resolve) => {
    const dialog = document.createElement("dialog");
    dialog.innerHTML = '<form method="dialog"><h2></h2><p class="muted"></p><div class="choice"></div>' +
      '<div class="actions"><button value="cancel">Cancel</button><button class="primary" value="ok"></button></div></form>';
    dialog.querySelector("h2").textContent = link.dataset.title;
    dialog.querySelector("p").textContent = link.dataset.confirm;
    dialog.querySelector("button.primary").textContent = link.textContent.trim();
    if (link.classList.contains("danger")) dialog.querySelector("button.primary").classList.add("danger");
    let select = null;
    if (link.dataset.choices) {
      select = document.createElement("select");
      select.setAttribute("aria-label", "State");
      for (const choice of link.dataset.choices.split(",")) select.add(new Option(choice, choice));
      dialog.querySelector(".choice").append(select);
    }
    document.body.append(dialog);
    dialog.addEventListener("close", () => {
      const value = dialog.returnValue === "ok" ? (select ? select.value : "") : null;
      dialog.remove();
      resolve(value);
    });
    dialog.showModal();
    dialog.querySelector(select ? "select" : "button.primary").focus();
  });
}

document.addEventListener("click", async (event) => {
  const link = event.target.closest("a[data-api]");
  if (!link || event.button !== 0 || event.metaKey || event.ctrlKey) return;
  event.preventDefault();
  const choice = await confirmed(link);
  if (choice === null) return;
  const url = link.dataset.choices ? `${link.dataset.api}${encodeURIComponent(choice)}` : link.dataset.api;
  const { ok, answer } = await call("POST", url);
  if (!ok) {
    toast(answer.error ?? "refused", "bad");
    return;
  }
  toast(`${link.dataset.title}: done`, "good");
  if (link.dataset.follow && answer.run_id) location.assign(`/runs/${answer.run_id}`);
});

// Keys: "/" goes to the page's search or first filter; "g" then "r", "j", "h" or "c" goes to the runs, the jobs,
// the hosts or the control page. Never while typing in a field.
let pendingG = false;
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  if (event.key === "/") {
    const field = document.querySelector("[data-search], form.filters input:not([type=hidden])");
    if (field) {
      event.preventDefault();
      field.focus();
    }
  } else if (pendingG) {
    pendingG = false;
    const target = { r: "/runs", j: "/jobs", h: "/hosts", c: "/control" }[event.key];
    if (target) location.assign(target);
  } else if (event.key === "g") {
    pendingG = true;
    setTimeout(() => { pendingG = false; }, 1500);
  }
});
