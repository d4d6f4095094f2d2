"""Catalogue endpoints: the landing page (the map viewer for browsers), collections and the
GomezEngine view."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from leafcube.catalogue import Collection, query
from leafcube.catalogue.gomez import gomez_view, year_of, years

from .cube import ServedCube
from .errors import APIError
from .memory import heap, rss_mb
from .models import (
    CollectionDetail,
    CollectionList,
    CollectionSummary,
    DateOut,
    Extent,
    HeapOut,
    Link,
    MemoryReport,
)
from .responses import JSONResponse
from .state import cube, reader, trimmer
from .urls import base_url
from .viewer_page import viewer_response, wants_html

router = APIRouter(tags=["catalogue"])


def _links(base: str, name: str) -> list[Link]:
    api = f"{base}/api/collections/{name}"
    return [
        Link(rel="self", href=api, type="application/json"),
        Link(rel="gomez", href=f"{api}/gomez.json", type="application/json"),
        Link(rel="wmts", href=f"{api}/WMTSCapabilities.xml", type="application/xml"),
        Link(rel="tilejson", href=f"{api}/tilejson.json", type="application/json"),
        Link(rel="subset", href=f"{api}/subset", title="ROI subsets (GeoTIFF, NetCDF, npy)"),
        Link(rel="timeseries", href=f"{api}/timeseries", type="application/json"),
    ]


def summary(served: ServedCube, coll: Collection, base: str) -> CollectionSummary:
    """The collection at a glance, from its root and the part of its newest period."""
    held = query.span(coll)
    newest = served.newest(coll)
    return CollectionSummary(
        id=coll.name,
        title=coll.title,
        description=coll.description,
        crs=coll.crs,
        resolution=coll.resolution,
        extent=Extent(native=coll.extent, wgs84=coll.extent_wgs84),
        layers=list(coll.layers),
        date_count=query.date_count(coll),
        first_date=held[0].isoformat() if held else None,
        last_date=max(newest.dates) if newest.dates else None,
        links=_links(base, coll.name),
    )


def _dates(served: ServedCube, coll: Collection) -> list[DateOut]:
    """Every period of ``coll`` with its layers and tiles, read a part at a time."""
    return [
        DateOut(
            date=e.key,
            start=e.start.isoformat(),
            end=e.end.isoformat(),
            layers=[n for n in coll.layers if n in e.layers],
            tiles=sorted({t for f in e.layers.values() for t in f.tiles}),
        )
        for part in served.each_part(coll)
        for e in part.sorted_dates()
    ]


@router.get(
    "/",
    summary="Landing page: the map viewer for browsers, links for API clients",
    description=(
        "Content-negotiated: a request whose `Accept` prefers `text/html` (a browser) gets "
        "the map viewer; anything else (or `?f=json`) gets the JSON links to the catalogue, "
        "STAC, API and docs."
    ),
    response_model=dict[str, list[Link]],
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
def landing(
    request: Request,
    f: Annotated[Literal["json", "html"] | None, Query(description="force JSON or HTML")] = None,
) -> Response:
    if f == "html" or (f is None and wants_html(request.headers.get("accept", ""))):
        return viewer_response()
    base = base_url(request)
    links = {k: [link.model_dump() for link in v] for k, v in _landing_links(base).items()}
    return JSONResponse(links, headers={"vary": "Accept"})


def _landing_links(base: str) -> dict[str, list[Link]]:
    """The JSON landing page: where the catalogue, STAC, API and docs are."""
    return {
        "links": [
            Link(rel="catalogue", href=f"{base}/catalogue.json", type="application/json"),
            Link(rel="stac", href=f"{base}/stac/catalog.json", type="application/json"),
            Link(rel="data", href=f"{base}/api/collections", type="application/json"),
            Link(rel="service-desc", href=f"{base}/openapi.json", type="application/json"),
            Link(rel="service-doc", href=f"{base}/docs", type="text/html"),
        ]
    }


@router.get("/api/collections", summary="Every collection, with its layers and date range")
def collections(request: Request) -> CollectionList:
    base = base_url(request)
    served = cube(request)
    cat = served.catalogue()
    return CollectionList(
        collections=[summary(served, cat.collections[k], base) for k in sorted(cat.collections)],
        links=[Link(rel="self", href=f"{base}/api/collections", type="application/json")],
    )


@router.get(
    "/api/collections/{collection}",
    summary="One collection: layer encodings, dates, extents",
    description="`dates` lists every period, so this reads every part of the catalogue once "
    "per change of the cube (then it is kept).",
)
def collection(request: Request, collection: str) -> CollectionDetail:
    served = cube(request)
    coll = served.collection(collection)
    base = summary(served, coll, base_url(request))
    return CollectionDetail(
        **base.model_dump(),
        origin=coll.origin,
        layer_specs=list(coll.layers.values()),
        dates=served.derived(("dates", coll.name), lambda: _dates(served, coll)),
    )


@router.get(
    "/api/collections/{collection}/gomez.json",
    summary="GomezEngine view: {date: [mosaic VRT URL per layer, in fixed order]}",
    description="Every date, so this reads every part of the catalogue once per change of "
    "the cube (then it is kept); with `year`, the dates of that year only, reading only "
    "that year's parts.",
    response_model=dict[str, list[str]],
)
def gomez(
    request: Request,
    collection: str,
    year: Annotated[
        str | None, Query(pattern=r"^[0-9]{4}$", description="only the dates of this year (YYYY)")
    ] = None,
) -> JSONResponse:
    served = cube(request)
    coll = served.collection(collection)
    base = base_url(request) + "/"

    def make() -> dict[str, list[str]]:
        if year is not None:
            refs = [r for k, r in sorted(coll.parts.items()) if year_of(k) == year]
            return gomez_view(served.load(coll, refs), base, year)
        return {k: v for part in served.each_part(coll) for k, v in gomez_view(part, base).items()}

    if year is not None and year not in years(coll):
        raise APIError(404, f"{coll.name!r} has no dates in {year}; years: {years(coll)}")
    return JSONResponse(served.derived(("gomez", coll.name, base, year), make))


@router.get(
    "/api/parts",
    summary="This worker's catalogue parts: held now, read, found cached and dropped so far",
    description=(
        "The bounded cache of parsed catalogue parts of the worker that answers (parts and "
        "JSON bytes held, the bound, parts read from disk, cache hits, evictions), for "
        "monitoring and for the tests that check a request reads only the parts it touches."
    ),
)
def parts(request: Request) -> dict[str, int]:
    return cube(request).parts.counts()


@router.get(
    "/api/memory",
    summary="This worker's memory: resident, C heap in use and free, what its caches hold",
    description=(
        "For monitoring (and the soak bench): the answering worker's resident memory, its C "
        "heap in use, free but kept, and mmapped (glibc only; null elsewhere), its open "
        "datasets and decoded windows, the catalogue-part JSON bytes it holds, and how often "
        "(and how long) it handed its free heap pages back to the system."
    ),
)
def memory_report(request: Request) -> MemoryReport:
    read, held, trims = reader(request), heap(), trimmer(request)
    return MemoryReport(
        rss_mb=round(rss_mb(), 1),
        heap=None if held is None else HeapOut(**{k: round(v, 1) for k, v in vars(held).items()}),
        open_datasets=read.open_datasets,
        cached_windows=read.cached_windows,
        part_bytes=cube(request).parts.nbytes,
        trims=trims.count,
        trim_last_ms=round(trims.last_ms, 2),
        trim_max_ms=round(trims.max_ms, 2),
    )
