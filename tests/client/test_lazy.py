"""The whole cube lazily in xarray: ``Cube.open_dataset`` and ``engine="leafcube"`` read
nothing until computed, then only what is computed, and give ``extract``'s values in
every mode."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from leafcube.client import Cube
from tests.conftest import start_nginx, stop_process

COLL = "leaf-s2-20m-monthly"
BBOX = (-107.47, 53.77, -107.36, 53.85)  # straddles both tiles and their overlap
FIELD = {
    "type": "Polygon",
    "coordinates": [[[-107.45, 53.78], [-107.40, 53.79], [-107.42, 53.83], [-107.45, 53.78]]],
}


@pytest.fixture(scope="module")
def static(demo_cube, tmp_path_factory):
    """The demo cube on a plain nginx whose access log the tests read."""
    tmp = tmp_path_factory.mktemp("lazy-nginx")
    proc, url = start_nginx(demo_cube, tmp)
    yield url, tmp / "access.log"
    stop_process(proc)


def cog_requests(log) -> list[str]:
    return [line for line in log.read_text().splitlines() if ".tif " in line]


@pytest.mark.parametrize("mode", ["local", "static", "server"])
def test_same_values_as_extract(mode, demo_cube, static, server_url):
    source = {"local": demo_cube, "static": static[0], "server": server_url}[mode]
    with Cube(source, progress=False) as cube:
        ds = cube.open_dataset(["LAI", "QC"], BBOX, start="2023-05-01", end="2023-09-30")
        ref = cube.extract(["LAI", "QC"], BBOX, start="2023-05-01", end="2023-09-30")
        assert cube.mode == mode
        assert ds.LAI.chunks is not None  # dask
        assert list(ds.time.dt.strftime("%Y-%m-%d").values) == ref.dates
        for name in ("LAI", "QC"):
            got = ds[name].values
            assert np.array_equal(got, ref.stack(name), equal_nan=True), name
        zeros = (ds.LAI.values == 0).sum()
        assert zeros > 0 and np.isnan(ds.LAI.values).any()  # real zeros and no data
        poly = cube.open_dataset("LAI", FIELD, start="2024-06-01", chunks=False)
        want = cube.extract("LAI", FIELD, start="2024-06-01").stack("LAI")
        assert np.array_equal(poly.LAI.values, want, equal_nan=True)
        one = poly.LAI.isel(time=2, y=slice(10, 40), x=5).values  # xarray's lazy indexing
        assert np.array_equal(one, want[2, 10:40, 5], equal_nan=True)


def test_nothing_read_until_computed(static):
    url, log = static
    with Cube(url, progress=False) as cube:
        before = len(cog_requests(log))
        ds = cube.open_dataset(["LAI"], start="2023-01-01")  # the whole collection
        assert len(cog_requests(log)) == before  # laid out from the catalogue alone
        assert ds.LAI.isel(time=3).count() > 0  # one date: its tiles' COGs, nothing else
        read = cog_requests(log)[before:]
    assert read and all(f"/{COLL}/2023-04-01/" in line for line in read), read


def test_chunks_fall_on_cog_blocks(demo_cube):
    with Cube(demo_cube, progress=False) as cube:
        ds = cube.open_dataset("LAI", start="2024-01-01")
        coll = cube.collection()
    tile = coll.sorted_dates()[-1].layers["LAI"].tiles["tile42"]
    res = coll.resolution
    x0 = float(ds.x[0]) - res / 2
    edges = np.cumsum((0, *ds.LAI.chunks[2]))[:-1]
    for e in edges[1:]:  # every chunk edge but the first sits on the 512 px cut lattice
        assert round((x0 + e * res - tile.bbox[0]) / res) % 512 == 0
    assert set(ds.LAI.chunks[0]) == {1}


def test_xarray_engine(demo_cube, server_url):
    ds = xr.open_dataset(server_url, engine="leafcube", layers="LAI", roi=BBOX, chunks={})
    try:
        assert ds.LAI.chunks is not None
        with Cube(demo_cube, progress=False) as cube:
            ref = cube.extract("LAI", BBOX)
        assert np.array_equal(ds.LAI.values, ref.stack("LAI"), equal_nan=True)
        assert ds.LAI.attrs["units"] == "m2 m-2" and ds.attrs["collection"] == COLL
    finally:
        ds.close()
