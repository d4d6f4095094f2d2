"""Data endpoints: ROI subsets (GeoTIFF, NetCDF, npy) and per-date time series.

Both read through :mod:`leafcube.reader`, the pixel path the client uses too, so a
subset here equals the client's static and local reads exactly.

Each request is bounded before it reads (the pixel budget and ``--max-reads``), its
reads are one ticket on the reader's lanes (served in turn with other requests'), and
they are cancelled when the client goes away or after ``--read-deadline`` seconds.
While it is read and encoded a request holds its answer's bytes in the worker's
:class:`~.admission.Admission`, so concurrent large requests wait rather than pile up in
memory. Planning and encoding run in the threadpool; the event loop only waits.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from leafcube.catalogue import Collection, DateEntry, query
from leafcube.catalogue.qc import QCFilter
from leafcube.reader import GridTooLarge, LayerRead, RoiGrid, roi_grid
from leafcube.reader.reader import ReadCounts
from leafcube.reader.stats import layer_stats

from .admission import ANSWER_OVERHEAD
from .config import DEFAULT_MAX_READS, DEFAULT_READ_DEADLINE_S
from .dependencies import (
    DataParams,
    Roi,
    bbox_roi,
    body_roi,
    data_params,
    point_or_bbox_roi,
)
from .encode import DN_MEDIA_TYPE, FORMATS, Subset
from .errors import APIError
from .models import Stats, TimeSeries
from .state import admission, cube, reader, settings

T = TypeVar("T")

router = APIRouter(tags=["data"])

#: Status of a request whose client left before it was answered (nginx's): never sent.
CLIENT_GONE = 499

Params = Annotated[DataParams, Depends(data_params)]
BBoxRoi = Annotated[Roi, Depends(bbox_roi)]
PointOrBBoxRoi = Annotated[Roi, Depends(point_or_bbox_roi)]
BodyRoi = Annotated[Roi, Depends(body_roi)]
Format = Annotated[
    Literal["tif", "npy", "nc", "dn"],
    Query(description="GeoTIFF, NetCDF, numpy float32, or the compact `dn` encoding"),
]


@dataclass
class DataRequest:
    """What a data request will read: layers, periods and the ROI's grid."""

    coll: Collection
    layers: list[str]
    entries: list[DateEntry]
    grid: RoiGrid
    qc: QCFilter

    @property
    def answer_bytes(self) -> int:
        """Its values' float32 bytes: what the pixel budget bounds."""
        height, width = self.grid.shape
        return height * width * _bytes_per_pixel(len(self.entries), len(self.layers))


def _bytes_per_pixel(dates: int, layers: int) -> int:
    """Bytes of a request's float32 answer per ROI pixel."""
    return 4 * dates * layers


def plan(request: Request, collection: str, params: DataParams, roi: Roi) -> DataRequest:
    """Check every input and the pixel budget before anything is read; only the catalogue
    parts the date range touches are loaded."""
    served = cube(request)
    root = served.collection(collection)
    names = query.check_layers(root, params.layers)
    twice = sorted(n for n, k in Counter(names).items() if k > 1)
    if twice:
        raise APIError(400, f"layer(s) {twice} named more than once: name each layer once")
    coll = served.between(root, params.start, params.end)
    entries = query.require_dates(coll, params.start, params.end)
    limits = settings(request)
    if len(names) * len(entries) > limits.max_reads:
        raise APIError(
            413,
            f"the request reads {len(names)} layers x {len(entries)} dates = "
            f"{len(names) * len(entries)} (layer, date) pairs but the limit is "
            f"{limits.max_reads}: split the date range or the layer list",
        )
    budget = limits.max_request_bytes
    per_pixel = _bytes_per_pixel(len(entries), len(names))
    try:
        grid = roi_grid(coll, roi.geom, roi.crs, max_pixels=max(1, budget // per_pixel))
    except GridTooLarge as exc:
        need = exc.width * exc.height * per_pixel / 1e6
        raise APIError(
            413,
            f"the request needs {need:.1f} MB ({exc.width} x {exc.height} pixels x "
            f"{len(entries)} dates x {len(names)} layers, float32) but the limit is "
            f"{budget / 1e6:g} MB: shrink the ROI, the date range or the layer list",
        ) from None
    return DataRequest(coll, names, entries, grid, params.qc)


async def _disconnected(request: Request) -> None:
    """Return once the client has gone (the server's ``http.disconnect``, which granian
    sends for a closed HTTP/1.1 connection and a reset HTTP/2 stream)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass  # the request's (already read) body


@dataclass
class Watch:
    """A request's end conditions: its client leaving (one watcher of ``http.disconnect``
    for the request's life) and the loop time its work must end by."""

    gone: asyncio.Future[None]
    deadline: float

    async def until(self, fut: asyncio.Future[T], late: str) -> T:
        """``fut``'s result, unless the client leaves first (499, never sent) or the
        deadline passes (503 saying ``late``); ``fut`` is then cancelled."""
        timeout = max(0.0, self.deadline - asyncio.get_running_loop().time())
        either: set[asyncio.Future[Any]] = {fut, self.gone}
        await asyncio.wait(either, timeout=timeout, return_when="FIRST_COMPLETED")
        if fut.done():  # done, even as the client left or the clock ran out: its outcome
            return fut.result()
        fut.cancel()
        if self.gone.done():
            raise APIError(CLIENT_GONE, "the client closed the request")
        raise APIError(503, late, headers={"retry-after": "5"})


@asynccontextmanager
async def _admitted(request: Request, p: DataRequest) -> AsyncIterator[Watch]:
    """Hold the request's bytes in the worker's :class:`~.admission.Admission` while it is
    read and encoded; its reads must end the read deadline (``--read-deadline``) after it
    arrived, its wait for admission included."""
    loop = asyncio.get_running_loop()
    seconds = settings(request).read_deadline_s
    watch = Watch(asyncio.ensure_future(_disconnected(request)), loop.time() + seconds)
    room, cost = admission(request), p.answer_bytes * ANSWER_OVERHEAD
    try:
        busy = f"the server had no room for the request within {seconds:g} s: retry later"
        await watch.until(asyncio.ensure_future(room.acquire(cost)), busy)
        try:
            yield watch
        finally:
            room.release(cost)
    finally:
        watch.gone.cancel()


async def _read(request: Request, p: DataRequest, watch: Watch) -> dict[str, dict[str, LayerRead]]:
    """The request's reads, awaited on one ticket of the reader's lanes; cancelled when
    the client leaves (499, never sent) or at the deadline (503)."""
    batch = reader(request).start_many(
        cube(request).files, p.coll, p.entries, p.layers, p.grid, p.qc
    )
    late = (
        f"the request's {len(batch)} reads took longer than "
        f"{settings(request).read_deadline_s:g} s (the server is busy or the request is "
        "large): retry later, or ask for fewer dates or layers"
    )
    try:
        await watch.until(asyncio.wrap_future(batch.finished), late)
    except BaseException:
        batch.cancel()
        raise
    return batch.result()


async def _plan(request: Request, collection: str, params: DataParams, roi: Roi) -> DataRequest:
    """:func:`plan` in the threadpool: gridding a large ROI is CPU work."""
    return await run_in_threadpool(plan, request, collection, params, roi)


def _encode(p: DataRequest, reads: dict[str, dict[str, LayerRead]], fmt: str) -> Response:
    stack = Subset(p.coll, p.layers, p.entries, p.grid, reads, p.qc)
    encoder, media_type = FORMATS[fmt]
    body = encoder(stack)
    headers = stack.headers()
    headers["content-disposition"] = f'attachment; filename="{p.coll.name}-subset.{fmt}"'
    return Response(body, media_type=media_type, headers=headers)


async def _subset(request: Request, p: DataRequest, fmt: str) -> Response:
    async with _admitted(request, p) as watch:
        return await run_in_threadpool(_encode, p, await _read(request, p, watch), fmt)


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
        "`X-Leafcube-Dates` headers. Requests over the pixel budget or over (by default) "
        f"{DEFAULT_MAX_READS} (layer, date) pairs (`--max-reads`) get 413; reads not done "
        f"within {DEFAULT_READ_DEADLINE_S:g} s (`--read-deadline`) get 503."
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
async def subset_get(
    request: Request, collection: str, params: Params, roi: BBoxRoi, format: Format = "tif"
) -> Response:
    return await _subset(request, await _plan(request, collection, params, roi), format)


@router.post("/api/collections/{collection}/subset", **SUBSET_DOC)
async def subset_post(
    request: Request, collection: str, params: Params, roi: BodyRoi, format: Format = "tif"
) -> Response:
    return await _subset(request, await _plan(request, collection, params, roi), format)


def _nullable(rows: list[dict[str, float | int]], column: str) -> list[float | None]:
    """A statistic per date; JSON has no NaN, so a date without a valid pixel gives null."""
    return [None if math.isnan(r[column]) else float(r[column]) for r in rows]


def _stats(p: DataRequest, reads: dict[str, dict[str, LayerRead]]) -> TimeSeries:
    total = int(p.grid.inside.sum())
    layers: dict[str, Stats] = {}
    for layer in p.layers:
        rows = [layer_stats(reads[layer][e.key].data, total) for e in p.entries]
        layers[layer] = Stats(
            mean=_nullable(rows, "mean"),
            std=_nullable(rows, "std"),
            min=_nullable(rows, "min"),
            max=_nullable(rows, "max"),
            valid=[int(r["valid"]) for r in rows],
            total=[int(r["total"]) for r in rows],
        )
    return TimeSeries(
        collection=p.coll.name,
        qc=p.qc,
        crs=p.coll.crs,
        pixels=total,
        dates=[e.key for e in p.entries],
        layers=layers,
    )


async def _series(request: Request, p: DataRequest) -> TimeSeries:
    async with _admitted(request, p) as watch:
        return await run_in_threadpool(_stats, p, await _read(request, p, watch))


SERIES_DOC = RouteDoc(
    summary="Per date and layer: mean, std, min, max, valid and total pixel counts",
    description=(
        "Statistics of the ROI's pixels in physical units (QC-aware through `qc`), columnar: "
        "every list follows `dates`. Null where no pixel is valid. GET takes a point "
        "(`lon`, `lat`) or a box (`bbox`, `bbox-crs`); POST a GeoJSON polygon (in `crs`). "
        f"At most {DEFAULT_MAX_READS} (layer, date) pairs by default (`--max-reads`; 413 "
        f"beyond); reads not done within {DEFAULT_READ_DEADLINE_S:g} s (`--read-deadline`) "
        "get 503."
    ),
)


@router.get("/api/collections/{collection}/timeseries", **SERIES_DOC)
async def timeseries_get(
    request: Request, collection: str, params: Params, roi: PointOrBBoxRoi
) -> TimeSeries:
    return await _series(request, await _plan(request, collection, params, roi))


@router.post("/api/collections/{collection}/timeseries", **SERIES_DOC)
async def timeseries_post(
    request: Request, collection: str, params: Params, roi: BodyRoi
) -> TimeSeries:
    return await _series(request, await _plan(request, collection, params, roi))


@router.get(
    "/api/reads",
    summary="This worker's reads: queued and running now, done, failed and cancelled so far",
    description=(
        "Counts of the (layer, date) reads of subsets and time series on the worker that "
        "answers, for monitoring (and the tests that check a departed client's reads are "
        "cancelled). Tiles are not counted."
    ),
)
def reads(request: Request) -> ReadCounts:
    return reader(request).counts()
