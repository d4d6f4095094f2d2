// The data source of a cube on a plain web server: catalogue.json and the COGs, read
// with HTTP range requests by geotiff.js. No tiles, no subsets: layers are drawn from a
// COG overview in the browser and a point's time series is read pixel by pixel.
import { fromUrl } from "geotiff";
import { fromCatalogue, spec as specOf } from "./collections.js";
import { colourOf } from "./palettes.js";
import { projection } from "./projection.js";

const FLAGS = 0b111; // QC bits 0-2: what `qc=valid` drops (catalogue/qc.py is_valid)
const MAX_SIDE = 1024; // the largest overview drawn in the browser

const tiffs = new Map();
function open(href) {
  if (!tiffs.has(href)) tiffs.set(href, fromUrl(href, { allowFullFile: false }));
  return tiffs.get(href);
}

/** The images of a COG split into data images and internal masks (NewSubfileType bit 2). */
async function images(href) {
  const tiff = await open(href);
  const n = await tiff.getImageCount();
  const data = [];
  const masks = [];
  for (let i = 0; i < n; i++) {
    const img = await tiff.getImage(i);
    const kind = img.fileDirectory.getValue("NewSubfileType") || 0;
    (kind & 4 ? masks : data).push(img);
  }
  return { data, masks };
}

/** Read a window of a COG level: values and (if the COG has a mask) the mask. */
async function readLevel(href, level, window) {
  const { data, masks } = await images(href);
  const img = data[Math.min(level, data.length - 1)];
  const mask = masks.find((m) => m.getWidth() === img.getWidth());
  const [values] = await img.readRasters({ window, interleave: false });
  const m = mask ? (await mask.readRasters({ window, interleave: false }))[0] : null;
  return { values, mask: m, width: img.getWidth(), height: img.getHeight() };
}

/** A collection of a partitioned catalogue (format 2.0) with the dates of all its parts
 * (catalogue/{collection}/{part}.json) gathered into ``dates``, as format 1.0 held them. */
async function withParts(c) {
  if (!c.parts) return;
  const parts = await Promise.all(
    Object.values(c.parts).map(async (p) => {
      const r = await fetch(p.href);
      if (!r.ok) throw new Error(`${p.href}: ${r.status}`);
      return (await r.json()).dates;
    }),
  );
  c.dates = Object.assign({}, ...parts);
}

export class StaticSource {
  mode = "static";
  canPolygon = false;
  formats = ["csv"];

  async collections() {
    const r = await fetch("catalogue.json");
    if (!r.ok) throw new Error(`catalogue.json: ${r.status}`);
    const cat = await r.json();
    await Promise.all(Object.values(cat.collections).map(withParts));
    this.canRender = true;
    return Object.keys(cat.collections)
      .sort()
      .map((id) => fromCatalogue(id, cat.collections[id]));
  }

  /**
   * Images to lay on the map: each tile COG painted on canvases of at most PIECE pixels a
   * side, each with its corners in lon/lat. MapLibre stretches an image linearly between
   * its corners, and the native CRS is not linear in Web Mercator: small pieces keep that
   * error far below a pixel.
   */
  async render(coll, layer, date, qc) {
    const proj = projection(coll.crs);
    const files = coll.files[date]?.[layer];
    if (!proj || !files) return [];
    const spec = specOf(coll, layer);
    const qcFiles = qc === "valid" && spec.qc_layer ? coll.files[date]?.[spec.qc_layer] : null;
    const tiles = await Promise.all(
      Object.entries(files.tiles).map(async ([tile, t]) => {
        const { data } = await images(t.href);
        let level = 0;
        while (level < data.length - 1 && data[level].getWidth() > MAX_SIDE) level++;
        const layerRead = await readLevel(t.href, level);
        const qcTile = qcFiles?.tiles?.[tile];
        const qcRead = qcTile ? await readLevel(qcTile.href, level) : null;
        return pieces(spec, layerRead, qcRead, t.bbox, proj);
      }),
    );
    return tiles.flat();
  }

  /** A point's time series, read pixel by pixel from each date's tile COG. */
  async series(coll, layers, roi, qc) {
    if (roi.type !== "Point") throw new Error("polygons need leafcube serve");
    const proj = projection(coll.crs);
    if (!proj) throw new Error(`${coll.crs} is not known to the static viewer`);
    const [x, y] = proj.fromLonLat(roi.coordinates);
    const out = { collection: coll.id, qc, crs: coll.crs, pixels: 1, dates: [], layers: {} };
    for (const name of layers) out.layers[name] = { mean: [], std: [], min: [], max: [], valid: [], total: [] };
    const dates = coll.dates;
    const values = await Promise.all(
      dates.map((d) => Promise.all(layers.map((name) => pixel(coll, d.key, name, x, y, qc)))),
    );
    dates.forEach((d, i) => {
      out.dates.push(d.key);
      layers.forEach((name, j) => {
        const v = values[i][j];
        const s = out.layers[name];
        s.mean.push(v);
        s.std.push(v === null ? null : 0);
        s.min.push(v);
        s.max.push(v);
        s.valid.push(v === null ? 0 : 1);
        s.total.push(1);
      });
    });
    return out;
  }
}

/** The physical value of one pixel (null: no data, or dropped by the QC filter). */
async function pixel(coll, date, layer, x, y, qc) {
  const files = coll.files[date]?.[layer];
  if (!files) return null;
  const spec = specOf(coll, layer);
  for (const [tile, t] of Object.entries(files.tiles)) {
    const [x0, y0, x1, y1] = t.bbox;
    if (x < x0 || x >= x1 || y <= y0 || y > y1) continue;
    const col = Math.floor((x - x0) / coll.resolution);
    const row = Math.floor((y1 - y) / coll.resolution);
    const window = [col, row, col + 1, row + 1];
    const r = await readLevel(t.href, 0, window);
    if (r.mask && r.mask[0] === 0) continue; // no data in this tile: another may have it
    if (isNoData(spec, r.values[0])) continue;
    if (qc === "valid" && spec.qc_layer) {
      const q = coll.files[date]?.[spec.qc_layer]?.tiles?.[tile];
      if (q && ((await readLevel(q.href, 0, window)).values[0] & FLAGS) !== 0) return null;
    }
    return r.values[0] * spec.scale + spec.offset;
  }
  return null;
}

/** True for the layer's no-data DN (whatever its mask rule: the COGs carry it as nodata). */
const isNoData = (spec, dn) => spec.nodata !== undefined && spec.nodata !== null && dn === spec.nodata;

const PIECE = 128;

/** The painted pieces of one tile COG and their corners in lon/lat. */
function pieces(spec, read, qcRead, bbox, proj) {
  const full = paint(spec, read, qcRead);
  const [x0, y0, x1, y1] = bbox;
  const sx = (x1 - x0) / read.width;
  const sy = (y1 - y0) / read.height;
  const out = [];
  for (let r = 0; r < read.height; r += PIECE) {
    for (let c = 0; c < read.width; c += PIECE) {
      const w = Math.min(PIECE, read.width - c);
      const h = Math.min(PIECE, read.height - r);
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      canvas.getContext("2d").drawImage(full, c, r, w, h, 0, 0, w, h);
      const left = x0 + c * sx;
      const right = left + w * sx;
      const top = y1 - r * sy;
      const bottom = top - h * sy;
      const corners = [[left, top], [right, top], [right, bottom], [left, bottom]].map(proj.toLonLat);
      out.push({ canvas, corners });
    }
  }
  return out;
}

/** Colour a read window as the server's tiles do; masked and QC-dropped pixels transparent. */
function paint(spec, read, qcRead) {
  const { values, mask, width, height } = read;
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(width, height);
  const lut = new Map();
  for (let i = 0; i < values.length; i++) {
    if (mask && mask[i] === 0) continue;
    const dn = values[i];
    if (isNoData(spec, dn)) continue;
    if (qcRead && (qcRead.values[i] & FLAGS) !== 0) continue;
    let c = lut.get(dn);
    if (c === undefined) {
      c = colourOf(spec, dn * spec.scale + spec.offset);
      lut.set(dn, c);
    }
    if (!c) continue;
    img.data.set([c[0], c[1], c[2], 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

