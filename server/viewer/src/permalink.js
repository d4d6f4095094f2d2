// The view in the URL's hash: collection, layer, date, QC, map view, chart layers, ROI point.

/** Parse ``location.hash`` into a plain object of strings. */
export function readHash(hash = location.hash) {
  return Object.fromEntries(new URLSearchParams(hash.replace(/^#/, "")));
}

/** Write the state into the hash without adding a history entry per change. */
export function writeHash(state) {
  const p = new URLSearchParams();
  p.set("c", state.collection);
  p.set("layer", state.layer);
  p.set("date", state.date);
  p.set("qc", state.qc);
  if (state.view) p.set("view", state.view.map((v, i) => v.toFixed(i === 2 ? 2 : 5)).join(","));
  if (state.chart?.length) p.set("chart", state.chart.join(","));
  if (state.roi?.type === "Point") p.set("point", state.roi.coordinates.map((v) => v.toFixed(6)).join(","));
  const hash = `#${p}`;
  if (hash !== location.hash) history.replaceState(null, "", hash);
}
