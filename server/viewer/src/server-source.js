// The data source of a cube behind `leafcube serve`: tiles, time series and subsets.
import { fromApi } from "./collections.js";

async function json(url, init) {
  const r = await fetch(url, init);
  if (!r.ok) {
    let detail = `${r.status}`;
    try {
      detail = (await r.json()).detail || detail;
    } catch {}
    throw new Error(detail);
  }
  return r.json();
}

const api = (coll) => `api/collections/${encodeURIComponent(coll.id)}`;

/** The ROI as query parameters (a point) or a GeoJSON body (a polygon). */
function roiRequest(url, roi, params) {
  if (roi.type === "Point") {
    const [lon, lat] = roi.coordinates;
    params.set("lon", String(lon));
    params.set("lat", String(lat));
    return [`${url}?${params}`, undefined];
  }
  const init = {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(roi),
  };
  return [`${url}?${params}`, init];
}

export class ServerSource {
  mode = "server";
  canRender = true;
  canPolygon = true;
  formats = ["csv", "tif", "nc"];

  async collections() {
    const list = await json("api/collections");
    return Promise.all(
      list.collections.map(async (c) => fromApi(await json(`api/collections/${c.id}`))),
    );
  }

  /** TileJSON facts for a layer: its tile URL template, zoom range and bounds. */
  async tiles(coll, layer, date, qc) {
    const p = new URLSearchParams({ layer, date, qc });
    const tj = await json(`${api(coll)}/tilejson.json?${p}`);
    return { url: tj.tiles[0], minzoom: tj.minzoom, maxzoom: tj.maxzoom, bounds: tj.bounds };
  }

  async series(coll, layers, roi, qc) {
    const params = new URLSearchParams({ layers: layers.join(","), qc });
    const [url, init] = roiRequest(`${api(coll)}/timeseries`, roi, params);
    return json(url, init);
  }

  /** A subset file of the ROI (GeoTIFF or NetCDF) as a Blob. */
  async subset(coll, layers, roi, qc, format) {
    const params = new URLSearchParams({ layers: layers.join(","), qc, format });
    const r = await fetch(`${api(coll)}/subset?${params}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(roi),
    });
    if (!r.ok) throw new Error((await r.json()).detail || String(r.status));
    return r.blob();
  }
}
