"""A ``Cube``'s lifetime, like an ``httpx.Client``'s: no I/O when made, one connection
pool and one set of read threads for its whole life, closed by ``close()``, ``with`` and
``async with``; the catalogue followed as it changes; one QC default everywhere."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import select
import shutil
import socket
import threading

import httpx
import numpy as np
import pytest

from leafcube.catalogue import load, save
from leafcube.catalogue.qc import DEFAULT_QC
from leafcube.client import ClientError, Cube, DataStorage
from leafcube.client.cli import add_parser
from tests.conftest import LEAFCUBE, free_port, start_process, stop_process

BBOX = (-107.45, 53.78, -107.40, 53.82)
COLL = "leaf-s2-20m-monthly"


def connections_to(port: int) -> set[int]:
    """Local ports of this namespace's established TCP connections to ``port`` on
    127.0.0.1 (from the kernel's table, not from the client)."""
    found = set()
    with open("/proc/net/tcp") as fh:
        next(fh)
        for line in fh:
            fields = line.split()
            local, remote, state = fields[1], fields[2], fields[3]
            if state == "01" and int(remote.split(":")[1], 16) == port:
                found.add(int(local.split(":")[1], 16))
    return found


def leafcube_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("leafcube")}


def test_making_a_cube_does_no_io(tmp_path):
    """Nothing is connected, probed or read until the cube is used."""
    threads = leafcube_threads()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        cube = Cube(f"http://127.0.0.1:{port}", progress=False)
        local = Cube(tmp_path / "not-yet", progress=False)  # no such folder: fine until used
        ready, _, _ = select.select([listener], [], [], 0)
        assert not ready, "the constructor connected"
        assert leafcube_threads() == threads  # no loop, no read thread started
        assert repr(cube).endswith("(not opened yet)>")
        cube.close()
        with pytest.raises(ClientError, match="no cube at"):
            assert local.collections
        local.close()


def test_one_connection_for_the_cubes_life(server_url):
    """Extracts, time series and catalogue reads share one HTTP/2 connection, closed
    with the cube."""
    port = int(server_url.rsplit(":", 1)[1])
    before = connections_to(port)
    with Cube(server_url, progress=False, refresh=0) as cube:
        a = cube.extract("LAI", BBOX, start="2023-06-01", end="2023-08-31")
        first = connections_to(port) - before
        assert len(first) == 1
        cube.timeseries("LAI", point=(-107.42, 53.80), start="2023-06-01")
        b = cube.extract("LAI", BBOX, start="2023-06-01", end="2023-08-31")
        assert cube.dates()
        assert connections_to(port) - before == first  # the same connection, still open
    assert connections_to(port) - before == set()
    assert np.array_equal(a.stack("LAI"), b.stack("LAI"), equal_nan=True)
    with pytest.raises(ClientError, match="closed"):
        cube.extract("LAI", BBOX)


def test_read_threads_live_and_die_with_the_cube(demo_cube):
    """Local and static reads run on the cube's own threads, which keep their files open
    between extracts and stop (closing them) with the cube."""
    before = leafcube_threads()
    cube = Cube(demo_cube, progress=False, concurrency=3)
    cube.extract(["LAI", "QC"], BBOX, start="2023-06-01", end="2023-09-30")
    readers = leafcube_threads() - before
    assert readers and all(t.startswith("leafcube") for t in readers)
    cube.extract(["LAI", "QC"], BBOX, start="2023-06-01", end="2023-09-30")
    assert leafcube_threads() - before == readers  # the same threads, not new ones
    cube.close()
    assert leafcube_threads() - before == set()
    cube.close()  # twice is fine


def test_async_with_closes(server_url):
    port = int(server_url.rsplit(":", 1)[1])
    before = connections_to(port)

    async def main() -> int:
        async with Cube(server_url, progress=False) as cube:
            res = await cube.extract_async("LAI", BBOX, start="2023-06-01", end="2023-06-30")
            assert len(connections_to(port) - before) == 1
            return res.stack("LAI").size

    assert asyncio.run(main()) > 0
    assert connections_to(port) - before == set()


def _drop_last_date(cube_dir) -> str:
    cat = load(cube_dir)
    coll = cat.collections[COLL]
    last = max(coll.dates)
    del coll.dates[last]
    save(cat, cube_dir)
    return last


@pytest.mark.parametrize("mode", ["local", "server"])
def test_new_dates_show_up(demo_cube, tmp_path, mode):
    """A notebook left open sees the dates ingested since: the catalogue is revalidated
    (a conditional GET, or a stat), and kept as it is while it has not changed."""
    cube_dir = tmp_path / "cube"
    shutil.copytree(demo_cube, cube_dir)
    full = load(cube_dir)
    last = _drop_last_date(cube_dir)
    proc = None
    source: str | os.PathLike[str] = cube_dir
    if mode == "server":
        port = free_port()
        args = [*LEAFCUBE, "serve", str(cube_dir), "--host", "127.0.0.1", "--port", str(port)]
        proc = start_process(args, f"http://127.0.0.1:{port}/catalogue.json")
        source = f"http://127.0.0.1:{port}"
    try:
        with Cube(source, progress=False, refresh=0) as cube:
            assert cube.mode == mode
            assert last not in cube.dates()
            unchanged = cube.catalogue
            assert cube.catalogue is unchanged  # not read again: it has not changed
            if mode == "server":
                etag = httpx.get(f"{source}/catalogue.json").headers["etag"]
                assert (
                    httpx.get(
                        f"{source}/catalogue.json", headers={"if-none-match": etag}
                    ).status_code
                    == 304
                )
            save(full, cube_dir)  # the date's part, then the root, as an ingest writes them
            assert cube.dates()[-1] == last
            res = cube.extract("LAI", BBOX, start=last)
            assert res.dates == [last]
    finally:
        if proc is not None:
            stop_process(proc)


def test_one_qc_default_everywhere(server_url):
    """The client, DataStorage, the client CLI and every server endpoint that takes
    ``qc`` default to the same filter."""
    for fn in (Cube.extract, Cube.extract_async, Cube.timeseries, Cube.download):
        assert inspect.signature(fn).parameters["qc"].default == DEFAULT_QC, fn
    assert inspect.signature(DataStorage).parameters["qc"].default == DEFAULT_QC
    cli = argparse.ArgumentParser()
    add_parser(cli.add_subparsers())
    args = cli.parse_args(["get", "SRC", "--layers", "LAI", "--roi", "1,2,3,4", "--out", "o"])
    assert args.qc == DEFAULT_QC
    spec = httpx.get(f"{server_url}/openapi.json").json()
    defaults = {
        (path, method): p["schema"].get("default")
        for path, item in spec["paths"].items()
        for method, op in item.items()
        for p in op.get("parameters", [])
        if p["name"] == "qc"
    }
    assert len(defaults) >= 5  # subset, time series (GET/POST), tiles, TileJSON, WMTS
    assert set(defaults.values()) == {DEFAULT_QC}, defaults
