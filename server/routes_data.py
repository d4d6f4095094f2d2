"""Data endpoints: ROI subsets (GeoTIFF, NetCDF, npy) and per-date time series.

Both read through :mod:`leafcube.reader`, the pixel path the client uses too, so a
subset here equals the client's static and local reads exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeAlias, TypedDict

import numpy as np
from fastapi import APIRouter, Body, Query, Request
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from starlette.responses import Response

from leafcube.catalogue import Collection, DateEntry, query
from leafcube.catalogue.roi import WGS84, bbox_geometry, parse_roi
from leafcube.reader import GridTooLarge, LayerRead, RoiGrid, read_many, roi_grid

from .deps import cube, settings
from .encode import DN_MEDIA_TYPE, FORMATS, Stack
from .errors import APIError
from .models import QCParam, Stats, TimeSeries

router = APIRouter(tags=["data"])

Layers = Annotated[str, Query(description="comma-separated layer names, e.g. LAI,fCOVER")]
Start = Annotated[str | None, Query(description="first day, YYYY-MM-DD (inclusive)")]
End = Annotated[str | None, Query(description="last day, YYYY-MM-DD (inclusive)")]
QCQuery = Annotated[
    QCParam, Query(description="`data`: mask pixels without data; `valid`: also QC-flagged ones")
]
Format = Annotated[
    Literal["tif", "npy", "nc", "dn"],
    Query(description="GeoTIFF, NetCDF, numpy float32, or the compact `dn` encoding"),
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


@dataclass
class Plan:
    """What a data request will read: layers, periods and the ROI's grid."""

    coll: Collection
    layers: list[str]
    entries: list[DateEntry]
    grid: RoiGrid
    qc: QCParam


def _check_crs(value: str, name: str) -> str:
    try:
        CRS.from_user_input(value)
    except CRSError:
        raise APIError(400, f"{name} {value!r} is not a CRS; use e.g. EPSG:4326") from None
    return value


def _bbox(bbox: str, crs: str) -> BaseGeometry:
    parts = bbox.split(",")
    if len(parts) != 4:
        raise APIError(400, f"bbox {bbox!r} must be four numbers: minx,miny,maxx,maxy")
    geom = bbox_geometry(parts)
    if crs == WGS84 and not (geom.bounds[0] >= -180 and geom.bounds[2] <= 180):
        raise APIError(400, "bbox longitudes must lie within -180..180 (or set bbox-crs)")
    return geom


def plan(
    request: Request,
    collection: str,
    layers: str,
    start: str | None,
    end: str | None,
    geom: BaseGeometry,
    crs: str,
    qc: QCParam,
) -> Plan:
    """Check every input and the pixel budget before anything is read."""
    coll = cube(request).collection(collection)
    names = query.check_layers(coll, [n.strip() for n in layers.split(",") if n.strip()])
    entries = query.require_dates(coll, start, end)
    budget = settings(request).max_request_bytes
    per_pixel = 4 * len(entries) * len(names)
    try:
        grid = roi_grid(coll, geom, crs, max_pixels=max(1, budget // per_pixel))
    except GridTooLarge as exc:
        need = exc.width * exc.height * per_pixel / 1e6
        raise APIError(
            413,
            f"the request needs {need:.1f} MB ({exc.width} x {exc.height} pixels x "
            f"{len(entries)} dates x {len(names)} layers, float32) but the limit is "
            f"{budget / 1e6:g} MB: shrink the ROI, the date range or the layer list",
        ) from None
    return Plan(coll, names, entries, grid, qc)


def _read(request: Request, p: Plan) -> dict[str, dict[str, LayerRead]]:
    return read_many(cube(request).files, p.coll, p.entries, p.layers, p.grid, p.qc)


def _subset(request: Request, p: Plan, fmt: str) -> Response:
    stack = Stack(p.coll, p.layers, p.entries, p.grid, _read(request, p), p.qc)
    encoder, media_type = FORMATS[fmt]
    body = encoder(stack)
    headers = stack.headers()
    headers["content-disposition"] = f'attachment; filename="{p.coll.name}-subset.{fmt}"'
    return Response(body, media_type=media_type, headers=headers)


class RouteDoc(TypedDict, total=False):
    """The OpenAPI documentation arguments shared by a route's GET and POST."""

    summary: str
    description: str
    response_class: type[Response]
    responses: dict[int | str, dict[str, Any]]


SUBSET_DOC = RouteDoc(
    summary="The ROI-clipped stack (time, y, x) of each layer, on the native grid",
    description=(
        "float32 physical values, NaN outside the ROI and where there is no data. GeoTIFF: "
        "a band per (layer, date), layer-major, tagged `layer` and `date`; NetCDF: CF-1.8, a "
        "(time, y, x) variable per layer; npy: a (layer, time, y, x) array; dn: one zstd "
        "frame holding an .npy of DNs (time, y, x) per layer in its catalogue dtype, then an .npy "
        "of the mask (layer, time, y, x) packed along x (1 = masked); value = float32(DN) * "
        "float32(scale) + float32(offset), with the `X-Leafcube-Scales` and "
        "`X-Leafcube-Offsets` headers. Every format also gets `X-Leafcube-CRS`, "
        "`X-Leafcube-Transform` (a,b,c,d,e,f), `X-Leafcube-Shape`, `X-Leafcube-Layers` and "
        "`X-Leafcube-Dates` headers. Requests over the pixel budget get 413."
    ),
    response_class=Response,
    responses={
        200: {
            "content": {
                "image/tiff; application=geotiff": {},
                "application/x-netcdf": {},
                "application/x-npy": {},
                DN_MEDIA_TYPE: {},
            }
        }
    },
)


@router.get("/api/collections/{collection}/subset", **SUBSET_DOC)
def subset_get(
    request: Request,
    collection: str,
    layers: Layers,
    bbox: Annotated[str, Query(description="minx,miny,maxx,maxy in bbox-crs")],
    start: Start = None,
    end: End = None,
    bbox_crs: Annotated[str, Query(alias="bbox-crs")] = WGS84,
    format: Format = "tif",
    qc: QCQuery = "data",
) -> Response:
    crs = _check_crs(bbox_crs, "bbox-crs")
    p = plan(request, collection, layers, start, end, _bbox(bbox, crs), crs, qc)
    return _subset(request, p, format)


@router.post("/api/collections/{collection}/subset", **SUBSET_DOC)
def subset_post(
    request: Request,
    collection: str,
    layers: Layers,
    roi: GeoJSON,
    start: Start = None,
    end: End = None,
    crs: RoiCRS = WGS84,
    format: Format = "tif",
    qc: QCQuery = "data",
) -> Response:
    p = plan(request, collection, layers, start, end, parse_roi(roi), _check_crs(crs, "crs"), qc)
    return _subset(request, p, format)


#: One date's statistics: mean, std, min, max, valid and total pixel counts.
StatsRow: TypeAlias = tuple[float | None, float | None, float | None, float | None, int, int]


def _stats(read: LayerRead, total: int) -> StatsRow:
    values = read.data.compressed().astype(np.float64)
    if not values.size:
        return (None, None, None, None, 0, total)
    return (
        float(values.mean()),
        float(values.std()),
        float(values.min()),
        float(values.max()),
        int(values.size),
        total,
    )


def _series(request: Request, p: Plan) -> TimeSeries:
    reads = _read(request, p)
    total = int(p.grid.inside.sum())
    layers: dict[str, Stats] = {}
    for layer in p.layers:
        rows = [_stats(reads[layer][e.key], total) for e in p.entries]
        layers[layer] = Stats(
            mean=[r[0] for r in rows],
            std=[r[1] for r in rows],
            min=[r[2] for r in rows],
            max=[r[3] for r in rows],
            valid=[r[4] for r in rows],
            total=[r[5] for r in rows],
        )
    return TimeSeries(
        collection=p.coll.name,
        qc=p.qc,
        crs=p.coll.crs,
        pixels=total,
        dates=[e.key for e in p.entries],
        layers=layers,
    )


SERIES_DOC = RouteDoc(
    summary="Per date and layer: mean, std, min, max, valid and total pixel counts",
    description=(
        "Statistics of the ROI's pixels in physical units (QC-aware through `qc`), columnar: "
        "every list follows `dates`. Null where no pixel is valid. GET takes a point "
        "(`lon`, `lat`) or a box (`bbox`, `bbox-crs`); POST a GeoJSON polygon (in `crs`)."
    ),
)


@router.get("/api/collections/{collection}/timeseries", **SERIES_DOC)
def timeseries_get(
    request: Request,
    collection: str,
    layers: Layers,
    lon: Annotated[float | None, Query(ge=-180, le=180, description="point longitude")] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90, description="point latitude")] = None,
    bbox: Annotated[str | None, Query(description="or a box: minx,miny,maxx,maxy")] = None,
    bbox_crs: Annotated[str, Query(alias="bbox-crs")] = WGS84,
    start: Start = None,
    end: End = None,
    qc: QCQuery = "data",
) -> TimeSeries:
    if bbox is not None and lon is None and lat is None:
        crs = _check_crs(bbox_crs, "bbox-crs")
        geom = _bbox(bbox, crs)
    elif bbox is None and lon is not None and lat is not None:
        geom, crs = Point(lon, lat), WGS84
    else:
        raise APIError(400, "give either lon and lat (a point) or bbox, not both or neither")
    p = plan(request, collection, layers, start, end, geom, crs, qc)
    return _series(request, p)


@router.post("/api/collections/{collection}/timeseries", **SERIES_DOC)
def timeseries_post(
    request: Request,
    collection: str,
    layers: Layers,
    roi: GeoJSON,
    start: Start = None,
    end: End = None,
    crs: RoiCRS = WGS84,
    qc: QCQuery = "data",
) -> TimeSeries:
    p = plan(request, collection, layers, start, end, parse_roi(roi), _check_crs(crs, "crs"), qc)
    return _series(request, p)
