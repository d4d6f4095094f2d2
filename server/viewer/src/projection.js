// Native CRS <-> lon/lat for a static cube (the server does this itself in server mode).
import proj4 from "proj4";

proj4.defs(
  "EPSG:3979",
  "+proj=lcc +lat_0=49 +lon_0=-95 +lat_1=49 +lat_2=77 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs",
);

/** A proj4 definition for the EPSG codes LEAF collections use, or null. */
function define(crs) {
  if (proj4.defs(crs)) return crs;
  const m = /^EPSG:(326|327|269)(\d\d)$/.exec(crs);
  if (!m) return null;
  const zone = Number(m[2]);
  const datum = m[1] === "269" ? "+ellps=GRS80" : "+datum=WGS84";
  const south = m[1] === "327" ? " +south" : "";
  proj4.defs(crs, `+proj=utm +zone=${zone}${south} ${datum} +units=m +no_defs`);
  return crs;
}

/** Converters between ``crs`` and lon/lat, or null when the CRS is not known here. */
export function projection(crs) {
  const name = define(crs);
  if (!name) return null;
  const p = proj4(name, "EPSG:4326");
  return { toLonLat: (xy) => p.forward(xy), fromLonLat: (ll) => p.inverse(ll) };
}
