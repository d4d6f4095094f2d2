"""Regions of interest: GeoJSON, bbox or shapely geometry in, a clean geometry out.

Every part of leafcube parses ROIs here, so the server and the clients agree on
what a polygon covers. Fetching a URL is the caller's job (no HTTP here).

Every ROI is also bounded here, before any reprojection, densification or pixel work
(see docs/security.md): finite coordinates in the range of its CRS, at most
:data:`MAX_VERTICES` vertices, geometric repairs only for small geometries, and a
densified outline of at most :data:`MAX_OUTLINE_DEGREES`. CRS strings are bounded too.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import orjson
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import GeometryCollection, box, shape
from shapely.geometry.base import BaseGeometry

from .errors import ROIError

WGS84 = "EPSG:4326"
ROILike: TypeAlias = BaseGeometry | dict[str, Any] | str | os.PathLike[str] | Sequence[float]

#: Vertices an ROI may have in all (a detailed province outline needs a few thousand).
MAX_VERTICES = 10_000
#: Largest ROI whose self-intersections are repaired, or whose features are merged:
#: overlay work grows with the square of the crossings (1,000 random vertices: 13 min).
MAX_REPAIR_VERTICES = 100
#: Features a FeatureCollection may hold.
MAX_FEATURES = 1_000
#: Geographic ROIs are densified every DENSIFY_DEGREES before reprojection; their outline
#: may be this long in all (the whole globe's box is 1,080 degrees), which bounds the
#: densified vertices to some 250,000.
DENSIFY_DEGREES = 0.01
MAX_OUTLINE_DEGREES = 2_500.0
#: Coordinates of a projected CRS lie within this many of its units of its origin
#: (Earth's circumference is 4e7 m; it keeps pixel grids within integer range).
MAX_PROJECTED = 1e8
#: A CRS string (EPSG code, PROJ string, WKT or PROJJSON) is at most this long and nested.
MAX_CRS_CHARS = 8_192
MAX_CRS_DEPTH = 16


def _features(doc: dict[str, Any]) -> list[Any]:
    """The members of a FeatureCollection, bounded in number."""
    feats = doc.get("features")
    if not isinstance(feats, list) or not feats:
        raise ROIError("the FeatureCollection has no features")
    if len(feats) > MAX_FEATURES:
        raise ROIError(
            f"the FeatureCollection has {len(feats)} features; at most {MAX_FEATURES} "
            "are allowed: merge them first"
        )
    return feats


def _feature_geometry(doc: Any) -> dict[str, Any]:
    """The geometry object of a collection's member: a Feature, or a bare geometry."""
    if not isinstance(doc, dict) or doc.get("type") == "FeatureCollection":
        raise ROIError("every member of a FeatureCollection must be a GeoJSON Feature")
    if doc.get("type") != "Feature":
        return doc
    if not isinstance(doc.get("geometry"), dict):
        raise ROIError("the Feature has no geometry")
    return doc["geometry"]


def _geometry(doc: dict[str, Any]) -> BaseGeometry:
    """A shapely geometry from a GeoJSON geometry object (nothing repaired yet)."""
    kind = doc.get("type")
    if kind in ("Feature", "FeatureCollection"):
        raise ROIError(f"a {kind} cannot stand where a geometry is expected")
    try:
        return shape(doc)
    except Exception as exc:  # shapely raises several types for broken coordinates
        raise ROIError(f"not a valid GeoJSON geometry ({kind}): {str(exc)[:200]}") from None


def _parts(doc: Any) -> list[BaseGeometry]:
    """The geometries of a GeoJSON geometry, Feature or FeatureCollection."""
    if not isinstance(doc, dict) or "type" not in doc:
        raise ROIError("GeoJSON must be an object with a 'type' member")
    kind = doc["type"]
    if kind == "FeatureCollection":
        return [_geometry(_feature_geometry(f)) for f in _features(doc)]
    if kind == "Feature":
        if not isinstance(doc.get("geometry"), dict):
            raise ROIError("the Feature has no geometry")
        return [_geometry(doc["geometry"])]
    return [_geometry(doc)]


def _from_geojson(doc: Any) -> BaseGeometry:
    """One geometry from GeoJSON: several features are merged (when small) after bounding."""
    parts = _parts(doc)
    check_vertices(GeometryCollection(parts))
    if len(parts) == 1:
        return parts[0]
    parts = [clean(p) for p in parts]
    if sum(shapely.get_num_coordinates(p) for p in parts) <= MAX_REPAIR_VERTICES:
        return shapely.union_all(parts)
    # Larger collections are kept as they are: a pixel in any feature is in the ROI,
    # exactly as in their union, without the overlay work a union costs.
    return GeometryCollection(parts)


def _from_text(text: str) -> BaseGeometry:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            return _from_geojson(orjson.loads(stripped))
        except orjson.JSONDecodeError as exc:
            raise ROIError(f"the ROI is not valid JSON: {exc}") from None
    path = Path(text)
    if not path.is_file():
        raise ROIError(f"the ROI {text[:200]!r} is neither GeoJSON text nor an existing file")
    return _from_text(path.read_text())


def parse_roi(roi: ROILike, crs: str | None = None) -> BaseGeometry:
    """Turn an ROI into a valid shapely geometry, in the coordinates it was given in.

    Accepts a GeoJSON dict (geometry, Feature or FeatureCollection), GeoJSON text,
    a path to a GeoJSON file, a shapely geometry, or a bbox ``(minx, miny, maxx, maxy)``.
    With ``crs``, the coordinates are also range-checked for it (:func:`check_roi`).
    Raises :class:`ROIError` with a message that says what to fix.
    """
    if isinstance(roi, BaseGeometry):
        geom = roi
    elif isinstance(roi, dict):
        geom = _from_geojson(roi)
    elif isinstance(roi, os.PathLike):
        geom = _from_text(os.fspath(roi))
    elif isinstance(roi, str):
        geom = _from_text(roi)
    elif isinstance(roi, Sequence) and len(roi) == 4:
        geom = bbox_geometry(roi)
    else:
        raise ROIError("the ROI must be GeoJSON, a file path, a shapely geometry or a bbox")
    check_vertices(geom)
    if crs is not None:
        check_roi(geom, crs)
    return clean(geom)


def bbox_geometry(bbox: Sequence[float | str]) -> BaseGeometry:
    """A rectangle from ``(minx, miny, maxx, maxy)`` (numbers, or strings of numbers); raises
    ROIError when they are not finite numbers, inverted or empty."""
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ROIError("a bbox is four numbers: minx,miny,maxx,maxy") from None
    if not np.isfinite([minx, miny, maxx, maxy]).all():
        raise ROIError(f"bbox {list(bbox)} has a value that is not a finite number")
    if not (minx < maxx and miny < maxy):
        raise ROIError(f"bbox {list(bbox)} is empty: it needs minx < maxx and miny < maxy")
    return box(minx, miny, maxx, maxy)


def check_vertices(geom: BaseGeometry) -> None:
    """Refuse an ROI with too many vertices or a non-finite one (NaN, Infinity), cheaply."""
    n = int(shapely.get_num_coordinates(geom))
    if n > MAX_VERTICES:
        raise ROIError(
            f"the ROI has {n} vertices; at most {MAX_VERTICES} are allowed: simplify it "
            "(e.g. shapely's simplify(), ogr2ogr -simplify)"
        )
    if not bool(np.isfinite(shapely.get_coordinates(geom)).all()):
        raise ROIError("the ROI has coordinates that are not finite numbers (NaN or Infinity)")


def check_roi(geom: BaseGeometry, crs: str) -> BaseGeometry:
    """Refuse an ROI whose coordinates are out of range for ``crs`` or whose densified
    outline would be too long; cheap (linear in its vertices), so it runs before any
    reprojection or pixel work. Returns ``geom``."""
    check_vertices(geom)
    xy = shapely.get_coordinates(geom)
    if not len(xy):
        raise ROIError("the ROI geometry is empty")
    if parse_crs(crs).is_geographic:
        _check_lonlat(xy)
        outline = float(shapely.length(geom))
        if outline > MAX_OUTLINE_DEGREES:
            raise ROIError(
                f"the ROI's outline is {outline:.0f} degrees long; at most "
                f"{MAX_OUTLINE_DEGREES:.0f} are allowed: use a smaller ROI or split it"
            )
    elif float(np.abs(xy).max()) > MAX_PROJECTED:
        raise ROIError(
            f"the ROI has coordinates beyond ±{MAX_PROJECTED:.0e} units of {crs[:80]}'s origin: "
            "check the CRS (set bbox-crs or crs) and the order of the numbers"
        )
    return geom


def _check_lonlat(xy: np.ndarray) -> None:
    """Longitudes within -180..180 and latitudes within -90..90 (x, y order)."""
    lon, lat = xy[:, 0], xy[:, 1]
    if lon.min() < -180 or lon.max() > 180:
        raise ROIError(
            f"ROI longitudes must lie within -180..180 (got {lon.min():g}..{lon.max():g}); "
            "give lon,lat in that order, or set bbox-crs/crs for projected coordinates"
        )
    if lat.min() < -90 or lat.max() > 90:
        raise ROIError(
            f"ROI latitudes must lie within -90..90 (got {lat.min():g}..{lat.max():g}); "
            "give lon,lat in that order, or set bbox-crs/crs for projected coordinates"
        )


def _nesting(text: str) -> int:
    """How deeply brackets nest in ``text`` (PROJJSON objects, WKT nodes)."""
    depth = deepest = 0
    for ch in text:
        if ch in "{[(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "}])":
            depth -= 1
    return deepest


@lru_cache(maxsize=256)
def parse_crs(value: str) -> CRS:
    """A CRS from an EPSG code, PROJ string, WKT or PROJJSON, bounded in length and nesting
    (pyproj recurses on deep JSON); raises ROIError that says what to give instead."""
    shown = value if len(value) <= 80 else value[:77] + "..."
    if len(value) > MAX_CRS_CHARS or _nesting(value) > MAX_CRS_DEPTH:
        raise ROIError(
            f"{shown!r} is too long or too deeply nested for a CRS (at most "
            f"{MAX_CRS_CHARS} characters, {MAX_CRS_DEPTH} levels); use e.g. EPSG:3979"
        )
    try:
        return CRS.from_user_input(value)
    except Exception:  # CRSError, and whatever a hostile string makes pyproj raise
        raise ROIError(f"{shown!r} is not a CRS; use e.g. EPSG:4326") from None


def clean(geom: BaseGeometry) -> BaseGeometry:
    """Repair self-intersections (of small geometries only) and reject empty or non-finite
    ones."""
    if geom.is_empty:
        raise ROIError("the ROI geometry is empty")
    check_vertices(geom)
    if not shapely.is_valid(geom):
        n = int(shapely.get_num_coordinates(geom))
        if n > MAX_REPAIR_VERTICES:
            raise ROIError(
                f"the ROI is not a valid geometry ({shapely.is_valid_reason(geom)}) and has "
                f"{n} vertices; leafcube repairs only up to {MAX_REPAIR_VERTICES}: repair it "
                "first (e.g. shapely.make_valid, ogr2ogr -makevalid, QGIS 'Fix geometries')"
            )
        geom = shapely.make_valid(geom)
    coords = shapely.get_coordinates(geom)
    if not len(coords) or not bool(np.isfinite(coords).all()):
        raise ROIError("the ROI has non-finite coordinates")
    return geom


def has_area(geom: BaseGeometry) -> bool:
    """True for polygons and multipolygons (what a subset or a zonal statistic needs)."""
    return geom.area > 0


@lru_cache(maxsize=64)
def transformer(src: str, dst: str) -> Transformer:
    """A cached, axis-order-safe (x, y) transformer; building one costs milliseconds."""
    return Transformer.from_crs(parse_crs(src), parse_crs(dst), always_xy=True)


def reproject(geom: BaseGeometry, src: str, dst: str) -> BaseGeometry:
    """Reproject a geometry; long edges are densified first so they stay straight lines.

    The ROI is bounded first (:func:`check_roi`), so densification stays small.
    """
    if parse_crs(src) == parse_crs(dst):
        return geom
    check_roi(geom, src)
    t = transformer(src, dst)
    if src == WGS84 or parse_crs(src).is_geographic:
        geom = shapely.segmentize(geom, DENSIFY_DEGREES)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def transform_bounds(bounds: tuple[float, float, float, float], src: str, dst: str):
    """Bounds of a box after reprojection (edges densified, so the result contains it)."""
    return tuple(transformer(src, dst).transform_bounds(*bounds, densify_pts=21))
