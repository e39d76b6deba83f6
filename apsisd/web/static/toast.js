// Short messages at the corner of the page: what happened to the live stream, or to an action.

export function toast(text, kind = "", link = null) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = document.createElement(link ? "a" : "div");
  item.className = `toast ${kind}`;
  item.textContent = text;
  item.setAttribute("role", kind === "bad" ? "alert" : "status");
  if (link) item.href = link;
  box.append(item);
  while (box.children.length > 4) box.firstElementChild.remove();
  setTimeout(() => item.remove(), kind === "bad" ? 10000 : 5000);
}
