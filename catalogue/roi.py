"""Regions of interest: GeoJSON, bbox or shapely geometry in, a clean geometry out.

Every part of leafcube parses ROIs here, so the server and the clients agree on
what a polygon covers. Fetching a URL is the caller's job (no HTTP here).
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
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from .errors import ROIError

WGS84 = "EPSG:4326"
ROILike: TypeAlias = BaseGeometry | dict[str, Any] | str | os.PathLike[str] | Sequence[float]


def _from_geojson(doc: Any) -> BaseGeometry:
    if not isinstance(doc, dict) or "type" not in doc:
        raise ROIError("GeoJSON must be an object with a 'type' member")
    kind = doc["type"]
    if kind == "FeatureCollection":
        feats = doc.get("features")
        if not isinstance(feats, list) or not feats:
            raise ROIError("the FeatureCollection has no features")
        return shapely.union_all([_from_geojson(f) for f in feats])
    if kind == "Feature":
        if not isinstance(doc.get("geometry"), dict):
            raise ROIError("the Feature has no geometry")
        return _from_geojson(doc["geometry"])
    try:
        return shape(doc)
    except Exception as exc:  # shapely raises several types for broken coordinates
        raise ROIError(f"not a valid GeoJSON geometry ({kind}): {exc}") from None


def _from_text(text: str) -> BaseGeometry:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            return _from_geojson(orjson.loads(stripped))
        except orjson.JSONDecodeError as exc:
            raise ROIError(f"the ROI is not valid JSON: {exc}") from None
    path = Path(text)
    if not path.is_file():
        raise ROIError(f"the ROI {text!r} is neither GeoJSON text nor an existing file")
    return _from_text(path.read_text())


def parse_roi(roi: ROILike) -> BaseGeometry:
    """Turn an ROI into a valid shapely geometry, in the coordinates it was given in.

    Accepts a GeoJSON dict (geometry, Feature or FeatureCollection), GeoJSON text,
    a path to a GeoJSON file, a shapely geometry, or a bbox ``(minx, miny, maxx, maxy)``.
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
    return clean(geom)


def bbox_geometry(bbox: Sequence[float | str]) -> BaseGeometry:
    """A rectangle from ``(minx, miny, maxx, maxy)`` (numbers, or strings of numbers); raises
    ROIError when they are not numbers, inverted or empty."""
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ROIError("a bbox is four numbers: minx,miny,maxx,maxy") from None
    if not (minx < maxx and miny < maxy):
        raise ROIError(f"bbox {list(bbox)} is empty: it needs minx < maxx and miny < maxy")
    return box(minx, miny, maxx, maxy)


def clean(geom: BaseGeometry) -> BaseGeometry:
    """Repair self-intersections and reject empty or non-finite geometries."""
    if geom.is_empty:
        raise ROIError("the ROI geometry is empty")
    if not shapely.is_valid(geom):
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
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def reproject(geom: BaseGeometry, src: str, dst: str) -> BaseGeometry:
    """Reproject a geometry; long edges are densified first so they stay straight lines."""
    if CRS.from_user_input(src) == CRS.from_user_input(dst):
        return geom
    t = transformer(src, dst)
    if src == WGS84 or CRS.from_user_input(src).is_geographic:
        geom = shapely.segmentize(geom, 0.01)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def transform_bounds(bounds: tuple[float, float, float, float], src: str, dst: str):
    """Bounds of a box after reprojection (edges densified, so the result contains it)."""
    return tuple(transformer(src, dst).transform_bounds(*bounds, densify_pts=21))
