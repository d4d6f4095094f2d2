"""Item 10 of issue 13 (the small parts), on a real `leafcube serve`: an empty range set is
ignored (200 with the whole file, as nginx does) instead of 416, and a trailing slash
after a file is 404 instead of the file. (The same on nginx: test_no_file_leaves.py.)"""

from __future__ import annotations

import httpx
import pytest

from leafcube.server.ranges import MAX_RANGES, parse_range


@pytest.fixture(scope="module")
def client(worker):
    with httpx.Client(base_url=worker.url, timeout=30) as c:
        yield c


@pytest.mark.parametrize("header", ["bytes=", "bytes=,", "bytes= ,", "bytes= , ,"])
def test_empty_range_set_is_ignored(client, worker, header):
    whole = (worker.cube / "catalogue.json").read_bytes()
    r = client.get("/catalogue.json", headers={"range": header})
    assert r.status_code == 200
    assert r.content == whole and "content-range" not in r.headers


def test_unsatisfiable_range_is_still_416(client, worker):
    size = (worker.cube / "catalogue.json").stat().st_size
    r = client.get("/catalogue.json", headers={"range": f"bytes={size}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"


def test_huge_positions_are_clipped_not_500(client, worker):
    """Positions of thousands of digits (past Python's int() limit) act as 'to the end'."""
    whole = (worker.cube / "catalogue.json").read_bytes()
    r = client.get("/catalogue.json", headers={"range": "bytes=10-" + "9" * 5000})
    assert r.status_code == 206 and r.content == whole[10:]


@pytest.mark.parametrize("path", ["/catalogue.json/", "/catalogue.json//", "/stac/catalog.json/"])
def test_trailing_slash_after_a_file_is_404(client, path):
    for method in ("GET", "HEAD"):
        assert client.request(method, path).status_code == 404, f"{method} {path}"
    assert client.get(path.rstrip("/")).status_code == 200


def test_too_many_ranges_are_one_range(client, worker):
    """Past MAX_RANGES, disjoint ranges are answered as the single range spanning them."""
    whole = (worker.cube / "catalogue.json").read_bytes()
    specs = ",".join(f"{2 * i}-{2 * i}" for i in range(MAX_RANGES + 1))
    r = client.get("/catalogue.json", headers={"range": f"bytes={specs}"})
    last = 2 * MAX_RANGES
    assert r.status_code == 206 and r.headers["content-range"] == f"bytes 0-{last}/{len(whole)}"
    assert r.content == whole[: last + 1]


def test_only_ascii_digits_are_positions():
    """RFC 9110's DIGIT is 0-9: other scripts' digits make the header invalid (ignored)."""
    assert parse_range("bytes=\u0660-\u0669", 100) is None
    assert parse_range("bytes=0-9", 100) == [(0, 9)]


@pytest.mark.parametrize("path", ["/stac%5Ccatalog.json", "/catalogue.json%00", "/%00"])
def test_backslash_and_nul_are_404(client, path):
    assert client.get(path).status_code == 404
