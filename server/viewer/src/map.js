// The MapLibre map: an optional base map, the cube's extent, its layer and the ROI.
import * as maplibregl from "maplibre-gl";
import workerCode from "maplibre-worker-code";

maplibregl.setWorkerUrl(URL.createObjectURL(new Blob([workerCode], { type: "text/javascript" })));

const EMPTY = { type: "FeatureCollection", features: [] };

/** A map with no internet needs: a plain background, unless ``basemap`` (an XYZ URL) is set. */
export function createMap(container, basemap) {
  const sources = {};
  const layers = [{ id: "background", type: "background", paint: { "background-color": "#e8ebe6" } }];
  if (basemap) {
    sources.basemap = { type: "raster", tiles: [basemap], tileSize: 256 };
    layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  const map = new maplibregl.Map({
    container,
    style: { version: 8, sources, layers },
    attributionControl: false,
    canvasContextAttributes: { preserveDrawingBuffer: true, antialias: false },
    fadeDuration: 0,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.addControl(new maplibregl.ScaleControl(), "bottom-right");
  return map;
}

/** Resolves once the map is idle with every tile of every source loaded. */
export function whenIdle(map) {
  return new Promise((resolve) => {
    const check = () => {
      if (map.loaded() && map.areTilesLoaded()) resolve();
      else map.once("idle", check);
    };
    map.once("idle", check);
    map.triggerRepaint();
  });
}

/** Add the extent outline and the ROI layers (once, after the style loaded). */
export function addOverlays(map) {
  map.addSource("extent", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "extent", type: "line", source: "extent", paint: { "line-color": "#444", "line-width": 1.5, "line-dasharray": [2, 2] } });
  map.addSource("roi", { type: "geojson", data: EMPTY });
  map.addLayer({ id: "roi-fill", type: "fill", source: "roi", filter: ["==", "$type", "Polygon"], paint: { "fill-color": "#d7301f", "fill-opacity": 0.15 } });
  map.addLayer({ id: "roi-line", type: "line", source: "roi", filter: ["!=", "$type", "Point"], paint: { "line-color": "#d7301f", "line-width": 2 } });
  map.addLayer({ id: "roi-point", type: "circle", source: "roi", filter: ["==", "$type", "Point"], paint: { "circle-radius": 5, "circle-color": "#d7301f", "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
}

/** Outline a lon/lat box on the map. */
export function showExtent(map, [w, s, e, n]) {
  const ring = [[w, s], [e, s], [e, n], [w, n], [w, s]];
  map.getSource("extent").setData({ type: "Feature", geometry: { type: "Polygon", coordinates: [ring] }, properties: {} });
}

/** Show the ROI (a GeoJSON geometry), a drawing in progress (a list of vertices), or nothing. */
export function showRoi(map, roi, draft) {
  const features = [];
  if (roi) features.push({ type: "Feature", geometry: roi, properties: {} });
  if (draft?.length) {
    features.push({ type: "Feature", geometry: { type: "LineString", coordinates: draft }, properties: {} });
    for (const v of draft) features.push({ type: "Feature", geometry: { type: "Point", coordinates: v }, properties: {} });
  }
  map.getSource("roi").setData({ type: "FeatureCollection", features });
}

/** Show XYZ tiles of the cube's layer (server mode), below the overlays. */
export function showTiles(map, tiles) {
  const src = map.getSource("cube");
  if (src) {
    src.setTiles([tiles.url]);
    return;
  }
  map.addSource("cube", { type: "raster", tiles: [tiles.url], tileSize: 256, minzoom: tiles.minzoom, maxzoom: tiles.maxzoom, bounds: tiles.bounds });
  map.addLayer({ id: "cube", type: "raster", source: "cube", paint: { "raster-resampling": "nearest", "raster-fade-duration": 0 } }, "extent");
}

/** Show canvases painted in the browser (static mode), one image source each. */
export function showImages(map, images) {
  let i = 0;
  for (; i < images.length; i++) {
    const id = `static-${i}`;
    const url = images[i].canvas.toDataURL("image/png");
    const src = map.getSource(id);
    if (src) src.updateImage({ url, coordinates: images[i].corners });
    else {
      map.addSource(id, { type: "image", url, coordinates: images[i].corners });
      map.addLayer({ id, type: "raster", source: id, paint: { "raster-resampling": "nearest", "raster-fade-duration": 0 } }, "extent");
    }
  }
  for (; map.getSource(`static-${i}`); i++) {
    map.removeLayer(`static-${i}`);
    map.removeSource(`static-${i}`);
  }
}
