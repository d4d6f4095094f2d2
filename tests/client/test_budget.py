"""A server with a small pixel budget: the client asks again in smaller date ranges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leafcube.client import Cube, ExtractError
from leafcube.ingest.demo import DEMO_YEARS
from tests.conftest import LEAFCUBE, free_port, start_process, stop_process

BBOX = (-107.43, 53.80, -107.40, 53.82)  # 128 x 117 pixels: 60 KB of float32 a date


@pytest.fixture(scope="module")
def tight_url(demo_cube):
    port = free_port()
    proc = start_process(
        [*LEAFCUBE, "serve", str(demo_cube), "--host", "127.0.0.1", "--port", str(port)]
        + ["--max-request-mb", "0.1"],
        f"http://127.0.0.1:{port}/catalogue.json",
    )
    yield f"http://127.0.0.1:{port}"
    stop_process(proc)


def test_requests_over_the_budget_are_split(tight_url, demo_cube):
    local = Cube(demo_cube, progress=False)
    cube = Cube(tight_url, progress=False)  # asks 8 MB at first: 413, then halves
    res = cube.extract(["LAI", "fCOVER"], BBOX)
    ref = local.extract(["LAI", "fCOVER"], BBOX)
    assert res.dates == ref.dates and len(res.dates) == 12 * len(DEMO_YEARS)
    for layer in ("LAI", "fCOVER"):
        assert np.array_equal(res.stack(layer), ref.stack(layer), equal_nan=True)
    pd.testing.assert_frame_equal(
        cube.timeseries("LAI", roi=BBOX), local.timeseries("LAI", roi=BBOX)
    )


def test_one_date_over_the_budget_names_it(tight_url):
    whole = (-107.53, 53.74, -107.31, 53.88)  # every pixel: 3 MB a date; any date may fail first
    with pytest.raises(
        ExtractError,
        match=r"could not fetch LAI for 202[34]-\d\d-01: 413: the request needs",
    ):
        Cube(tight_url, progress=False).extract("LAI", whole)
