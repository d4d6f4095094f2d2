"""``Cube(url)`` reads the root catalogue only, then per request the parts its dates
touch: what crosses the wire is counted in nginx's access log (a plain web server over
the folder, and a proxy in front of a leafcube server), file reads in the part cache's
counters; the pixels equal those read from the whole catalogue."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from leafcube.catalogue import load, query, save
from leafcube.catalogue.roi import WGS84, bbox_geometry
from leafcube.client import Cube
from leafcube.reader import CubeFiles, Reader, roi_grid
from tests.conftest import LEAFCUBE, READY_PATH, free_port, start_nginx, start_process, stop_process
from tests.server.archive import BBOX, YEARS, archive_cube

COLL = "leaf-s2-20m-monthly"


class Wire:
    """What one mode's Cube asked for: nginx's access log, or the cache's file reads."""

    def __init__(self, source: str | Path, log: Path | None) -> None:
        self.source, self.log = source, log

    def parts(self, cube: Cube) -> list[str]:
        """The part files fetched so far (local: one per file read), in order."""
        if self.log is None:
            return ["?"] * cube.part_cache.reads
        return [p for line in self.lines() for p in line.split() if p.startswith("/catalogue/")]

    def lines(self) -> list[str]:
        """The access log's lines, less nginx's readiness probes (logged after they answer)."""
        lines = self.log.read_text().splitlines() if self.log and self.log.exists() else []
        return [line for line in lines if READY_PATH not in line]

    def requests(self) -> int:
        return len(self.lines())


@pytest.fixture(scope="module")
def archive(demo_cube, tmp_path_factory) -> Path:
    return archive_cube(demo_cube, tmp_path_factory.mktemp("archive") / "cube")


def serve(mode: str, cube: Path, tmp: Path, procs: list) -> Wire:
    """``cube`` as ``mode`` sees it, with what crosses the wire recorded."""
    if mode == "local":
        return Wire(cube, None)
    if mode == "static":
        proc, url = start_nginx(cube, tmp)
        procs.append(proc)
        return Wire(url, tmp / "access.log")
    upstream = free_port()
    args = [*LEAFCUBE, "serve", str(cube), "--host", "127.0.0.1", "--port", str(upstream)]
    procs.append(start_process(args, f"http://127.0.0.1:{upstream}/catalogue.json"))
    proc, url = start_nginx(cube, tmp, upstream)
    procs.append(proc)
    return Wire(url, tmp / "access.log")


@pytest.fixture
def wired(request, archive, tmp_path):
    """A fresh copy of the archive served in the test's mode; stopped afterwards."""
    cube = tmp_path / "cube"
    shutil.copytree(archive, cube)
    procs: list = []
    try:
        (tmp_path / "nginx").mkdir()
        yield serve(request.param, cube, tmp_path / "nginx", procs), cube
    finally:
        for proc in reversed(procs):
            stop_process(proc)


def truth(cube: Path, day: str) -> np.ndarray:
    """LAI on ``day`` read from the whole catalogue (every part loaded)."""
    coll = query.collection(load(cube), COLL)
    grid = roi_grid(coll, bbox_geometry(BBOX), WGS84)
    with Reader() as reader:
        got = reader.read_many(CubeFiles(str(cube)), coll, [coll.dates[day]], ["LAI"], grid)
    return got["LAI"][day].data.filled(np.nan)


MODES = ["local", "static", "server"]


@pytest.mark.parametrize("wired", MODES, indirect=True)
def test_a_date_fetches_only_its_part(wired):
    wire, cube = wired
    with Cube(wire.source, progress=False) as c:
        assert wire.requests() == 0  # making a Cube does no I/O
        assert c.layers()[0] == "LAI" and wire.parts(c) == []  # the root only
        res = c.extract("LAI", BBOX, start="2018-07-01", end="2018-07-01")
        assert res.dates == ["2018-07-01"]
        assert wire.parts(c) == (["?"] if wire.log is None else [f"/catalogue/{COLL}/2018.json"])
        got = res["LAI"]["2018-07-01"].filled(np.nan)
        assert np.isfinite(got).any()
        assert np.array_equal(got, truth(cube, "2018-07-01"), equal_nan=True)
        series = c.timeseries("LAI", point=(-107.42, 53.81), start="2018-02-01", end="2018-02-28")
        assert list(series["date"].dt.strftime("%Y-%m-%d")) == ["2018-02-01"]
        assert len(wire.parts(c)) == 1  # the same part, from the cache
        assert c.dates(start="2016-03-01", end="2016-04-30") == ["2016-03-01", "2016-04-01"]
        assert len(wire.parts(c)) == 2
        assert len(c.dates()) == 12 * len(YEARS)  # listing every date reads every part
        assert len(wire.parts(c)) == len(YEARS)


@pytest.mark.parametrize("wired", MODES, indirect=True)
def test_a_part_whose_hash_changed_is_fetched_again(wired):
    wire, cube = wired
    with Cube(wire.source, progress=False, refresh=0) as c:
        for day in ("2017-05-01", "2020-05-01"):
            assert c.dates(start=day, end=day) == [day]
        assert len(wire.parts(c)) == 2
        cat = load(cube)
        del cat.collections[COLL].dates["2017-06-01"]
        save(cat, cube)  # 2017's part and the root are rewritten, 2020's is not
        assert c.dates(start="2017-05-01", end="2017-07-31") == ["2017-05-01", "2017-07-01"]
        assert c.dates(start="2020-05-01", end="2020-05-31") == ["2020-05-01"]
        fetched = wire.parts(c)
        assert len(fetched) == 3
        if wire.log is not None:
            assert fetched[-1] == f"/catalogue/{COLL}/2017.json"


def test_the_part_cache_is_bounded(archive):
    with Cube(archive, progress=False) as c:
        parts = load(archive).collections[COLL].parts
        newest = [(archive / parts[str(y)].href).stat().st_size for y in YEARS[-3:]]
        c.part_cache.max_bytes = sum(newest)  # room for the last three parts read
        assert len(c.dates()) == 12 * len(YEARS)
        cache = c.part_cache
        assert cache.reads == len(YEARS) and len(cache) == 3
        assert cache.evictions == len(YEARS) - 3 and cache.nbytes <= cache.max_bytes
        assert c.dates(start="2015-01-01", end="2015-01-31") == ["2015-01-01"]
        assert cache.reads == len(YEARS) + 1  # dropped, so read again
        assert c.dates(start="2015-01-01", end="2015-01-31") == ["2015-01-01"]
        assert cache.reads == len(YEARS) + 1
