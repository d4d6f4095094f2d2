"""The query parameters subsets and time series share, as FastAPI dependencies (as
TiTiler's ``dependencies.py``): what to read (layers, dates, QC) and the ROI, from a bbox,
a point or a GeoJSON body, each checked once with a 400 that says what to change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Body, Query
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from leafcube.catalogue.errors import ROIError
from leafcube.catalogue.qc import DEFAULT_QC, QCFilter
from leafcube.catalogue.roi import WGS84, bbox_geometry, check_roi, parse_crs, parse_roi

from .errors import APIError

Layers = Annotated[str, Query(description="comma-separated layer names, e.g. LAI,fCOVER")]
Start = Annotated[str | None, Query(description="first day, YYYY-MM-DD (inclusive)")]
End = Annotated[str | None, Query(description="last day, YYYY-MM-DD (inclusive)")]
QCQuery = Annotated[
    QCFilter,
    Query(description="`data`: mask pixels without data; `valid`: also QC-flagged ones"),
]
RoiCRS = Annotated[
    str,
    Query(description="CRS of the body's coordinates (default lon/lat), e.g. EPSG:3979"),
]
GeoJSON = Annotated[
    dict[str, Any],
    Body(
        description="a GeoJSON geometry, Feature or FeatureCollection, in `crs` (lon/lat by "
        "default)",
        examples=[
            {
                "type": "Polygon",
                "coordinates": [[[-95.1, 49.1], [-95.0, 49.1], [-95.0, 49.2], [-95.1, 49.1]]],
            }
        ],
    ),
]


BBoxCRS = Annotated[str, Query(alias="bbox-crs", description="CRS of bbox (default lon/lat)")]


@dataclass(frozen=True)
class DataParams:
    """What a data request reads: layer names, date range and QC filter."""

    layers: list[str]
    start: str | None
    end: str | None
    qc: QCFilter


@dataclass(frozen=True)
class Roi:
    """A request's region of interest and the CRS of its coordinates."""

    geom: BaseGeometry
    crs: str


def data_params(
    layers: Layers, start: Start = None, end: End = None, qc: QCQuery = DEFAULT_QC
) -> DataParams:
    """``layers``, ``start``, ``end`` and ``qc`` of any subset or time series."""
    return DataParams([n.strip() for n in layers.split(",") if n.strip()], start, end, qc)


def _check_crs(value: str, name: str) -> str:
    try:
        parse_crs(value)
    except ROIError as exc:
        raise APIError(400, f"{name} {exc}") from None
    return value


def _bbox(bbox: str, crs: str) -> BaseGeometry:
    parts = bbox.split(",")
    if len(parts) != 4:
        raise APIError(400, f"bbox {bbox[:200]!r} must be four numbers: minx,miny,maxx,maxy")
    return check_roi(bbox_geometry(parts), crs)


def bbox_roi(
    bbox: Annotated[str, Query(description="minx,miny,maxx,maxy in bbox-crs")],
    bbox_crs: BBoxCRS = WGS84,
) -> Roi:
    """The ROI of a GET subset: a box."""
    crs = _check_crs(bbox_crs, "bbox-crs")
    return Roi(_bbox(bbox, crs), crs)


def point_or_bbox_roi(
    lon: Annotated[
        float | None, Query(ge=-180, le=180, allow_inf_nan=False, description="point longitude")
    ] = None,
    lat: Annotated[
        float | None, Query(ge=-90, le=90, allow_inf_nan=False, description="point latitude")
    ] = None,
    bbox: Annotated[str | None, Query(description="or a box: minx,miny,maxx,maxy")] = None,
    bbox_crs: BBoxCRS = WGS84,
) -> Roi:
    """The ROI of a GET time series: a point (``lon``, ``lat``) or a box."""
    if bbox is not None and lon is None and lat is None:
        crs = _check_crs(bbox_crs, "bbox-crs")
        return Roi(_bbox(bbox, crs), crs)
    if bbox is None and lon is not None and lat is not None:
        return Roi(Point(lon, lat), WGS84)
    raise APIError(400, "give either lon and lat (a point) or bbox, not both or neither")


def body_roi(roi: GeoJSON, crs: RoiCRS = WGS84) -> Roi:
    """The ROI of a POST: a GeoJSON body in ``crs``, bounded before anything else."""
    crs = _check_crs(crs, "crs")
    return Roi(parse_roi(roi, crs), crs)
