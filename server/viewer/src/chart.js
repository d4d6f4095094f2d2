// Time-series charts: one per layer, the mean as a line and its uncertainty as a band.
import uPlot from "uplot";

const COLOURS = ["#1b7837", "#2166ac", "#b2182b", "#762a83", "#e08214"];

/**
 * Chart data of one layer from a /timeseries answer: x (seconds), mean, low, high.
 * The band is LEAF's own uncertainty (mean of the error layer) where the collection
 * has one, otherwise the spread (one standard deviation) of the ROI's pixels.
 */
export function chartData(ts, layer, errorLayer) {
  const x = ts.dates.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
  const s = ts.layers[layer];
  const band = errorLayer ? ts.layers[errorLayer].mean : s.std;
  const low = s.mean.map((m, i) => (m === null || band[i] === null ? null : m - band[i]));
  const high = s.mean.map((m, i) => (m === null || band[i] === null ? null : m + band[i]));
  const label = errorLayer
    ? `band ± ${errorLayer}`
    : ts.pixels > 1
      ? "band ± 1 std in ROI"
      : "no band: one pixel, no error layer";
  return { x, mean: s.mean, low, high, band: label };
}

/** A y range around the data that stays readable when the series is flat (all zeros). */
function yRange(spec) {
  const [lo, hi] = spec?.display_range || [0, 1];
  return (u, min, max) => {
    if (min === null || max === null) return [lo, hi];
    const pad = max > min ? (max - min) * 0.1 : (hi - lo) / 4;
    return [Math.min(min - pad, min >= lo ? Math.max(lo, min - pad) : min), max + pad];
  };
}

/** Replace the charts in ``box`` with one per layer of ``ts``. Returns the uPlot objects. */
export function renderCharts(box, ts, layers, specs) {
  for (const old of box.querySelectorAll(".chart")) old._uplot?.destroy();
  box.replaceChildren();
  const width = Math.max(240, box.clientWidth || 300);
  return layers.map(({ name, error }, i) => {
    const d = chartData(ts, name, error);
    const colour = COLOURS[i % COLOURS.length];
    const div = document.createElement("div");
    div.className = "chart";
    div.dataset.layer = name;
    box.appendChild(div);
    const unit = specs[name]?.unit || "";
    const u = new uPlot(
      {
        title: `${name} (${unit}), ${d.band}`,
        width,
        height: 170,
        scales: { x: { time: true }, y: { range: yRange(specs[name]) } },
        series: [
          {},
          { label: `${name} mean`, stroke: colour, width: 2, points: { show: true, size: 5 } },
          { label: "low", stroke: "transparent", points: { show: false } },
          { label: "high", stroke: "transparent", points: { show: false } },
        ],
        bands: [{ series: [3, 2], fill: `${colour}33` }],
        axes: [{}, { label: unit, size: 50 }],
        legend: { show: false },
      },
      [d.x, d.mean, d.low, d.high],
      div,
    );
    div._uplot = u;
    return u;
  });
}

/** CSV of a /timeseries answer: one row per date, mean/std/min/max/valid/total per layer. */
export function toCSV(ts, layers) {
  const cols = ["mean", "std", "min", "max", "valid", "total"];
  const head = ["date", ...layers.flatMap((l) => cols.map((c) => `${l}_${c}`))];
  const rows = ts.dates.map((date, i) => [
    date,
    ...layers.flatMap((l) => cols.map((c) => (ts.layers[l][c][i] ?? ""))),
  ]);
  return [head, ...rows].map((r) => r.join(",")).join("\n") + "\n";
}
