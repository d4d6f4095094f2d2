"""A server that dies mid-extract: the client retries, or names what it could not fetch."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from leafcube.client import Cube, ExtractError
from leafcube.client.http import RetryPolicy
from tests.conftest import LEAFCUBE, free_port, start_nginx, start_process, stop_process

BBOX = (-107.46, 53.79, -107.36, 53.84)
LAYERS = ["LAI", "fCOVER", "fAPAR", "Albedo", "QC", "Date"]


def reading_cogs(pgid: int) -> bool:
    """True once a process of the server's group holds a COG open: it is serving pixels."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.getpgid(int(proc.name)) != pgid:
                continue
            if any(os.readlink(fd).endswith(".tif") for fd in (proc / "fd").iterdir()):
                return True
        except (ProcessLookupError, FileNotFoundError, PermissionError):
            continue
    return False


def serve(cube, port: int):
    args = [*LEAFCUBE, "serve", str(cube), "--host", "127.0.0.1", "--port", str(port)]
    return start_process(args, f"http://127.0.0.1:{port}/catalogue.json")


@pytest.mark.slow
def test_server_killed_and_restarted_mid_extract(demo_cube):
    port = free_port()
    proc = serve(demo_cube, port)
    try:
        # one date per request and one request at a time: a long stream of requests,
        # and patience enough (8 retries, up to ~90 s) for a restart on a busy machine
        url = f"http://127.0.0.1:{port}"
        cube = Cube(url, concurrency=1, retries=8, max_request_mb=0.2, progress=False)
        assert cube.mode == "server"
        result: dict[str, object] = {}

        def run() -> None:
            try:
                result["res"] = cube.extract(LAYERS, BBOX, qc="data")
            except Exception as exc:  # reported below
                result["error"] = exc

        worker = threading.Thread(target=run)
        worker.start()
        deadline = time.monotonic() + 60
        while not reading_cogs(proc.pid) and worker.is_alive() and time.monotonic() < deadline:
            worker.join(0.01)  # poll: the server opens its first COG for the first subset
        assert worker.is_alive(), "the extract finished before the server could be killed"
        os.killpg(proc.pid, signal.SIGKILL)  # the server and its workers die at once
        proc.wait()
        assert worker.is_alive()  # retrying, not failed
        proc = serve(demo_cube, port)  # same port
        worker.join(timeout=120)
        assert not worker.is_alive()
    finally:
        stop_process(proc)
    assert "error" not in result, result.get("error")
    res = result["res"]
    ref = Cube(demo_cube, progress=False).extract(LAYERS, BBOX, qc="data")
    assert res.dates == ref.dates and len(res.dates) >= 12
    for layer in LAYERS:
        for d in ref.dates:
            a, b = res[layer][d].filled(np.nan), ref[layer][d].filled(np.nan)
            assert np.array_equal(a, b, equal_nan=True), (layer, d)


def test_server_gone_names_layer_and_dates(demo_cube):
    port = free_port()
    proc = serve(demo_cube, port)
    try:
        cube = Cube(f"http://127.0.0.1:{port}", retries=2, refresh=0, progress=False)
        assert cube.mode == "server"  # found, and its catalogue read, while it runs
        assert cube.dates(start="2023-06-01", end="2023-06-30")  # and the part it needs
    finally:
        stop_process(proc)
    t0 = time.monotonic()
    with pytest.raises(ExtractError) as info:
        cube.extract(["LAI"], BBOX, start="2023-06-01", end="2023-06-30")
    assert info.value.layer == "LAI" and info.value.dates == ["2023-06-01"]
    assert "could not fetch LAI for 2023-06-01" in str(info.value)
    assert time.monotonic() - t0 > 0.5  # it did back off and retry before giving up


def test_retry_after_is_honoured():
    policy = RetryPolicy(backoff=0.5, max_wait=30)
    assert policy.delay(0, httpx.Response(429, headers={"Retry-After": "7"})) == 7
    assert policy.delay(0, httpx.Response(503, headers={"Retry-After": "600"})) == 30
    date = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert policy.delay(3, date) == 0  # a date in the past: try again now
    for attempt in range(4):
        assert (
            0.375 * 2**attempt <= policy.delay(attempt, httpx.Response(500)) <= 0.625 * 2**attempt
        )


def test_static_missing_file_names_layer_and_date(demo_cube, tmp_path):
    cube_dir = tmp_path / "cube"
    shutil.copytree(demo_cube, cube_dir)
    (cube_dir / "leaf-s2-20m-monthly" / "2023-07-01" / "tile43" / "fCOVER.tif").unlink()
    proc, url = start_nginx(cube_dir, tmp_path)
    try:
        cube = Cube(url, progress=False)
        assert cube.mode == "static"
        with pytest.raises(ExtractError, match="could not fetch fCOVER for 2023-07-01") as info:
            cube.extract(["LAI", "fCOVER"], BBOX, start="2023-06-01", end="2023-08-31")
        assert info.value.layer == "fCOVER" and info.value.dates == ["2023-07-01"]
    finally:
        stop_process(proc)
