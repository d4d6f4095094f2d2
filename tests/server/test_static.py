"""The static mirror over HTTP/2: bytes, RFC 9110 ranges, validators and containment."""

from __future__ import annotations

import email
import subprocess

import pytest

from .conftest import SECRET

COG = "{c}/2023-05-01/tile42/LAI.tif"


@pytest.fixture(scope="module")
def cog(served) -> tuple[str, bytes]:
    rel = COG.format(c=served.collection)
    return "/" + rel, (served.cube / rel).read_bytes()


def test_get_whole_file_with_validators(h2, cog):
    path, data = cog
    r = h2.get(path)
    assert r.http_version == "HTTP/2"
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["etag"].startswith('"') and not r.headers["etag"].startswith("W/")
    assert "last-modified" in r.headers
    assert "max-age=604800" in r.headers["cache-control"]


def test_head_has_length_and_no_body(h2, cog):
    path, data = cog
    r = h2.head(path)
    assert r.status_code == 200
    assert int(r.headers["content-length"]) == len(data)
    assert r.content == b""


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-64", -64, None)],
)
def test_single_and_suffix_ranges(h2, cog, spec, first, last):
    path, data = cog
    r = h2.get(path, headers={"range": spec})
    assert r.status_code == 206
    want = data[first : None if last is None else last + 1]
    assert r.content == want
    start = first if first >= 0 else len(data) + first
    assert r.headers["content-range"] == f"bytes {start}-{start + len(want) - 1}/{len(data)}"


def test_range_past_the_end_is_clipped(h2, cog):
    path, data = cog
    r = h2.get(path, headers={"range": f"bytes={len(data) - 10}-{len(data) + 1000}"})
    assert r.status_code == 206
    assert r.content == data[-10:]


def test_multiple_ranges_are_multipart(h2, cog):
    path, data = cog
    r = h2.get(path, headers={"range": "bytes=0-9, 200-299, -5"})
    assert r.status_code == 206
    ctype = r.headers["content-type"]
    assert ctype.startswith("multipart/byteranges; boundary=")
    msg = email.message_from_bytes(b"content-type: " + ctype.encode() + b"\r\n\r\n" + r.content)
    parts = [(p["content-range"], p.get_payload(decode=True)) for p in msg.get_payload()]
    n = len(data)
    assert parts == [
        (f"bytes 0-9/{n}", data[0:10]),
        (f"bytes 200-299/{n}", data[200:300]),
        (f"bytes {n - 5}-{n - 1}/{n}", data[-5:]),
    ]


def test_overlapping_ranges_are_coalesced(h2, cog):
    path, data = cog
    r = h2.get(path, headers={"range": "bytes=0-99,50-149"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 0-149/{len(data)}"
    assert r.content == data[:150]


def test_unsatisfiable_range_is_416(h2, cog):
    path, data = cog
    r = h2.get(path, headers={"range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(data)}"


def test_malformed_range_is_ignored(h2, cog):
    path, data = cog
    for spec in ("bytes=abc", "bytes=10-5", "items=0-5"):
        r = h2.get(path, headers={"range": spec})
        assert (r.status_code, r.content) == (200, data), spec


def test_if_range(h2, cog):
    path, data = cog
    first = h2.get(path)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert h2.get(path, headers={"range": "bytes=0-9", "if-range": etag}).status_code == 206
    assert h2.get(path, headers={"range": "bytes=0-9", "if-range": modified}).status_code == 206
    stale = h2.get(path, headers={"range": "bytes=0-9", "if-range": '"stale"'})
    assert (stale.status_code, stale.content) == (200, data)


def test_conditional_get_304(h2, cog):
    path, _ = cog
    first = h2.get(path)
    r = h2.get(path, headers={"if-none-match": first.headers["etag"]})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["etag"] == first.headers["etag"]
    assert (
        h2.get(path, headers={"if-modified-since": first.headers["last-modified"]}).status_code
        == 304
    )
    assert h2.get(path, headers={"if-none-match": '"other"'}).status_code == 200


def test_json_files_and_symlink_inside(h2, served):
    data = (served.cube / "catalogue.json").read_bytes()
    r = h2.get("/catalogue.json")
    assert (r.status_code, r.content) == (200, data)
    assert r.headers["content-type"] == "application/json"
    assert "must-revalidate" in r.headers["cache-control"]
    assert h2.get("/alias.json").content == data
    assert h2.get("/stac/catalog.json").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/.leafcube",
        "/.hidden.json",
        "/leak.txt",
        "/leakdir/secret.txt",
        "/stac",
        "/stac/",
        "/%2e%2e/outside/secret.txt",
        "/stac/..%2f..%2foutside%2fsecret.txt",
        "/%252e%252e/outside/secret.txt",
        "/nope.tif",
    ],
)
def test_outside_hidden_and_missing_are_404(h2, path):
    r = h2.get(path)
    assert r.status_code == 404
    assert SECRET not in r.content


def test_raw_dot_dot_is_404(served):
    """curl --path-as-is sends ``..`` segments unnormalised."""
    out = subprocess.run(
        [
            "curl",
            "-s",
            "--path-as-is",
            "--http2-prior-knowledge",
            "-w",
            "\n%{http_code}",
            f"{served.url}/stac/../../outside/secret.txt",
        ],
        capture_output=True,
        check=True,
    ).stdout
    assert out.endswith(b"404") and SECRET not in out


def test_sidecar_probes_404_on_head(h2, cog):
    path, _ = cog
    for suffix in (".aux.xml", ".msk", ".ovr", ".AUX"):
        r = h2.head(path + suffix)
        assert r.status_code == 404 and r.content == b""
