"""Catalogue endpoints: collections, the GomezEngine view, proxy headers, JSON errors."""

from __future__ import annotations

from leafcube.catalogue import load
from leafcube.catalogue.gomez import gomez_view


def test_collections(h2, served):
    cat = load(served.cube)
    body = h2.get("/api/collections").json()
    assert [c["id"] for c in body["collections"]] == sorted(cat.collections)
    first = body["collections"][0]
    coll = cat.collections[first["id"]]
    assert first["layers"] == list(coll.layers)
    assert first["date_count"] == len(coll.dates) >= 12
    assert first["extent"]["native"] == list(coll.extent)


def test_collection_detail(h2, served):
    coll = load(served.cube).collections[served.collection]
    body = h2.get(f"/api/collections/{served.collection}").json()
    assert [d["date"] for d in body["dates"]] == sorted(coll.dates)
    assert {d["tiles"] == ["tile42", "tile43"] for d in body["dates"]} == {True}
    lai = next(s for s in body["layer_specs"] if s["name"] == "LAI")
    assert (lai["scale"], lai["colormap"]) == (
        coll.layers["LAI"].scale,
        coll.layers["LAI"].colormap,
    )
    rels = {link["rel"] for link in body["links"]}
    assert {"gomez", "wmts", "tilejson", "subset", "timeseries"} <= rels


def test_gomez_view_is_absolute(h2, served):
    coll = load(served.cube).collections[served.collection]
    body = h2.get(f"/api/collections/{served.collection}/gomez.json").json()
    assert body == gomez_view(coll, served.url + "/")
    first_url = next(iter(body.values()))[0]
    assert h2.get(first_url.removeprefix(served.url)).status_code == 200


def test_forwarded_headers(h2, served):
    headers = {"x-forwarded-proto": "https", "x-forwarded-host": "cube.example.org"}
    body = h2.get(f"/api/collections/{served.collection}/gomez.json", headers=headers).json()
    assert next(iter(body.values()))[0].startswith("https://cube.example.org/")
    forged = {"x-forwarded-host": 'evil"><x', "x-forwarded-proto": "javascript"}
    body = h2.get(f"/api/collections/{served.collection}/gomez.json", headers=forged).json()
    assert next(iter(body.values()))[0].startswith(served.url + "/")


def test_landing_and_openapi(h2):
    rels = {link["rel"] for link in h2.get("/").json()["links"]}
    assert {"catalogue", "data", "service-desc"} <= rels
    paths = h2.get("/openapi.json").json()["paths"]
    for p in (
        "/api/collections/{collection}/subset",
        "/api/collections/{collection}/timeseries",
        "/api/collections/{collection}/WMTSCapabilities.xml",
        "/{path}",
    ):
        assert p in paths


def test_unknown_collection_is_404_json(h2):
    r = h2.get("/api/collections/nope")
    assert r.status_code == 404
    assert "available" in r.json()["detail"]


def test_head_on_api_paths_is_get_without_body(h2, served):
    coll = served.collection
    date = sorted(load(served.cube).collections[coll].dates)[0]
    for path in (
        "/",
        "/api/collections",
        f"/api/collections/{coll}/WMTSCapabilities.xml",
        f"/api/collections/{coll}/tiles/LAI/{date}/WebMercatorQuad/12/900/1300.png",
        "/openapi.json",
    ):
        get, head = h2.get(path), h2.head(path)
        assert (head.status_code, head.http_version) == (get.status_code, "HTTP/2"), path
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
        assert int(head.headers["content-length"]) == len(get.content)
    assert h2.head("/api/collections/nope").status_code == 404


def test_405_names_every_method_of_the_path(h2, served):
    for path, allowed in (
        (f"/api/collections/{served.collection}/subset", "GET, POST"),
        ("/api/stac/search", "GET, POST"),
        ("/api/collections", "GET"),
    ):
        r = h2.request("OPTIONS", path)
        assert r.status_code == 405 and r.headers["allow"] == allowed, (path, r.headers)
        assert "detail" in r.json()


def test_openapi_documents_errors_as_json_detail(h2):
    doc = h2.get("/openapi.json").json()
    assert doc["components"]["schemas"]["Error"]["properties"]["detail"]["type"] == "string"
    subset = doc["paths"]["/api/collections/{collection}/subset"]["get"]["responses"]
    assert {"4XX", "422", "503"} <= set(subset)
    reads = doc["paths"]["/api/reads"]["get"]["responses"]["200"]["content"]["application/json"]
    assert reads["schema"] != {"type": "string"}  # the model, not a string
