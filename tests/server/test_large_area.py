"""A large subset is read in parts of one COG block, so a small subset of the same date
(whose read shares the large read's lane) is answered within a bound of its time alone
while a 10,000 km² read of 25 million pixels runs."""

from __future__ import annotations

import statistics
import time

import httpx
import pytest

from bench.largearea import PROBE, area, large_cube, subset_params
from tests.hardening.busy import counts, open_request, wait_for

#: Its bounds on time or memory hold on a quiet machine: run apart from other tests.
pytestmark = pytest.mark.serial

#: Requests of the probe alone, then beside the large read.
ALONE, BESIDE = 10, 3
#: The bound on the probes beside the large read: this many times the median alone, or
#: this many seconds, whichever is larger. Measured on 2 busy cores: 20-30 ms alone, at
#: most 0.45 s beside it; read whole (one job on the date's lane, as before the parts),
#: the large read held the first probe 5 s.
FACTOR, FLOOR_S = 10.0, 1.5


@pytest.fixture(scope="module")
def large(tmp_path_factory, start_server):
    """A server of a 10,000 km² cube of 2 dates, with a budget that allows one whole date
    (100 MB of float32)."""
    cube, name = large_cube(tmp_path_factory.mktemp("large"), dates=2)
    served = start_server(cube, "--max-request-mb", "200")
    return served.url, f"/api/collections/{name}/subset"


def test_a_small_subset_beside_a_large_one(large):
    url, path = large
    key = "2000-01-01"
    with httpx.Client(timeout=60) as client:
        assert client.get(f"{url}{path}", params=subset_params(PROBE, key)).status_code == 200
        alone = []
        for _ in range(ALONE):
            t = time.perf_counter()
            assert client.get(f"{url}{path}", params=subset_params(PROBE, key)).status_code == 200
            alone.append(time.perf_counter() - t)
        big = open_request(url, path, subset_params(area(), key))  # 5,000 x 5,000 px
        try:
            wait_for(url, lambda c: c["queued"] + c["running"] > 0)
            beside, left = [], []
            for _ in range(BESIDE):
                t = time.perf_counter()
                r = client.get(f"{url}{path}", params=subset_params(PROBE, key))
                beside.append(time.perf_counter() - t)
                assert r.status_code == 200 and r.headers["x-leafcube-shape"] == "1,1,64,64"
                c = counts(url)
                left.append(c["queued"] + c["running"])
        finally:
            big.close()
    assert left[0] > 0, "the large read had ended: it did not run beside the first probe"
    bound = max(FLOOR_S, FACTOR * statistics.median(alone))
    assert max(beside) < bound, (sorted(beside), statistics.median(alone))
    wait_for(url, lambda c: c["queued"] == 0 and c["running"] == 0)  # the big one dropped
