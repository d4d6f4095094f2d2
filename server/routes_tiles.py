"""Map endpoints: PNG tiles per layer and date, TileJSON, and WMTS with a time dimension."""

from __future__ import annotations

import asyncio
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from leafcube.catalogue import Collection, DateEntry
from leafcube.catalogue.roi import transform_bounds
from leafcube.reader import CubeFiles

from . import png, tms, wmts
from .dates import pick
from .deps import cube
from .errors import APIError
from .models import QCParam, TileJSON
from .render import render
from .static import etag_matches
from .urls import base_url

router = APIRouter(tags=["maps"])

TILE_CACHE = "public, max-age=3600"

#: Tiles render on one thread per usable core: their open datasets (and GDAL's block cache
#: entries, which belong to a dataset handle) stay few and warm, unlike in a 40-thread pool.
_POOL = ThreadPoolExecutor(len(os.sched_getaffinity(0)), thread_name_prefix="tiles")
QCQuery = Annotated[
    QCParam, Query(description="`data`: hide pixels without data; `valid`: also QC-flagged ones")
]


def _layer(coll: Collection, layer: str) -> str:
    if layer not in coll.layers:
        raise APIError(404, f"unknown layer {layer!r}; available: {list(coll.layers)}")
    return layer


def bounds_wgs84(coll: Collection) -> tuple[float, float, float, float]:
    """The collection's lon/lat extent (from the catalogue, or computed from its native one)."""
    if coll.extent_wgs84:
        return coll.extent_wgs84
    if coll.extent:
        return transform_bounds(coll.extent, coll.crs, "EPSG:4326")
    raise APIError(404, f"collection {coll.name!r} holds no data yet")


def _png(files, coll, entry, layer: str, tms_id: str, z: int, x: int, y: int, qc: str) -> bytes:
    """Render and encode one tile (runs on the tile pool)."""
    tile = render(files, coll, entry, layer, tms.TMS[tms_id], tms.TMS_CRS[tms_id], z, x, y, qc)
    return png.empty() if tile is None else png.encode(*tile)


@router.get(
    "/api/collections/{collection}/tiles/{layer}/{date}/{tms_id}/{z}/{x}/{y}.png",
    summary="A 256 px PNG map tile of one layer on one date",
    description=(
        "Colormapped with the layer's `colormap` over its `display_range`, transparent where "
        "masked. `date` is a period's key, any day inside a period, or `latest` (also the "
        "literal `{time}` QGIS sends without a time)."
    ),
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
async def tile(
    request: Request,
    collection: str,
    layer: str,
    date: str,
    tms_id: Annotated[str, Path(description=f"tile matrix set: one of {list(tms.TMS)}")],
    z: Annotated[int, Path(ge=0, le=30)],
    x: Annotated[int, Path(ge=0)],
    y: Annotated[int, Path(ge=0)],
    qc: QCQuery = "data",
) -> Response:
    c = cube(request)
    coll = c.collection(collection)
    name = _layer(coll, layer)
    entry = pick(coll, date)
    matrix_set = tms.get(tms_id)
    tms.check_tile(matrix_set, z, x, y)
    sources = [name] + ([coll.layers[name].qc_layer] if qc == "valid" else [])
    headers = {
        "cache-control": TILE_CACHE,
        "etag": source_etag(c.files, entry, sources, request.url.path, qc),
    }
    if etag_matches(request.headers.get("if-none-match", ""), headers["etag"]):
        return Response(status_code=304, headers=headers)
    body = await asyncio.get_running_loop().run_in_executor(
        _POOL, _png, c.files, coll, entry, name, tms_id, z, x, y, qc
    )
    return Response(body, media_type="image/png", headers=headers)


def source_etag(files: CubeFiles, entry: DateEntry, layers: list[str | None], *key: str) -> str:
    """A strong ETag for a tile: its URL and the size and mtime of every COG it reads from,
    so a re-ingested file changes it and a revalidation costs a few stats, not a render."""
    parts = list(key)
    for layer in layers:
        layer_files = entry.layers.get(layer) if layer else None
        if layer_files is None:
            continue
        for tile_name in sorted(layer_files.tiles):
            try:
                st = os.stat(files.gdal_path(layer_files.tiles[tile_name].href))
                parts.append(f"{st.st_size}-{st.st_mtime_ns}")
            except OSError:
                parts.append("missing")
    return '"' + hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest() + '"'


def max_zoom(coll: Collection, matrix_set) -> int:
    """The first level whose cells are no larger than the collection's pixels."""
    for z in range(matrix_set.minzoom, matrix_set.maxzoom + 1):
        if matrix_set.matrix(z).cellSize <= coll.resolution * 1.001:
            return z
    return matrix_set.maxzoom


@router.get(
    "/api/collections/{collection}/tilejson.json",
    summary="TileJSON 3.0 for one layer and date (for web maps)",
)
def tilejson(
    request: Request,
    collection: str,
    layer: Annotated[
        str | None, Query(description="a layer name; the first layer if unset")
    ] = None,
    date: Annotated[str, Query(description="a period key, a day, or `latest`")] = "latest",
    tms_id: Annotated[str, Query(alias="tms")] = "WebMercatorQuad",
    qc: QCQuery = "data",
) -> TileJSON:
    coll = cube(request).collection(collection)
    name = _layer(coll, layer or next(iter(coll.layers)))
    entry = pick(coll, date)
    matrix_set = tms.get(tms_id)
    bounds = bounds_wgs84(coll)
    zmax = max_zoom(coll, matrix_set)
    url = (
        f"{base_url(request)}/api/collections/{coll.name}/tiles/{name}/{entry.key}/"
        f"{tms_id}/{{z}}/{{x}}/{{y}}.png" + ("?qc=valid" if qc == "valid" else "")
    )
    return TileJSON(
        name=f"{coll.name} {name} {entry.key}",
        description=coll.layers[name].description,
        tiles=[url],
        minzoom=matrix_set.minzoom,
        maxzoom=zmax,
        bounds=bounds,
        center=((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(0, zmax - 4)),
    )


@router.get(
    "/api/collections/{collection}/WMTSCapabilities.xml",
    summary="OGC WMTS 1.0 capabilities: one layer per data layer, with a `time` dimension",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}},
)
def capabilities(request: Request, collection: str, qc: QCQuery = "data") -> Response:
    coll = cube(request).collection(collection)
    if not coll.dates:
        raise APIError(404, f"collection {coll.name!r} has no dates yet")
    levels = {k: max_zoom(coll, m) for k, m in tms.TMS.items()}
    xml = wmts.capabilities(coll, base_url(request), bounds_wgs84(coll), levels, qc)
    return Response(xml, media_type="application/xml", headers={"cache-control": "no-cache"})
