"""One large request cannot starve small ones, and a request's work is bounded: a 1-date
time series stays quick while three clients each read 2,100 (layer, date) pairs, and a
request over the cap of (layer, date) pairs or naming a layer twice is refused up front."""

from __future__ import annotations

import time

import httpx
import pytest

from leafcube.server.config import DEFAULT_MAX_READS as MAX_READS
from tests.conftest import stop_process
from tests.hardening.busy import POINT, busy_cube, counts, fresh_points, open_request, wait_for
from tests.hardening.conftest import start_worker

#: Its bounds on time or memory hold on a quiet machine: run apart from other tests.
pytestmark = pytest.mark.serial

#: Dates of the cube: enough for a request over MAX_READS with the demo's 7 layers.
DATES = 1500
#: Dates each large request reads (x 7 layers = 2,100 reads).
BIG_DATES = 300
BIG = 3
PROBES = 40
#: The bound on the probes' p99 (the slowest of 40) while the large requests read.
#: Measured 0.19 s (median 55 ms); before the lanes took turns, the first probe waited for every
#: read queued ahead of it (several seconds).
PROBE_P99_S = 1.0


@pytest.fixture(scope="module")
def busy(demo_cube, tmp_path_factory):
    cube = busy_cube(demo_cube, tmp_path_factory.mktemp("fair") / "cube", DATES)
    worker = start_worker(cube.folder)
    yield cube, worker.url
    stop_process(worker.proc)


@pytest.mark.slow
def test_a_probe_is_answered_while_large_requests_read(busy):
    cube, url = busy
    probe = cube.series_params(POINT, 1, ["LAI"])
    api = f"{url}{cube.series_path()}"
    with httpx.Client(timeout=60) as client:
        assert client.get(api, params=probe).status_code == 200  # its pixels are cached now
        base = counts(url)
        points = fresh_points()
        big = [
            open_request(url, cube.series_path(), cube.series_params(next(points), BIG_DATES))
            for _ in range(BIG)
        ]
        try:
            total = BIG * BIG_DATES * len(cube.layers)
            wait_for(url, lambda c: c["queued"] + c["running"] + c["done"] >= base["done"] + total)
            took = []
            for _ in range(PROBES):
                t = time.perf_counter()
                r = client.get(api, params=probe)
                took.append(time.perf_counter() - t)
                assert r.status_code == 200 and len(r.json()["dates"]) == 1
            left = counts(url)["queued"]
        finally:
            for sock in big:
                sock.close()
    assert left > 0, "the large requests had finished: they did not load every probe"
    assert sorted(took)[int(PROBES * 0.99)] < PROBE_P99_S, sorted(took)[-5:]
    # the departed clients' reads are dropped
    wait_for(url, lambda c: c["queued"] == 0 and c["running"] == 0)


def test_too_many_reads_are_refused_before_reading(busy):
    cube, url = busy
    before = counts(url)
    dates = MAX_READS // len(cube.layers) + 1
    assert dates <= DATES
    r = httpx.get(f"{url}{cube.series_path()}", params=cube.series_params(POINT, dates))
    assert r.status_code == 413
    assert f"the limit is {MAX_READS}" in r.json()["detail"]
    one = cube.series_params(POINT, dates, ["LAI"])
    r = httpx.get(f"{url}{cube.series_path()}", params=one, timeout=60)
    assert r.status_code == 200 and len(r.json()["dates"]) == dates  # one layer: under it
    r = httpx.get(f"{url}{cube.series_path()}", params=cube.series_params(POINT, 1, ["LAI"] * 3))
    assert r.status_code == 400 and "more than once" in r.json()["detail"]
    assert counts(url)["queued"] == 0
    assert counts(url)["done"] - before["done"] == dates  # only the 1-layer series read
