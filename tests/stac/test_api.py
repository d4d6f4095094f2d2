"""The STAC API of a real ``leafcube serve`` (``/api/stac``), driven with pystac-client and
plain HTTP: the item-search conformance, paging, each search parameter over GET and POST
against the items the catalogue says should match, and a 4xx for every bad parameter."""

from __future__ import annotations

import datetime as dt

import httpx
import pystac
import pytest
from pystac_client import Client
from pystac_client.conformance import ConformanceClasses
from shapely.geometry import box, mapping

from leafcube.catalogue import load
from tests.stac.conftest import AREA, lonlat_bbox

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")


@pytest.fixture(scope="module")
def api(server_url) -> str:
    return f"{server_url}/api/stac"


@pytest.fixture(scope="module")
def truth(demo_cube) -> dict[str, tuple[dt.date, dt.date, str]]:
    """Every item the cube should have, by id: (period start, period end, tile)."""
    cat = load(demo_cube)
    out = {}
    for name, coll in cat.collections.items():
        for e in coll.dates.values():
            for t in {t for lf in e.layers.values() for t in lf.tiles}:
                out[f"{name}-{e.key}-{t}"] = (e.start, e.end, t)
    assert len(out) == 48
    return out


def ids(search) -> list[str]:
    return sorted(i.id for i in search.items())


def test_landing_page_and_conformance(api, server_url):
    for url in (api, f"{api}/"):
        page = httpx.get(url).json()
        assert page["type"] == "Catalog" and page["id"] == "leafcube"
        rels = {(lk["rel"], lk.get("method", "GET")): lk["href"] for lk in page["links"]}
        assert rels[("self", "GET")] == f"{api}/"
        assert rels[("search", "GET")] == rels[("search", "POST")] == f"{api}/search"
        assert rels[("conformance", "GET")] == f"{api}/conformance"
        assert rels[("service-desc", "GET")] == f"{server_url}/openapi.json"
    client = Client.open(api)
    for cls in (
        ConformanceClasses.CORE,
        ConformanceClasses.ITEM_SEARCH,
        ConformanceClasses.COLLECTIONS,
        ConformanceClasses.FEATURES,
    ):
        assert client.conforms_to(cls), cls
    paths = httpx.get(f"{server_url}/openapi.json").json()["paths"]
    assert {"/api/stac/search", "/api/stac/collections/{collection_id}/items"} <= set(paths)


def test_collections_and_items_with_paging(api, truth):
    colls = httpx.get(f"{api}/collections").json()["collections"]
    assert [c["id"] for c in colls] == ["leaf-s2-20m-monthly"]
    coll = httpx.get(f"{api}/collections/leaf-s2-20m-monthly").json()
    assert coll["type"] == "Collection" and "LAI" in coll["item_assets"]
    seen, url, pages = [], f"{api}/collections/leaf-s2-20m-monthly/items?limit=5", 0
    while url:
        page = httpx.get(url).json()
        assert page["numberMatched"] == 48 and len(page["features"]) <= 5
        seen += [f["id"] for f in page["features"]]
        url = next((lk["href"] for lk in page["links"] if lk["rel"] == "next"), None)
        pages += 1
    assert pages == 10 and len(seen) == len(set(seen)) == 48 and set(seen) == set(truth)
    one = httpx.get(f"{api}/collections/leaf-s2-20m-monthly/items/{seen[0]}").json()
    assert one["id"] == seen[0]
    assert {lk["rel"] for lk in one["links"]} >= {"self", "parent", "collection", "root"}


def test_hrefs_are_the_servers_own_files(api, server_url):
    url = f"{api}/collections/leaf-s2-20m-monthly/items?limit=2"
    for raw in httpx.get(url).json()["features"]:  # pystac drops proj:epsg when it reads
        props = raw["properties"]
        assert props["proj:epsg"] == 3979 and props["proj:code"] == "EPSG:3979"
        assert props["datetime"] == props["start_datetime"]
    ic = pystac.ItemCollection.from_file(url)
    for item in ic:
        assert item.datetime is not None
        for asset in item.assets.values():
            href = asset.get_absolute_href()
            assert href and href.startswith(f"{server_url}/leaf-s2-20m-monthly/")
    head = httpx.head(ic.items[0].assets["LAI"].href)
    assert head.status_code == 200 and int(head.headers["content-length"]) > 1000
    proxied = httpx.get(
        f"{api}/search?limit=1",
        headers={
            "x-forwarded-proto": "https",
            "x-forwarded-host": "leaf.example.org",
            "x-forwarded-prefix": "/cube",
        },
    ).json()
    href = proxied["features"][0]["assets"]["LAI"]["href"]
    assert href.startswith("https://leaf.example.org/cube/leaf-s2-20m-monthly/")
    assert proxied["features"][0]["links"][0]["href"].startswith(
        "https://leaf.example.org/cube/api/stac/collections/"
    )


def _expected(truth, *, start=None, end=None, tiles=("tile42", "tile43")) -> list[str]:
    return sorted(
        k
        for k, (s, e, t) in truth.items()
        if t in tiles and (end is None or s <= end) and (start is None or e >= start)
    )


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_search_parameters(api, truth, method):
    client = Client.open(api)

    def search(**kw):
        return ids(client.search(method=method, **kw))

    area = lonlat_bbox(AREA)  # inside tile42 only
    everything = (-108.0, 53.0, -107.0, 54.0)
    assert search(bbox=everything, max_items=None) == sorted(truth)
    assert search(bbox=area) == _expected(truth, tiles=("tile42",))
    assert search(intersects=mapping(box(*area))) == _expected(truth, tiles=("tile42",))
    aug = dt.date(2023, 8, 15)
    assert search(datetime="2023-08-15T12:00:00Z") == _expected(truth, start=aug, end=aug)
    assert search(datetime="../2023-02-28") == _expected(truth, end=dt.date(2023, 2, 28))
    assert search(datetime="2024-12-01/..") == _expected(truth, start=dt.date(2024, 12, 1))
    assert search(datetime="2023-07", bbox=area) == ["leaf-s2-20m-monthly-2023-07-01-tile42"]
    assert search(collections=["leaf-s2-20m-monthly"]) == sorted(truth)
    assert search(collections=["no-such-collection"]) == []
    assert search(ids=["leaf-s2-20m-monthly-2024-01-01-tile43"]) == [
        "leaf-s2-20m-monthly-2024-01-01-tile43"
    ]
    # paging: pages of `limit`, followed through the next links (GET: token in the URL;
    # POST: the whole body again with the token)
    paged = client.search(method=method, datetime="2023-01-01/2023-04-30", limit=3)
    pages = list(paged.pages())
    assert [len(p) for p in pages] == [3, 3, 2]
    got = sorted(i.id for p in pages for i in p)
    assert got == _expected(truth, start=dt.date(2023, 1, 1), end=dt.date(2023, 4, 30))


BAD_GET = [
    "bbox=1,2,3",
    "bbox=a,b,c,d",
    "bbox=-100,80,-90,70",
    "bbox=-200,50,-100,60",
    "bbox=nan,50,-100,60",
    "intersects=not-json",
    'intersects={"type":"Polygon","coordinates":[[1,2]]}',
    'intersects={"type":"Point","coordinates":[500,500]}',
    "bbox=-108,53,-107,54&intersects=" + '{"type":"Point","coordinates":[-107.5,53.8]}',
    "datetime=yesterday",
    "datetime=2023-13-01T00:00:00Z",
    "datetime=2023-08-01T00:00:00Z/2023-07-01T00:00:00Z",
    "limit=0",
    "limit=-1",
    "limit=many",
    "token=garbage",
    "token=next:-1",
]
BAD_POST = [
    {"bbox": [1, 2, 3]},
    {"bbox": [-100, 80, -90, 70]},
    {"bbox": [0.0, 0.0, 0.0, 0.0, 0.0, False]},  # schemathesis: pydantic reads false as 0
    {"bbox": [-108, 53, "-107", 54]},
    {"intersects": {"type": "Polygon", "coordinates": "x"}},
    {"intersects": {"type": "Point", "coordinates": [500, 500]}},
    {"datetime": "yesterday"},
    {"limit": 0},
    {"limit": "many"},
    {"collections": "leaf-s2-20m-monthly"},
    {"token": "next:x"},
    [],
]


@pytest.mark.parametrize("query", BAD_GET)
def test_bad_get_parameters_are_4xx(api, query):
    r = httpx.get(f"{api}/search?{query}")
    assert 400 <= r.status_code < 500, (query, r.status_code, r.text)
    assert r.json()["detail"]


@pytest.mark.parametrize("body", BAD_POST, ids=str)
def test_bad_post_bodies_are_4xx(api, body):
    r = httpx.post(f"{api}/search", json=body)
    assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
    assert r.json()["detail"]


def test_unknown_collection_and_item_are_404(api):
    for url in (
        f"{api}/collections/nope",
        f"{api}/collections/nope/items",
        f"{api}/collections/leaf-s2-20m-monthly/items/nope",
    ):
        r = httpx.get(url)
        assert r.status_code == 404 and "nope" in r.json()["detail"], url
