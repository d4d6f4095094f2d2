"""Map endpoints: PNG tiles per layer and date, TileJSON, and WMTS with a time dimension."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from leafcube.catalogue import Collection, query
from leafcube.catalogue.qc import DEFAULT_QC

from . import tms, wmts
from .dates import pick
from .dependencies import QCQuery
from .errors import APIError
from .models import TileJSON
from .state import cube, reader
from .static import etag_matches
from .tiling import bounds_wgs84, max_zoom, source_etag, tile_png
from .urls import base_url

router = APIRouter(tags=["maps"])

TILE_CACHE = "public, max-age=3600"


def _layer(coll: Collection, layer: str) -> str:
    if layer not in coll.layers:
        raise APIError(404, f"unknown layer {layer!r}; available: {list(coll.layers)}")
    return layer


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
    qc: QCQuery = DEFAULT_QC,
) -> Response:
    c = cube(request)
    coll = c.collection(collection)
    name = _layer(coll, layer)
    entry = pick(c, coll, date)
    matrix_set = tms.get(tms_id)
    tms.check_tile(matrix_set, z, x, y)
    sources = [name] + ([coll.layers[name].qc_layer] if qc == "valid" else [])
    headers = {
        "cache-control": TILE_CACHE,
        "etag": source_etag(c.files, entry, sources, request.url.path, qc),
    }
    if etag_matches(request.headers.get("if-none-match", ""), headers["etag"]):
        return Response(status_code=304, headers=headers)
    body = await asyncio.wrap_future(
        reader(request).submit_any(tile_png, c.files, coll, entry, name, tms_id, z, x, y, qc)
    )
    return Response(body, media_type="image/png", headers=headers)


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
    qc: QCQuery = DEFAULT_QC,
) -> TileJSON:
    c = cube(request)
    coll = c.collection(collection)
    name = _layer(coll, layer or next(iter(coll.layers)))
    entry = pick(c, coll, date)
    matrix_set = tms.get(tms_id)
    bounds = bounds_wgs84(coll)
    zmax = max_zoom(coll, matrix_set)
    url = (
        f"{base_url(request)}/api/collections/{coll.name}/tiles/{name}/{entry.key}/"
        f"{tms_id}/{{z}}/{{x}}/{{y}}.png" + ("" if qc == DEFAULT_QC else f"?qc={qc}")
    )
    return TileJSON(
        name=f"{coll.name} {name} {entry.key}",
        description=coll.layers[name].description,
        tiles=[url],
        minzoom=matrix_set.minzoom,
        maxzoom=zmax,
        bounds=list(bounds),
        center=[(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(0, zmax - 4)],
    )


@router.get(
    "/api/collections/{collection}/WMTSCapabilities.xml",
    summary="OGC WMTS 1.0 capabilities: one layer per data layer, with a `time` dimension",
    description=(
        "The `time` dimension lists every date, so this reads every part of the catalogue "
        "once per change of the cube (then it is kept)."
    ),
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}},
)
def capabilities(request: Request, collection: str, qc: QCQuery = DEFAULT_QC) -> Response:
    c = cube(request)
    coll = c.collection(collection)
    if query.date_count(coll) == 0:
        raise APIError(404, f"collection {coll.name!r} has no dates yet")
    base = base_url(request)

    def make() -> str:
        dates = [k for part in c.each_part(coll) for k in sorted(part.dates)]
        levels = {k: max_zoom(coll, m) for k, m in tms.TMS.items()}
        return wmts.capabilities(coll, dates, base, bounds_wgs84(coll), levels, qc)

    xml = c.derived(("wmts", coll.name, base, qc), make)
    return Response(xml, media_type="application/xml", headers={"cache-control": "no-cache"})
