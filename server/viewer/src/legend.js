// The colour-bar legend of the current layer, in physical units.
import { NALCMS, colourOf } from "./palettes.js";

const fmt = (v) => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(v) : v.toFixed(2));

function bar(spec) {
  const canvas = document.createElement("canvas");
  canvas.width = 256;
  canvas.height = 14;
  canvas.className = "colourbar";
  const ctx = canvas.getContext("2d");
  const [lo, hi] = spec.display_range;
  for (let x = 0; x < 256; x++) {
    const [r, g, b] = colourOf(spec, lo + ((hi - lo) * (x + 0.5)) / 256);
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x, 0, 1, 14);
  }
  return canvas;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Draw the legend of ``spec`` (a catalogue layer spec with its name) into ``box``. */
export function renderLegend(box, spec) {
  box.replaceChildren();
  box.dataset.layer = spec.name;
  box.dataset.unit = spec.unit;
  box.appendChild(el("div", "legend-title", `${spec.name} (${spec.unit})`));
  if (spec.kind === "categorical" && spec.colormap === "nalcms") {
    const list = el("ul", "classes");
    const [lo, hi] = spec.valid_range;
    for (let v = lo; v <= hi; v++) {
      if (!NALCMS[v]) continue;
      const li = el("li");
      const sw = el("span", "swatch");
      sw.style.background = NALCMS[v][0];
      li.append(sw, `${v} ${NALCMS[v][1]}`);
      list.appendChild(li);
    }
    box.appendChild(list);
    return;
  }
  const [lo, hi] = spec.display_range;
  box.dataset.min = String(lo);
  box.dataset.max = String(hi);
  box.appendChild(bar(spec));
  const ticks = el("div", "ticks");
  for (const v of [lo, (lo + hi) / 2, hi]) ticks.appendChild(el("span", "tick", fmt(v)));
  box.appendChild(ticks);
  if (spec.kind === "bitmask" && spec.bits) {
    const list = el("ul", "bits");
    for (const b of spec.bits) list.appendChild(el("li", "", `bit ${b.bit}: ${b.name}`));
    box.appendChild(list);
  }
}
