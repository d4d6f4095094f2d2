"""Transport: h2c and HTTP/1.1 on one port, h2 over TLS, workers, CLI errors, live reload."""

from __future__ import annotations

import os
import resource
import ssl
import subprocess
import sys
from pathlib import Path

import httpx

from leafcube.catalogue import load, save
from tests.conftest import LEAFCUBE, free_port, start_process, stop_process

from .conftest import copy_cube


def _curl(*args: str) -> str:
    out = subprocess.run(
        ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_h2c_and_http1_share_the_port(served):
    with httpx.Client(http1=False, http2=True) as c:
        assert c.get(f"{served.url}/catalogue.json").http_version == "HTTP/2"
    with httpx.Client() as c:
        assert c.get(f"{served.url}/catalogue.json").http_version == "HTTP/1.1"
    assert _curl("--http2-prior-knowledge", f"{served.url}/catalogue.json") == "2 200"
    assert _curl("--http1.1", f"{served.url}/catalogue.json") == "1.1 200"


def test_h2_over_tls(demo_cube, tmp_path, start_server):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    tls = start_server(demo_cube, "--certfile", str(cert), "--keyfile", str(key), scheme="https")
    url = f"{tls.url}/catalogue.json"
    assert _curl("--http2", "--cacert", str(cert), url) == "2 200"
    cog = next(demo_cube.glob("*/*/tile42/LAI.tif")).relative_to(demo_cube)
    gdal = subprocess.run(
        ["gdalinfo", f"/vsicurl/{tls.url}/{cog}"],
        env={**os.environ, "GDAL_HTTP_VERSION": "2TLS", "SSL_CERT_FILE": str(cert),
             "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"},
        capture_output=True, text=True,
    )  # fmt: skip
    assert gdal.returncode == 0, gdal.stderr
    assert "Size is" in gdal.stdout
    ctx = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(http2=True, verify=ctx) as c:
        r = c.get(f"{tls.url}/api/collections")
        assert (r.http_version, r.status_code) == ("HTTP/2", 200)
        assert r.json()["collections"][0]["links"][0]["href"].startswith("https://127.0.0.1:")


def _serve_error(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "leafcube.cli.main", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_errors_are_one_line(tmp_path, served):
    missing = _serve_error(str(tmp_path / "nope"))
    assert missing.returncode == 2
    assert "is not a folder" in missing.stderr and "Traceback" not in missing.stderr
    half = _serve_error(str(served.cube), "--certfile", str(tmp_path / "c.pem"))
    assert half.returncode == 2 and "--keyfile" in half.stderr
    port = served.url.rsplit(":", 1)[1]
    busy = _serve_error(str(served.cube), "--port", port)
    assert busy.returncode == 2 and "cannot listen" in busy.stderr


def test_workers_see_a_new_ingest(demo_cube, tmp_path, start_server):
    cube = copy_cube(demo_cube, tmp_path)
    two = start_server(cube, "--workers", "2")
    cat = load(cube)
    name = next(iter(cat.collections))
    before = len(cat.collections[name].dates)
    with httpx.Client(base_url=two.url, http1=False, http2=True) as c:
        assert c.get(f"/api/collections/{name}").json()["date_count"] == before
        dropped = max(cat.collections[name].dates)
        del cat.collections[name].dates[dropped]
        assert save(cat, cube)
        for _ in range(8):  # new connections land on both workers
            with httpx.Client(base_url=two.url, http1=False, http2=True) as fresh:
                detail = fresh.get(f"/api/collections/{name}").json()
            assert detail["date_count"] == before - 1
            assert dropped not in {d["date"] for d in detail["dates"]}


def test_start_up_survives_an_empty_folder_and_a_broken_cog(demo_cube, tmp_path, start_server):
    """The start-up warm-up reads the newest date of each collection; neither a folder
    without a catalogue, a damaged catalogue nor a damaged file may keep the server from
    starting."""
    empty = tmp_path / "empty"
    empty.mkdir()
    bare = start_server(empty)
    r = httpx.get(f"{bare.url}/api/collections")
    assert r.status_code == 404 and "leafcube ingest" in r.json()["detail"]

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "catalogue.json").write_text('{"collections": ')
    half = start_server(damaged)
    r = httpx.get(f"{half.url}/api/collections")
    assert 400 <= r.status_code < 500 and r.json()["detail"]

    cube = copy_cube(demo_cube, tmp_path / "broken")
    coll = next(iter(load(cube).collections.values()))
    newest = coll.sorted_dates()[-1]
    for tile in newest.layers[next(iter(coll.layers))].tiles.values():
        (cube / tile.href).write_bytes(b"not a tiff")
    broken = start_server(cube)
    params = {"layers": "fCOVER", "bbox": "-107.45,53.78,-107.40,53.82"}
    ok = httpx.get(f"{broken.url}/api/collections/{coll.name}/subset", params=params)
    assert ok.status_code == 200


def test_workers_lift_the_open_files_limit(served):
    """Started under a soft limit of 256 open files, the server raises it to the hard one
    (each worker keeps hundreds of COGs open)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    port = free_port()
    proc = start_process(
        [*LEAFCUBE, "serve", str(served.cube), "--host", "127.0.0.1", "--port", str(port)],
        f"http://127.0.0.1:{port}/catalogue.json",
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)),
    )
    try:
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        soft = next(line.split()[3] for line in limits.splitlines() if "open files" in line)
        assert soft == str(65_536 if hard == resource.RLIM_INFINITY else min(hard, 65_536))
    finally:
        stop_process(proc)
