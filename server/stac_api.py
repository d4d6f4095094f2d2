"""The STAC API (item search) under ``/api/stac``: stac-fastapi's routes and request models,
with a backend that answers from the catalogue.

stac-fastapi gives the endpoints, their OpenAPI and the parsing of every search parameter
as the STAC API spec words it (``bbox``, ``intersects``, ``datetime`` intervals,
``collections``, ``ids``, ``limit``, token paging); :class:`CatalogueClient` answers them
from the served cube's catalogue, with the items of :mod:`leafcube.catalogue.stac` (the
same builder as the static ``stac/`` files) and absolute hrefs to this server's own files.
The router goes into the app beside the other API routers, so errors are the server's JSON
errors (a 4xx with a ``detail``) and no middleware of stac-fastapi touches other routes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, cast
from urllib.parse import urlencode

import orjson
import shapely
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from pydantic import model_validator
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry
from stac_fastapi.api.app import StacApi
from stac_fastapi.api.models import (
    ItemCollectionUri,
    create_get_request_model,
    create_post_request_model,
    create_request_model,
)
from stac_fastapi.extensions.pagination import TokenPaginationExtension
from stac_fastapi.extensions.pagination.request import GETTokenPagination
from stac_fastapi.types import stac as st
from stac_fastapi.types.config import ApiSettings
from stac_fastapi.types.core import BaseCoreClient
from stac_fastapi.types.extension import ApiExtension
from stac_fastapi.types.rfc3339 import str_to_interval
from stac_fastapi.types.search import APIRequest, BaseSearchPostRequest

from leafcube.catalogue import Collection, DateEntry, PartRef
from leafcube.catalogue import stac as cstac
from leafcube.catalogue.parts import touching

from .cube import ServedCube
from .errors import APIError
from .responses import JSONResponse
from .urls import base_url

PREFIX = "/api/stac"
#: Vertices an ``intersects`` geometry may have (as for ROIs, docs/security.md).
MAX_VERTICES = 10_000
TITLE = "leafcube STAC API"
DESCRIPTION = "Item search over the cube's LEAF collections: one item per date and tile."


#: Items of searched parts kept indexed (footprints and periods) per worker, the least
#: recently searched parts dropped past it: about 1 kB an item (measured), so 50 MB.
INDEX_MAX_ITEMS = 50_000


@dataclass(frozen=True)
class Indexed:
    """An item ready for searching: its id, lon/lat footprint and period, and what makes
    its document (the period and tile of ``coll``)."""

    coll: Collection
    entry: DateEntry
    tile: str
    id: str
    footprint: BaseGeometry
    start: dt.datetime
    end: dt.datetime

    def doc(self) -> dict[str, Any]:
        """The item (hrefs relative to the cube root)."""
        return cstac.item(self.coll, self.entry, self.tile)


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def index(coll: Collection) -> list[Indexed]:
    """The items of the dates ``coll`` holds (a part's), by date then tile."""
    return [
        Indexed(
            coll,
            entry,
            tile,
            doc["id"],
            shape(doc["geometry"]),
            _instant(doc["properties"]["start_datetime"]),
            _instant(doc["properties"]["end_datetime"]),
        )
        for entry, tile, doc in cstac.items(coll)
    ]


class PartIndexes:
    """The items of each part searched, by collection and part hash, bounded by
    :data:`INDEX_MAX_ITEMS` (least recently used dropped); thread-safe."""

    def __init__(self, max_items: int = INDEX_MAX_ITEMS) -> None:
        self.max_items = max_items
        self._held: OrderedDict[tuple[str, str], list[Indexed]] = OrderedDict()
        self._items = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], make: Callable[[], list[Indexed]]) -> list[Indexed]:
        """The index of ``key``, made by ``make()`` when it is not held."""
        with self._lock:
            held = self._held.get(key)
            if held is not None:
                self._held.move_to_end(key)
                return held
        made = make()
        with self._lock:
            if key not in self._held:
                self._held[key] = made
                self._items += len(made)
            while self._items > self.max_items and len(self._held) > 1:
                _, dropped = self._held.popitem(last=False)
                self._items -= len(dropped)
        return made


def _day(instant: dt.datetime | None) -> dt.date | None:
    """The UTC day of an instant (naive ones are UTC)."""
    if instant is None:
        return None
    return (instant.astimezone(dt.UTC) if instant.tzinfo else instant).date()


def _id_days(name: str, ids: list[str]) -> list[dt.date]:
    """The days in item ids of collection ``name`` (``{collection}-{YYYY-MM-DD}-{tile}``)."""
    days = []
    for item in ids:
        if item.startswith(f"{name}-"):
            with contextlib.suppress(ValueError):
                days.append(dt.date.fromisoformat(item[len(name) + 1 : len(name) + 11]))
    return days


def _bbox_filter(bbox: Iterable[float]) -> BaseGeometry:
    """A lon/lat bbox (4 or 6 numbers) as a geometry; one crossing the antimeridian
    (west > east) as two boxes. 400 for anything that is not a bbox on the globe."""
    values = [float(v) for v in bbox]
    if len(values) == 6:
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise APIError(400, f"bbox must be 4 (or 6) finite numbers, not {values}")
    west, south, east, north = values
    if not (-90 <= south <= north <= 90) or not all(-180 <= v <= 180 for v in (west, east)):
        raise APIError(
            400,
            "bbox must be west,south,east,north in degrees: longitudes in [-180, 180], "
            f"latitudes in [-90, 90] with south <= north; got {values}",
        )
    if west > east:
        return shapely.union(box(west, south, 180, north), box(-180, south, east, north))
    return box(west, south, east, north)


def _geometry_filter(geojson: Any) -> BaseGeometry:
    """A GeoJSON geometry (dict or text) as a lon/lat geometry; 400 when it is not one."""
    try:
        if isinstance(geojson, str):
            geojson = orjson.loads(geojson)
        if isinstance(geojson, dict) and geojson.get("type") == "Feature":
            geojson = geojson.get("geometry")
        geom = shape(geojson)
    except Exception as exc:  # any malformed input, whatever shapely or orjson raise
        raise APIError(400, f"intersects must be a GeoJSON geometry: {exc}") from None
    coords = shapely.get_coordinates(geom)
    if len(coords) > MAX_VERTICES:
        raise APIError(400, f"intersects has {len(coords)} vertices; at most {MAX_VERTICES}")
    if geom.is_empty or not (
        ((coords[:, 0] >= -180) & (coords[:, 0] <= 180)).all()
        and ((coords[:, 1] >= -90) & (coords[:, 1] <= 90)).all()
    ):
        raise APIError(400, "intersects must be a non-empty geometry in lon/lat degrees")
    return geom if geom.is_valid else shapely.make_valid(geom)


def _period(text: str | None) -> tuple[dt.datetime | None, dt.datetime | None] | None:
    """A STAC ``datetime`` parameter (an instant, or an interval open on either end)."""
    if not text:
        return None
    try:
        parsed = str_to_interval(text)
    except Exception as exc:  # stac-fastapi raises HTTPException or ValueError
        raise APIError(400, f"invalid datetime {text!r}: {getattr(exc, 'detail', exc)}") from None
    if parsed is None:
        return None
    if isinstance(parsed, tuple):
        return parsed[0], parsed[1]
    return parsed, parsed


def _offset(token: str | None) -> int:
    if not token:
        return 0
    kind, _, number = token.partition(":")
    if kind != "next" or not number.isdigit() or len(number) > 12:
        raise APIError(400, f"invalid paging token {token!r}: use the next link's token")
    return int(number)


class SearchBody(BaseSearchPostRequest):
    """stac-fastapi's POST search body, refusing a body that is not a JSON object (its
    own checks would fail on one with an AttributeError, a 500) and a ``bbox`` holding
    anything but numbers (pydantic would read ``false`` as 0, which the schema forbids)."""

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            raise ValueError("the search body must be a JSON object")
        bbox = values.get("bbox")
        if isinstance(bbox, list | tuple) and not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in bbox
        ):
            raise ValueError(f"bbox must hold 4 or 6 numbers, not {bbox!r}")
        return values


@dataclass
class Query:
    """One search: which items, and which page of them."""

    collections: list[str] | None = None
    ids: list[str] | None = None
    where: BaseGeometry | None = None
    when: tuple[dt.datetime | None, dt.datetime | None] | None = None
    limit: int = 10
    offset: int = 0

    def keeps(self, it: Indexed) -> bool:
        if self.ids is not None and it.id not in self.ids:
            return False
        if self.where is not None and not self.where.intersects(it.footprint):
            return False
        if self.when is not None:
            start, end = self.when
            if (end is not None and it.start > end) or (start is not None and it.end < start):
                return False
        return True

    def parts(self, coll: Collection) -> list[PartRef]:
        """The parts of ``coll`` that may hold a match: those the period and the ids'
        days touch (all of them for an open-ended search)."""
        lo, hi = (_day(self.when[0]), _day(self.when[1])) if self.when else (None, None)
        refs = touching(coll, lo, hi)
        if self.ids is not None:
            days = _id_days(coll.name, self.ids)
            refs = [r for r in refs if any(r.start <= d <= r.end for d in days)]
        return refs


class CatalogueClient(BaseCoreClient):
    """stac-fastapi's backend over the served cube's catalogue (re-read when it changes)."""

    def __init__(self, cube: ServedCube):
        super().__init__(title=TITLE, description=DESCRIPTION, landing_page_id="leafcube")
        self.cube = cube
        self._indexes = PartIndexes()

    # -- helpers ---------------------------------------------------------------------

    def _index(self, coll: Collection, ref: PartRef) -> list[Indexed]:
        return index(self.cube.load(coll, [ref]))

    def _matches(self, query: Query) -> Iterator[Indexed]:
        """The items ``query`` keeps, by collection, date and tile: only the parts it may
        match are read, one at a time, and indexed once (per hash)."""
        cat = self.cube.catalogue()
        for name in sorted(cat.collections):
            if query.collections is not None and name not in query.collections:
                continue
            coll = cat.collections[name]
            if not coll.parts:  # format 1.0: every date in the root
                yield from (it for it in index(coll) if query.keeps(it))
                continue
            for ref in query.parts(coll):
                its = self._indexes.get((name, ref.sha256), partial(self._index, coll, ref))
                yield from (it for it in its if query.keeps(it))

    @staticmethod
    def _bases(request: Request) -> tuple[str, str]:
        files = base_url(request)
        return files, files + PREFIX

    def _item_out(self, doc: dict[str, Any], request: Request) -> dict[str, Any]:
        files, api = self._bases(request)
        out = cstac.absolute({**doc, "links": []}, files)
        home = f"{api}/collections/{doc['collection']}"
        out["links"] = [
            {"rel": "self", "href": f"{home}/items/{doc['id']}", "type": cstac.GEOJSON_TYPE},
            {"rel": "parent", "href": home, "type": cstac.JSON_TYPE},
            {"rel": "collection", "href": home, "type": cstac.JSON_TYPE},
            {"rel": "root", "href": f"{api}/", "type": cstac.JSON_TYPE},
        ]
        return out

    def _collection_doc(self, coll: Collection) -> dict[str, Any]:
        """The STAC Collection (its temporal extent and ``time`` values name every period:
        every part is read once per change of the cube, a part at a time)."""

        def make() -> dict[str, Any]:
            periods = {
                e.key: DateEntry(e.start, e.end)
                for part in self.cube.each_part(coll)
                for e in part.dates.values()
            }
            return cstac.collection(dataclasses.replace(coll, dates=periods), sorted(periods))

        return dict(self.cube.derived(("stac", coll.name), make))  # the caller sets its links

    def _collection_out(self, coll: Collection, request: Request) -> st.Collection:
        _, api = self._bases(request)
        doc = self._collection_doc(coll)
        home = f"{api}/collections/{coll.name}"
        doc["links"] = [
            {"rel": "self", "href": home, "type": cstac.JSON_TYPE},
            {"rel": "parent", "href": f"{api}/", "type": cstac.JSON_TYPE},
            {"rel": "root", "href": f"{api}/", "type": cstac.JSON_TYPE},
            {"rel": "items", "href": f"{home}/items", "type": cstac.GEOJSON_TYPE},
        ]
        return cast(st.Collection, doc)

    def _search(self, query: Query, request: Request, next_link: Any) -> st.ItemCollection:
        """The page of matching items, with a ``next`` link made by ``next_link(token)``."""
        found = list(self._matches(query))
        page = [it.doc() for it in found[query.offset : query.offset + query.limit]]
        links: list[dict[str, Any]] = [
            {"rel": "root", "href": f"{self._bases(request)[1]}/", "type": cstac.JSON_TYPE}
        ]
        if query.offset + query.limit < len(found):
            links.append(next_link(f"next:{query.offset + query.limit}"))
        out = {
            "type": "FeatureCollection",
            "features": [self._item_out(d, request) for d in page],
            "links": links,
            "numberMatched": len(found),
            "numberReturned": len(page),
        }
        return cast(st.ItemCollection, out)

    def _get_next(self, request: Request, path: str) -> Any:
        """``next`` links of a GET: this request's query string with the new token."""
        _, api = self._bases(request)
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]

        def link(token: str) -> dict[str, Any]:
            query = urlencode([*params, ("token", token)])
            return {"rel": "next", "href": f"{api}{path}?{query}", "type": cstac.GEOJSON_TYPE}

        return link

    # -- the endpoints ---------------------------------------------------------------

    def landing_page(self, **kwargs: Any) -> st.LandingPage:
        request: Request = kwargs["request"]
        files, api = self._bases(request)
        page = self._landing_page(
            base_url=f"{api}/",
            conformance_classes=self.conformance_classes(),
            extension_schemas=[],
        )
        links = [lk for lk in page["links"] if lk["rel"] not in ("self", "root")]
        page["links"] = [
            {"rel": "self", "href": f"{api}/", "type": cstac.JSON_TYPE},
            {"rel": "root", "href": f"{api}/", "type": cstac.JSON_TYPE},
            *links,
            {"rel": "service-desc", "href": f"{files}/openapi.json", "type": cstac.JSON_TYPE},
            {"rel": "service-doc", "href": f"{files}/docs", "type": "text/html"},
            *(
                {"rel": "child", "href": f"{api}/collections/{n}", "type": cstac.JSON_TYPE}
                for n in sorted(self.cube.catalogue().collections)
            ),
        ]
        return page

    def all_collections(self, **kwargs: Any) -> st.Collections:
        request: Request = kwargs["request"]
        cat = self.cube.catalogue()
        _, api = self._bases(request)
        return st.Collections(
            collections=[
                self._collection_out(cat.collections[n], request) for n in sorted(cat.collections)
            ],
            links=[
                {"rel": "self", "href": f"{api}/collections", "type": cstac.JSON_TYPE},
                {"rel": "root", "href": f"{api}/", "type": cstac.JSON_TYPE},
                {"rel": "parent", "href": f"{api}/", "type": cstac.JSON_TYPE},
            ],
        )

    def get_collection(self, collection_id: str, **kwargs: Any) -> st.Collection:
        return self._collection_out(self.cube.collection(collection_id), kwargs["request"])

    def get_item(self, item_id: str, collection_id: str, **kwargs: Any) -> st.Item:
        self.cube.collection(collection_id)  # 404 for an unknown collection
        query = Query(collections=[collection_id], ids=[item_id], limit=1)
        for it in self._matches(query):
            return cast(st.Item, self._item_out(it.doc(), kwargs["request"]))
        raise APIError(404, f"no item {item_id!r} in collection {collection_id!r}")

    def item_collection(
        self,
        collection_id: str,
        bbox: Any = None,
        datetime: str | None = None,
        limit: int | None = 10,
        token: str | None = None,
        **kwargs: Any,
    ) -> st.ItemCollection:
        request: Request = kwargs["request"]
        self.cube.collection(collection_id)  # 404 for an unknown collection
        query = Query(
            collections=[collection_id],
            where=_bbox_filter(bbox) if bbox else None,
            when=_period(datetime),
            limit=limit or 10,
            offset=_offset(token),
        )
        return self._search(
            query, request, self._get_next(request, f"/collections/{collection_id}/items")
        )

    def get_search(
        self,
        collections: list[str] | None = None,
        ids: list[str] | None = None,
        bbox: Any = None,
        intersects: Any = None,
        datetime: str | None = None,
        limit: int | None = 10,
        **kwargs: Any,
    ) -> st.ItemCollection:
        request: Request = kwargs["request"]
        token: str | None = kwargs.get("token")
        if bbox and intersects:
            raise APIError(400, "bbox and intersects are mutually exclusive: give one")
        where = None
        if bbox:
            where = _bbox_filter(bbox)
        elif intersects:
            where = _geometry_filter(intersects)
        query = Query(
            collections=collections,
            ids=ids,
            where=where,
            when=_period(datetime),
            limit=limit or 10,
            offset=_offset(token),
        )
        return self._search(query, request, self._get_next(request, "/search"))

    def post_search(
        self, search_request: BaseSearchPostRequest, **kwargs: Any
    ) -> st.ItemCollection:
        request: Request = kwargs["request"]
        body = search_request.model_dump(mode="json", exclude_none=True)
        where = None
        if search_request.bbox:
            where = _bbox_filter(search_request.bbox)
        elif search_request.intersects is not None:
            where = _geometry_filter(body["intersects"])
        query = Query(
            collections=search_request.collections,
            ids=search_request.ids,
            where=where,
            when=_period(search_request.datetime),
            limit=search_request.limit or 10,
            offset=_offset(getattr(search_request, "token", None)),
        )
        _, api = self._bases(request)

        def next_link(token: str) -> dict[str, Any]:
            return {
                "rel": "next",
                "href": f"{api}/search",
                "type": cstac.GEOJSON_TYPE,
                "method": "POST",
                "body": {**body, "token": token},
                "merge": False,
            }

        return self._search(query, request, next_link)


def router(cube: ServedCube) -> APIRouter:
    """The STAC API's routes (prefixed ``/api/stac``) over ``cube``, for ``include_router``.

    stac-fastapi registers them on a FastAPI app of its own, which is then dropped: only
    its router is used, so its middlewares and error handlers stay out of leafcube's app.
    """
    paging: list[ApiExtension] = [TokenPaginationExtension()]
    api = StacApi(
        settings=ApiSettings(
            stac_fastapi_title=TITLE,
            stac_fastapi_description=DESCRIPTION,
            stac_fastapi_landing_id="leafcube",
            stac_fastapi_version="0.1.0",
        ),
        client=CatalogueClient(cube),
        extensions=paging,
        app=FastAPI(docs_url=None, redoc_url=None),  # update_openapi wants its route
        router=APIRouter(prefix=PREFIX, tags=["STAC API"]),
        search_get_request_model=create_get_request_model(paging),
        search_post_request_model=create_post_request_model(paging, base_model=SearchBody),
        items_get_request_model=cast(
            type[APIRequest],
            create_request_model(
                "ItemCollectionUri",
                base_model=ItemCollectionUri,
                mixins=cast(list[type[APIRequest]], [GETTokenPagination]),
            ),
        ),
        response_class=JSONResponse,
        middlewares=[],
        title=TITLE,
        description=DESCRIPTION,
    )
    landing = next(
        r for r in api.router.routes if isinstance(r, APIRoute) and r.path == f"{PREFIX}/"
    )
    # the landing page also without the trailing slash (``Client.open(".../api/stac")``)
    assert isinstance(landing, APIRoute)
    api.router.add_api_route("", landing.endpoint, methods=["GET"], include_in_schema=False)
    return api.router
