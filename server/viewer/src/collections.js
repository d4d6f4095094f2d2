// One shape for a collection, whether it comes from the server's /api/collections/{c}
// or from a static cube's catalogue.json.

/** From the server's CollectionDetail. */
export function fromApi(d) {
  return {
    id: d.id,
    title: d.title,
    description: d.description,
    crs: d.crs,
    resolution: d.resolution,
    wgs84: d.extent.wgs84,
    native: d.extent.native,
    layers: d.layer_specs,
    dates: d.dates.map((e) => ({ key: e.date, start: e.start, end: e.end, layers: e.layers })),
    files: null,
  };
}

/** From catalogue.json's collection ``id`` (file paths kept for static reads). */
export function fromCatalogue(id, c) {
  const keys = Object.keys(c.dates).sort();
  return {
    id,
    title: c.title,
    description: c.description,
    crs: c.crs,
    resolution: c.resolution,
    wgs84: c.extent.wgs84,
    native: c.extent.native,
    layers: Object.entries(c.layers).map(([name, spec]) => ({ name, ...spec })),
    dates: keys.map((k) => ({
      key: k,
      start: c.dates[k].start,
      end: c.dates[k].end,
      layers: Object.keys(c.dates[k].layers),
    })),
    files: Object.fromEntries(keys.map((k) => [k, c.dates[k].layers])),
  };
}

/** The layer spec called ``name`` in ``coll`` (or undefined). */
export const spec = (coll, name) => coll.layers.find((l) => l.name === name);

/** Layers a time series makes sense for, and the uncertainty layer of each (or null). */
export function seriesLayers(coll) {
  const names = new Set(coll.layers.map((l) => l.name));
  return coll.layers
    .filter((l) => l.kind === "continuous" && !l.name.startsWith("error"))
    .map((l) => ({ name: l.name, error: names.has(`error${l.name}`) ? `error${l.name}` : null }));
}
