// A run's output with its ANSI colours: SGR sequences (ESC [ ... m) become spans with classes (the 16 colours,
// bold, dim, italic, underline) or, for 256 and true colours, a colour set through the style object (which the
// page's Content-Security-Policy allows, unlike a style attribute). Every other escape sequence is dropped.
// The text is only ever set as text: output can hold no markup that the page would run.

const ESC = "\u001b";
const SEQUENCE = /\u001b\[([0-9;?]*)([@-~])|\u001b[@-Z\\-_]/g;

function cube(index) {
  if (index < 16) return null;
  if (index >= 232) {
    const level = 8 + (index - 232) * 10;
    return `rgb(${level}, ${level}, ${level})`;
  }
  const n = index - 16;
  const level = (v) => (v === 0 ? 0 : 55 + v * 40);
  return `rgb(${level(Math.floor(n / 36))}, ${level(Math.floor(n / 6) % 6)}, ${level(n % 6)})`;
}

export class AnsiWriter {
  constructor(target) {
    this.target = target;
    this.tail = ""; // an escape sequence cut in two by a chunk's end
    this.reset();
  }

  reset() {
    this.fg = null; this.bg = null; this.fgColor = null; this.bgColor = null;
    this.bold = false; this.dim = false; this.italic = false; this.underline = false;
  }

  apply(codes) {
    const list = codes === "" ? [0] : codes.split(";").map((c) => Number(c || 0));
    for (let i = 0; i < list.length; i++) {
      const c = list[i];
      if (c === 0) this.reset();
      else if (c === 1) this.bold = true;
      else if (c === 2) this.dim = true;
      else if (c === 3) this.italic = true;
      else if (c === 4) this.underline = true;
      else if (c === 22) { this.bold = false; this.dim = false; }
      else if (c === 23) this.italic = false;
      else if (c === 24) this.underline = false;
      else if (c >= 30 && c <= 37) { this.fg = c - 30; this.fgColor = null; }
      else if (c >= 90 && c <= 97) { this.fg = c - 90 + 8; this.fgColor = null; }
      else if (c === 39) { this.fg = null; this.fgColor = null; }
      else if (c >= 40 && c <= 47) { this.bg = c - 40; this.bgColor = null; }
      else if (c >= 100 && c <= 107) { this.bg = c - 100; this.bgColor = null; }
      else if (c === 49) { this.bg = null; this.bgColor = null; }
      else if (c === 38 || c === 48) {
        let color = null;
        if (list[i + 1] === 5) {
          const index = list[i + 2];
          color = index < 16 ? null : cube(index);
          if (index < 16) { if (c === 38) this.fg = index; else this.bg = index % 8; }
          i += 2;
        } else if (list[i + 1] === 2) {
          color = `rgb(${list[i + 2] ?? 0}, ${list[i + 3] ?? 0}, ${list[i + 4] ?? 0})`;
          i += 4;
        }
        if (color) { if (c === 38) { this.fgColor = color; this.fg = null; } else { this.bgColor = color; this.bg = null; } }
      }
    }
  }

  text(text, extra = "") {
    if (!text) return;
    const classes = [];
    if (this.fg !== null) classes.push(`fg-${this.fg}`);
    if (this.bg !== null) classes.push(`bg-${this.bg}`);
    if (this.bold) classes.push("ansi-bold");
    if (this.dim) classes.push("ansi-dim");
    if (this.italic) classes.push("ansi-italic");
    if (this.underline) classes.push("ansi-underline");
    if (extra) classes.push(extra);
    if (!classes.length && !this.fgColor && !this.bgColor) {
      const last = this.target.lastChild;
      if (last && last.nodeType === Node.TEXT_NODE) last.appendData(text);
      else this.target.append(text);
      return;
    }
    const span = document.createElement("span");
    span.className = classes.join(" ");
    if (this.fgColor) span.style.color = this.fgColor;
    if (this.bgColor) span.style.backgroundColor = this.bgColor;
    span.textContent = text;
    this.target.append(span);
  }

  write(chunk, extra = "") {
    let data = this.tail + chunk;
    this.tail = "";
    const cut = data.lastIndexOf(ESC);
    if (cut !== -1 && !/^\u001b(\[[0-9;?]*[@-~]|[@-Z\\-_])/.test(data.slice(cut)) && data.length - cut < 64) {
      this.tail = data.slice(cut);
      data = data.slice(0, cut);
    }
    let at = 0;
    for (const match of data.matchAll(SEQUENCE)) {
      this.text(data.slice(at, match.index), extra);
      if (match[2] === "m") this.apply(match[1]);
      at = match.index + match[0].length;
    }
    this.text(data.slice(at), extra);
  }
}
