"""curl against both deployments: HTTP/2 on every path, exact ranges, validators, hidden paths."""

from __future__ import annotations

import httpx
import pytest

from leafcube.catalogue import load


def sample(site) -> tuple[str, str]:
    """A COG and a mosaic VRT of the first date, as paths under the site root."""
    coll = load(site.root).collections[site.collection]
    files = coll.sorted_dates()[0].layers["LAI"]
    return next(iter(files.tiles.values())).href, files.mosaic


def status_and_version(site, path: str, *args: str) -> tuple[str, str]:
    out = site.curl(path, "-o", "/dev/null", "-w", "%{http_code} %{http_version}", *args)
    code, version = out.stdout.decode().split()
    return code, version


def test_http2_on_every_path(site):
    cog, vrt = sample(site)
    paths = {
        "/catalogue.json": "200",
        f"/{cog}": "200",
        f"/{vrt}": "200",
        "/stac/catalog.json": "200",
        f"/gomez/{site.collection}.json": "200",
        "/no/such/file.tif": "404",
    }
    for path, expected in paths.items():
        assert status_and_version(site, path) == (expected, "2"), path
        assert status_and_version(site, path, "-I") == (expected, "2"), f"HEAD {path}"
    if site.name == "stack":
        for path in ("/", "/api/collections", "/openapi.json"):
            assert status_and_version(site, path) == ("200", "2"), path


@pytest.mark.parametrize("byte_range", ["0-15", "1000-4999", "-700"])
def test_range_returns_exact_bytes(site, byte_range):
    cog, _ = sample(site)
    data = (site.root / cog).read_bytes()
    first, _, last = byte_range.partition("-")
    expected = data[-int(last) :] if not first else data[int(first) : int(last) + 1]
    out = site.curl(f"/{cog}", "-r", byte_range, "-D", "-", "-o", "/dev/stdout")
    head, body = out.stdout.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/2 206")
    assert b"content-range: bytes " in head.lower()
    assert f"/{len(data)}".encode() in head
    assert body == expected


def headers(site, path: str, *args: str) -> dict[str, str]:
    out = site.curl(path, "-I", *args).stdout.decode()
    lines = out.strip().splitlines()
    return {"status": lines[0].split()[1]} | {
        k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)
    }


def test_validators_caching_and_gzip(site):
    cog, vrt = sample(site)
    h = headers(site, f"/{cog}")
    assert h["content-length"] == str((site.root / cog).stat().st_size)
    assert h["accept-ranges"] == "bytes"
    assert h["cache-control"] == "public, max-age=604800"
    assert h["access-control-allow-origin"] == "*"
    assert headers(site, f"/{cog}", "-H", f"If-None-Match: {h['etag']}")["status"] == "304"

    cat = headers(site, "/catalogue.json", "--compressed")
    assert cat["content-type"] == "application/json"
    assert cat["content-encoding"] == "gzip"
    assert cat["cache-control"] == "public, max-age=60, must-revalidate"
    assert headers(site, f"/{vrt}")["content-type"] == "application/xml"


def test_hidden_paths_side_cars_and_folders_are_404(site, demo_cube):
    cog, _ = sample(site)
    name, date = cog.split("/")[:2]
    ledger = f"/.leafcube/ledger/{name}/{date[:7]}.json"  # the month of the ledger holding it
    for path in (ledger, "/.leafcube/", f"/{cog}.aux.xml", f"/{cog}.msk"):
        assert status_and_version(site, path, "-I")[0] == "404", path
    folder = cog.rsplit("/", 1)[0]
    assert status_and_version(site, f"/{folder}/")[0] == "404"
    if site.name == "stack":  # the private state exists in the cube nginx serves
        assert (site.root / ledger.lstrip("/")).is_file()


def test_api_passes_through_with_its_own_headers(stack):
    port = next((stack.out / "run").glob("worker-*.pid")).stem.split("-")[1]
    direct = httpx.get(f"http://127.0.0.1:{port}/api/collections")
    out = stack.curl("/api/collections", "-D", "-", "-o", "/dev/null").stdout.decode().lower()
    assert out.startswith("http/2 200")
    # nginx adds no Cache-Control or CORS header of its own to what the worker says
    for name in ("cache-control", "access-control-allow-origin"):
        mine = [ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith(name)]
        theirs = direct.headers.get_list(name)
        assert mine == [v.lower() for v in theirs], name
