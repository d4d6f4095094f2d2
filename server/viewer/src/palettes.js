// Colour ramps of the layers' `colormap`s, as the server's tiles use them
// (server/colormaps.py): rio-tiler's (matplotlib's) ramps, 255 colours after a
// transparent index 0, spread over the layer's display_range.

const STOPS = {
  ylgn: ["#ffffe5", "#f7fcb9", "#d9f0a3", "#addd8e", "#78c679", "#41ab5d", "#238443", "#006837", "#004529"],
  greys: ["#ffffff", "#f0f0f0", "#d9d9d9", "#bdbdbd", "#969696", "#737373", "#525252", "#252525", "#000000"],
  viridis: [
    "#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c",
    "#22a884", "#44bf70", "#7ad151", "#bddf26", "#fde725",
  ],
};

/** NALCMS land-cover classes: colour and name (server/colormaps.py's NALCMS). */
export const NALCMS = {
  1: ["#033e00", "Temperate or sub-polar needleleaf forest"],
  2: ["#939b71", "Sub-polar taiga needleleaf forest"],
  3: ["#196d12", "Tropical or sub-tropical broadleaf evergreen forest"],
  4: ["#1fab01", "Tropical or sub-tropical broadleaf deciduous forest"],
  5: ["#5b725c", "Temperate or sub-polar broadleaf deciduous forest"],
  6: ["#6b7d2c", "Mixed forest"],
  7: ["#b29d29", "Tropical or sub-tropical shrubland"],
  8: ["#b48833", "Temperate or sub-polar shrubland"],
  9: ["#e9da5d", "Tropical or sub-tropical grassland"],
  10: ["#e0cd88", "Temperate or sub-polar grassland"],
  11: ["#a07451", "Sub-polar or polar shrubland-lichen-moss"],
  12: ["#bad292", "Sub-polar or polar grassland-lichen-moss"],
  13: ["#3f8970", "Sub-polar or polar barren-lichen-moss"],
  14: ["#6ca289", "Wetland"],
  15: ["#e6ad6a", "Cropland"],
  16: ["#a9abae", "Barren lands"],
  17: ["#db2126", "Urban"],
  18: ["#4c73a1", "Water"],
  19: ["#fff7fe", "Snow and ice"],
};

const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));

function stopsOf(name) {
  const key = (name || "").toLowerCase();
  if (key.endsWith("_r") && STOPS[key.slice(0, -2)]) return [...STOPS[key.slice(0, -2)]].reverse();
  return STOPS[key] || STOPS.viridis; // the server falls back to viridis too
}

const cache = new Map();

/** 256 colours [r, g, b] of a ramp: colour k at k / 255, linear between the stops. */
export function ramp256(name) {
  if (cache.has(name)) return cache.get(name);
  const stops = stopsOf(name).map(hex);
  const out = [];
  for (let k = 0; k < 256; k++) {
    const t = (k / 255) * (stops.length - 1);
    const i = Math.min(Math.floor(t), stops.length - 2);
    const f = t - i;
    out.push(stops[i].map((v, c) => Math.round(v + (stops[i + 1][c] - v) * f)));
  }
  cache.set(name, out);
  return out;
}

/** The RGB colour the server paints a physical value with (null for none). */
export function colourOf(spec, value) {
  if (value === null || Number.isNaN(value)) return null;
  if (spec.colormap === "nalcms") {
    const c = NALCMS[Math.round(value)];
    return c ? hex(c[0]) : null;
  }
  const [lo, hi] = spec.display_range;
  const norm = Math.min(1, Math.max(0, (value - lo) / (hi - lo || 1)));
  const index = Math.round(norm * 254); // palette entry index + 1 in the server's palette
  return ramp256(spec.colormap)[Math.round((index * 255) / 254)];
}
