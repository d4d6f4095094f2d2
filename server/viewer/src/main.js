// leafcube's viewer: picks the data source (a leafcube server or a static cube), then wires
// the pickers, the date slider, the legend, the map, the ROI, the charts and the downloads.
import "maplibre-gl/dist/maplibre-gl.css";
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { seriesLayers, spec as specOf } from "./collections.js";
import { renderCharts, toCSV } from "./chart.js";
import { renderLegend } from "./legend.js";
import { addOverlays, createMap, showExtent, showImages, showRoi, showTiles, whenIdle } from "./map.js";
import { readHash, writeHash } from "./permalink.js";
import { ServerSource } from "./server-source.js";
import { StaticSource } from "./static-source.js";

const $ = (id) => document.getElementById(id);

/** What the page exposes for tests and the curious: state, map, charts, timings. */
const viewer = (window.leafcube = { state: null, done: 0, timings: [], errors: [], charts: [], series: null });

async function pickSource() {
  try {
    const r = await fetch("api/collections", { headers: { accept: "application/json" } });
    if (r.ok && (r.headers.get("content-type") || "").includes("json")) return new ServerSource();
  } catch {}
  return new StaticSource();
}

/** Run an interaction, record how long it took until the page showed its result. */
async function interaction(what, fn) {
  const t0 = performance.now();
  setStatus(`${what}…`);
  try {
    await fn();
    setStatus("");
  } catch (err) {
    viewer.errors.push(`${what}: ${err.message}`);
    setStatus(`${what}: ${err.message}`);
  }
  const ms = Math.round(performance.now() - t0);
  viewer.timings.push({ what, ms });
  viewer.done += 1;
  document.body.dataset.done = String(viewer.done);
}

function setStatus(text) {
  $("status").textContent = text;
}

function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

async function main() {
  const source = await pickSource();
  const colls = await source.collections();
  const hash = readHash();
  const byId = Object.fromEntries(colls.map((c) => [c.id, c]));
  const first = byId[hash.c] || colls[0];
  const state = (viewer.state = {
    collection: first.id,
    layer: hash.layer || first.layers[0].name,
    date: hash.date || first.dates.at(-1).key,
    qc: hash.qc === "valid" ? "valid" : "data",
    view: hash.view ? hash.view.split(",").map(Number) : null,
    chart: hash.chart ? hash.chart.split(",") : [],
    roi: hash.point ? { type: "Point", coordinates: hash.point.split(",").map(Number) } : null,
  });
  document.body.dataset.mode = source.mode;
  $("mode").textContent =
    source.mode === "server"
      ? "Served by leafcube serve: map tiles, time series and ROI downloads."
      : "Static cube: layers drawn in the browser from the COGs, point time series; polygons and GeoTIFF/NetCDF need leafcube serve.";
  $("draw").hidden = !source.canPolygon;
  $("dl-tif").hidden = !source.formats.includes("tif");
  $("dl-nc").hidden = !source.formats.includes("nc");
  $("api-link").hidden = source.mode !== "server";
  if (!source.canPolygon) $("roi-hint").textContent = "Click the map for a point's time series";
  for (const c of colls) $("collection").appendChild(option(c.id, c.title || c.id));

  const map = (viewer.map = createMap($("map"), hash.basemap));
  await new Promise((resolve) => map.on("load", resolve));
  addOverlays(map);
  const coll = () => byId[state.collection];

  function fillPickers() {
    const c = coll();
    $("collection").value = c.id;
    $("layer").replaceChildren(...c.layers.map((l) => option(l.name, `${l.name} — ${l.description}`)));
    if (!specOf(c, state.layer)) state.layer = c.layers[0].name;
    $("layer").value = state.layer;
    const keys = (viewer.dates = c.dates.map((d) => d.key));
    if (!keys.includes(state.date)) state.date = keys.at(-1);
    $("date").max = String(keys.length - 1);
    $("date").value = String(keys.indexOf(state.date));
    $("qc").checked = state.qc === "valid";
    const box = $("chart-layers");
    box.querySelectorAll("label").forEach((l) => l.remove());
    const choices = seriesLayers(c).map((s) => s.name);
    state.chart = state.chart.filter((n) => choices.includes(n));
    if (!state.chart.length) state.chart = [choices.includes(state.layer) ? state.layer : choices[0]].filter(Boolean);
    for (const name of choices) {
      const label = document.createElement("label");
      label.className = "inline";
      const cb = document.createElement("input");
      cb.type = "checkbox";
      cb.value = name;
      cb.checked = state.chart.includes(name);
      cb.addEventListener("change", () => {
        state.chart = [...box.querySelectorAll("input:checked")].map((i) => i.value);
        if (state.roi) interaction("time series", loadSeries);
        save();
      });
      label.append(cb, ` ${name}`);
      box.appendChild(label);
    }
    showExtent(map, c.wgs84);
  }

  function save() {
    const centre = map.getCenter();
    state.view = [centre.lng, centre.lat, map.getZoom()];
    writeHash(state);
  }

  async function drawLayer() {
    const c = coll();
    const s = specOf(c, state.layer);
    renderLegend($("legend"), s);
    $("layer-info").textContent = `${s.description}; ${s.unit}`;
    $("date-label").textContent = state.date;
    if (source.mode === "server") {
      showTiles(map, await source.tiles(c, state.layer, state.date, state.qc));
      await whenIdle(map);
    } else {
      showImages(map, await source.render(c, state.layer, state.date, state.qc));
      await whenIdle(map);
    }
    viewer.drawn = { layer: state.layer, date: state.date, qc: state.qc };
    save();
  }

  async function loadSeries() {
    const c = coll();
    const layers = seriesLayers(c).filter((l) => state.chart.includes(l.name));
    if (!state.roi || !layers.length) return;
    const names = layers.flatMap((l) => (l.error ? [l.name, l.error] : [l.name]));
    const ts = await source.series(c, names, state.roi, state.qc);
    viewer.series = ts;
    viewer.seriesLayers = layers.map((l) => l.name);
    const specs = Object.fromEntries(c.layers.map((l) => [l.name, l]));
    viewer.charts = renderCharts($("charts"), ts, layers, specs);
    const roi = state.roi;
    $("roi-info").textContent =
      roi.type === "Point"
        ? `Point ${roi.coordinates.map((v) => v.toFixed(5)).join(", ")} (the pixel it falls in)`
        : `Polygon of ${roi.coordinates[0].length - 1} vertices, ${ts.pixels} pixels`;
    for (const f of ["csv", "tif", "nc"]) $(`dl-${f}`).disabled = !source.formats.includes(f);
  }

  fillPickers();
  if (state.view) map.jumpTo({ center: [state.view[0], state.view[1]], zoom: state.view[2] });
  else map.fitBounds(coll().wgs84, { padding: 30, animate: false });
  await interaction("first view", drawLayer);
  if (state.roi) {
    showRoi(map, state.roi);
    await interaction("time series", loadSeries);
  }

  $("collection").addEventListener("change", () => {
    state.collection = $("collection").value;
    state.roi = null;
    showRoi(map, null);
    fillPickers();
    map.fitBounds(coll().wgs84, { padding: 30, animate: false });
    interaction("collection", drawLayer);
  });
  $("layer").addEventListener("change", () => {
    state.layer = $("layer").value;
    interaction("layer", drawLayer);
  });
  $("date").addEventListener("input", () => {
    state.date = coll().dates[Number($("date").value)].key;
    interaction("date", drawLayer);
  });
  $("qc").addEventListener("change", () => {
    state.qc = $("qc").checked ? "valid" : "data";
    interaction("qc", async () => {
      await drawLayer();
      await loadSeries();
    });
  });

  let playing = null; // the pending step's timer while playing, else null
  $("play").addEventListener("click", () => {
    if (playing !== null) {
      clearTimeout(playing);
      playing = null;
      $("play").innerHTML = "&#9654;";
      return;
    }
    $("play").innerHTML = "&#10074;&#10074;";
    const step = async () => {
      const n = coll().dates.length;
      $("date").value = String((Number($("date").value) + 1) % n);
      state.date = coll().dates[Number($("date").value)].key;
      await interaction("play", drawLayer);
      if (playing !== null) playing = setTimeout(step, 700); // not paused meanwhile
    };
    playing = setTimeout(step, 0);
  });

  let draft = null;
  const finishDrawing = () => {
    if (draft && draft.length >= 3) {
      state.roi = { type: "Polygon", coordinates: [[...draft, draft[0]]] };
      showRoi(map, state.roi);
      interaction("polygon time series", loadSeries);
    }
    draft = null;
    $("draw").textContent = "Draw polygon";
    map.doubleClickZoom.enable();
  };
  $("draw").addEventListener("click", () => {
    if (draft) return finishDrawing();
    draft = [];
    $("draw").textContent = "Finish polygon (Enter)";
    map.doubleClickZoom.disable();
  });
  document.addEventListener("keydown", (e) => {
    if (!draft) return;
    if (e.key === "Enter") finishDrawing();
    if (e.key === "Escape") {
      draft = null;
      showRoi(map, state.roi);
      $("draw").textContent = "Draw polygon";
      map.doubleClickZoom.enable();
    }
  });
  map.on("click", (e) => {
    const ll = [e.lngLat.lng, e.lngLat.lat];
    if (draft) {
      draft.push(ll);
      showRoi(map, null, draft);
      return;
    }
    state.roi = { type: "Point", coordinates: ll };
    showRoi(map, state.roi);
    interaction("click time series", loadSeries);
  });
  map.on("dblclick", () => draft && finishDrawing());
  map.on("moveend", save);
  /** Move the map (as a permalink's view does) and wait until it shows the new view. */
  viewer.goTo = (center, zoom) =>
    interaction("view", async () => {
      map.jumpTo({ center, zoom });
      await whenIdle(map);
    });

  const download = (blob, name) => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 60000);
  };
  const stem = () => `${state.collection}-${state.roi.type === "Point" ? "point" : "polygon"}`;
  $("dl-csv").addEventListener("click", () => {
    const blob = new Blob([toCSV(viewer.series, Object.keys(viewer.series.layers))], { type: "text/csv" });
    download(blob, `${stem()}.csv`);
  });
  for (const fmt of ["tif", "nc"]) {
    $(`dl-${fmt}`).addEventListener("click", () =>
      interaction(`download ${fmt}`, async () => {
        const blob = await source.subset(coll(), state.chart, state.roi, state.qc, fmt);
        download(blob, `${stem()}.${fmt}`);
      }),
    );
  }
  document.body.dataset.ready = "1";
}

main().catch((err) => {
  viewer.errors.push(err.message);
  document.body.dataset.ready = "error";
  setStatus(`The viewer could not start: ${err.message}`);
});
