"""Large ROIs split by area: in every mode the windows, pasted, equal one whole read of
the ROI by the reader, pixel for pixel; 10,000 km² on one date works under the server's
default pixel budget, which refuses it as one request."""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest
import rasterio
from shapely.geometry import Polygon, box

from leafcube.catalogue import load
from leafcube.catalogue.query import collection
from leafcube.client import Cube
from leafcube.reader import CubeFiles, Datasets, roi_grid
from leafcube.reader.parts import PART_PIXELS
from leafcube.reader.read import HTTP_ENV, read_layer
from leafcube.server.config import DEFAULT_MAX_REQUEST_MB
from tests.conftest import LEAFCUBE, free_port, start_process, stop_process

NATIVE = "EPSG:3979"
#: A polygon over most of the demo's data and beyond it, across both tiles (EPSG:3979):
#: 680 x 652 px, 1.8 MB of float32 a date, on parts of several COG blocks.
POLYGON = Polygon(
    [(-807_000, 601_900), (-793_400, 603_000), (-795_000, 614_925), (-806_000, 612_000)]
)
#: 100 x 100 km (5,000 x 5,000 px, 100 MB of float32) around the demo's 12 km square.
TEN_THOUSAND_KM2 = (-850_000.0, 558_920.0, -750_000.0, 658_920.0)
DATES = ("2023-06-01", "2023-08-31")


def whole_read(cube, roi, layers, start, end, qc="data"):
    """``{layer: {date: float32 with NaN}}`` of ``roi`` read whole, one call of the
    reader's pixel path per (layer, date) on this thread: the truth."""
    coll = collection(load(cube), None)
    grid = roi_grid(coll, roi, NATIVE)
    files, datasets = CubeFiles(str(cube)), Datasets(64, None)
    entries = [e for e in coll.sorted_dates() if start <= e.key <= end]
    try:
        with rasterio.Env(**HTTP_ENV):
            return grid, {
                layer: {
                    e.key: read_layer(datasets, files, coll, e, layer, grid, qc).data.filled(np.nan)
                    for e in entries
                }
                for layer in layers
            }
    finally:
        datasets.close()


def assert_same(res, grid, truth):
    assert res.transform == grid.transform and res.shape == grid.shape
    for layer, by_date in truth.items():
        assert res.dates == list(by_date)
        for key, want in by_date.items():
            got = res[layer][key]
            assert got.dtype == np.float32
            assert np.array_equal(np.ma.getmaskarray(got), np.isnan(want)), (layer, key)
            assert np.array_equal(got.filled(np.nan), want, equal_nan=True), (layer, key)


@pytest.fixture(scope="module")
def tight_url(demo_cube):
    """A server whose budget (1.2 MB) holds one COG block of one date, not the polygon's."""
    port = free_port()
    args = [*LEAFCUBE, "serve", str(demo_cube), "--host", "127.0.0.1", "--port", str(port)]
    proc = start_process(
        [*args, "--max-request-mb", "1.2"], f"http://127.0.0.1:{port}/catalogue.json"
    )
    yield f"http://127.0.0.1:{port}"
    stop_process(proc)


@pytest.mark.parametrize("mode", ["server", "server-413", "static", "local"])
def test_split_by_area_equals_one_whole_read(mode, demo_cube, server_url, nginx_url, tight_url):
    grid, truth = whole_read(demo_cube, POLYGON, ["LAI", "QC"], *DATES, qc="valid")
    assert grid.pixels > PART_PIXELS  # the reader reads it in parts
    assert grid.pixels * 4 > 1.5e6 > 1.2e6  # one date is more than one request holds
    assert (~grid.inside).sum() > 10_000 and np.isfinite(truth["LAI"]["2023-07-01"]).sum() > 100_000
    cube = {
        "server": lambda: Cube(server_url, max_request_mb=1.5, progress=False),  # splits itself
        "server-413": lambda: Cube(tight_url, progress=False),  # halves on the server's 413
        "static": lambda: Cube(nginx_url, progress=False),
        "local": lambda: Cube(demo_cube, progress=False),
    }[mode]()
    with cube:
        res = cube.extract(
            ["LAI", "QC"], POLYGON, start=DATES[0], end=DATES[1], qc="valid", roi_crs=NATIVE
        )
    assert_same(res, grid, truth)


def test_ten_thousand_km2_on_one_date_under_the_default_budget(demo_cube, server_url):
    api = f"{server_url}/api/collections/leaf-s2-20m-monthly/subset"
    params = {
        "layers": "LAI",
        "bbox": ",".join(map(str, TEN_THOUSAND_KM2)),
        "bbox-crs": NATIVE,
        "start": "2023-07-01",
        "end": "2023-07-01",
        "format": "npy",
    }
    whole = httpx.get(api, params=params, timeout=60)
    assert whole.status_code == 413, whole.text[:200]  # as one request: over the budget
    assert f"the limit is {DEFAULT_MAX_REQUEST_MB:g} MB" in whole.json()["detail"]

    grid, truth = whole_read(demo_cube, box(*TEN_THOUSAND_KM2), ["LAI"], "2023-07-01", "2023-07-01")
    assert grid.shape == (5000, 5000)
    with Cube(server_url, progress=False) as cube:
        res = cube.extract(
            "LAI", TEN_THOUSAND_KM2, start="2023-07-01", end="2023-07-01", roi_crs=NATIVE
        )
        assert_same(res, grid, truth)
        assert np.isfinite(res.stack("LAI")).sum() > 100_000
        series = cube.timeseries(
            "LAI", roi=TEN_THOUSAND_KM2, start="2023-07-01", end="2023-07-01", roi_crs=NATIVE
        )
    with Cube(demo_cube, progress=False) as local:
        want = local.timeseries(
            "LAI", roi=TEN_THOUSAND_KM2, start="2023-07-01", end="2023-07-01", roi_crs=NATIVE
        )
    pd.testing.assert_frame_equal(series, want)
    assert series["total"].tolist() == [5000 * 5000]
