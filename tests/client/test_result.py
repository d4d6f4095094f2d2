"""What users get back: xarray, files, time series, empty dates, async, ROI URLs, the CLI,
and GomezEngine's DataStorage."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr

from leafcube.client import Cube, DataStorage
from leafcube.ingest.demo import DEMO_YEARS
from tests.conftest import LEAFCUBE, start_nginx, stop_process

COLL = "leaf-s2-20m-monthly"
FIELD = {
    "type": "Feature",
    "properties": {"name": "field"},
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[-107.445, 53.760], [-107.405, 53.762], [-107.410, 53.785], [-107.445, 53.760]]
        ],
    },
}
POINT = {"type": "Point", "coordinates": [-107.42, 53.81]}


@pytest.fixture(scope="module")
def local(demo_cube) -> Cube:
    return Cube(demo_cube, progress=False)


@pytest.fixture(scope="module")
def field_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("roi") / "field.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [FIELD]}))
    return path


def test_to_xarray(local):
    res = local.extract(["LAI", "QC"], FIELD, start="2023-05-01", end="2023-08-31", qc="data")
    ds = res.to_xarray()
    assert ds["LAI"].dims == ("time", "y", "x") and ds["LAI"].dtype == np.float32
    assert list(ds.time.dt.strftime("%Y-%m-%d").values) == res.dates
    assert ds["LAI"].attrs["units"] == "m2 m-2" and ds["LAI"].attrs["qc_filter"] == "data"
    assert ds["QC"].attrs["flag_meanings"].split()[2] == "invalid"
    assert "QC_sensor" not in ds  # LEAF's QC has no sensor bits since 2023
    qc = ds["QC"].values
    seen = np.isfinite(qc)
    invalid = ds["QC_invalid"].values[seen]
    assert np.array_equal(invalid, (qc[seen].astype(np.uint8) >> 2) & 1)
    assert set(np.unique(invalid)) == {0, 1}
    valid = local.extract("LAI", FIELD, start="2023-05-01", end="2023-08-31").stack("LAI")[seen]
    assert np.isnan(valid[invalid == 1]).all()  # qc="valid" hides what QC calls invalid
    assert np.isfinite(valid[invalid == 0]).any()
    assert "Lambert" in ds["spatial_ref"].attrs["crs_wkt"]
    x, y = res.coords()
    assert float(ds.x[0]) == x[0] == res.transform.c + 10
    lai = res.stack("LAI")
    assert np.array_equal(ds["LAI"].values, lai, equal_nan=True)
    assert np.nanmax(lai) <= 15 and np.isfinite(lai).any()


def test_valid_masks_more_than_data(local):
    valid = local.extract("LAI", FIELD, qc="valid")["LAI"]
    data = local.extract("LAI", FIELD, qc="data")["LAI"]
    n_valid = sum(int((~a.mask).sum()) for a in valid.values())
    n_data = sum(int((~a.mask).sum()) for a in data.values())
    assert 0 < n_valid < n_data


def test_empty_dates_are_reported_not_dropped(local):
    res = local.extract("LAI", POINT)
    assert res.dates == local.dates()
    assert res.empty_dates and set(res.empty_dates) < set(res.dates)
    for d in res.empty_dates:
        assert res["LAI"][d].mask.all()
    assert "empty" in repr(res)


def test_save_netcdf_and_geotiffs(local, tmp_path):
    res = local.extract(["LAI", "fCOVER"], FIELD, start="2023-06-01", end="2023-07-31")
    [nc] = local.download(
        ["LAI", "fCOVER"], FIELD, out=tmp_path / "field.nc", start="2023-06-01", end="2023-07-31"
    )
    with xr.open_dataset(nc) as ds:
        assert np.array_equal(ds["fCOVER"].values, res.stack("fCOVER"), equal_nan=True)
        assert ds["LAI"].attrs["units"] == "m2 m-2"
    tifs = res.save(tmp_path / "tifs")
    assert sorted(p.name for p in tifs) == sorted(
        f"{n}_{d}.tif" for n in ("LAI", "fCOVER") for d in ("2023-06-01", "2023-07-01")
    )
    with rasterio.open(tmp_path / "tifs" / "LAI_2023-07-01.tif") as src:
        assert src.crs.to_epsg() == 3979 and src.transform == res.transform
        assert np.array_equal(src.read(1), res["LAI"]["2023-07-01"].filled(np.nan), equal_nan=True)
    with pytest.raises(ValueError, match=".nc file or a folder"):
        res.save(tmp_path / "x.zarr")


def test_timeseries_same_in_every_mode(local, server_url, nginx_url):
    modes = [local, Cube(server_url, progress=False), Cube(nginx_url, progress=False)]
    for kw in (
        {"roi": FIELD},
        {"point": (-107.42, 53.81)},
        {"roi": (-107.43, 53.8, -107.4, 53.82)},
    ):
        frames = [c.timeseries(["LAI", "fCOVER"], start="2023-03-01", **kw) for c in modes]
        assert list(frames[0].columns) == [
            "date",
            "layer",
            "mean",
            "std",
            "min",
            "max",
            "valid",
            "total",
        ]
        assert len(frames[0]) == 2 * (10 + 12)  # March to December 2023, all of 2024
        for f in frames[1:]:
            pd.testing.assert_frame_equal(f, frames[0])
    with pytest.raises(ValueError, match="either point"):
        local.timeseries("LAI")


def test_async_and_inside_a_running_loop(server_url, local):
    cube = Cube(server_url, progress=False)

    async def both():
        a = await cube.extract_async("LAI", FIELD, start="2023-07-01", end="2023-07-31")
        b = local.extract(
            "LAI", FIELD, start="2023-07-01", end="2023-07-31"
        )  # sync call inside a loop
        return a, b

    a, b = asyncio.run(both())
    assert np.array_equal(a.stack("LAI"), b.stack("LAI"), equal_nan=True)


def test_roi_from_url(local, field_file, tmp_path):
    proc, url = start_nginx(field_file.parent, tmp_path)
    try:
        by_url = local.extract("LAI", f"{url}/field.geojson", start="2023-07-01", end="2023-07-31")
        with pytest.raises(ValueError, match="cannot fetch the ROI"):
            local.extract("LAI", f"{url}/missing.geojson")
    finally:
        stop_process(proc)
    by_path = local.extract("LAI", str(field_file), start="2023-07-01", end="2023-07-31")
    assert np.array_equal(by_url.stack("LAI"), by_path.stack("LAI"), equal_nan=True)


def test_unknown_sources(tmp_path, nginx_url):
    """A Cube is made without I/O; what is wrong with its source is said on first use."""
    for source, mode, message in [
        (tmp_path / "nothing", None, "no cube at"),
        (nginx_url, "server", "not a leafcube server"),
        (nginx_url + "/stac", None, "no leafcube cube at"),
    ]:
        with (
            Cube(source, mode=mode, progress=False) as cube,
            pytest.raises(ValueError, match=message),
        ):
            assert cube.collections
    with pytest.raises(ValueError, match="mode must be one of"):
        Cube(nginx_url, mode="remote")


def test_data_storage_like_gomezengine(demo_cube, server_url, nginx_url, field_file):
    ref = Cube(demo_cube, progress=False).extract(["LAI", "fAPAR"], str(field_file), qc="data")
    for url in (
        f"{server_url}/api/collections/{COLL}/gomez.json",
        f"{nginx_url}/gomez/{COLL}.json",
        server_url,
        str(demo_cube),
    ):
        ds = DataStorage(url)
        assert len(ds.data_db) == 12 * len(DEMO_YEARS) and all(
            isinstance(k, dt.date) for k in ds.data_db
        )
        assert (
            len(ds.data_db[dt.date(2023, 7, 1)])
            == len(ds.valid_bands)
            == len(ref.collection.layers)
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = ds.extract_band(["LAI", "fAPAR"], roi=str(field_file))
        assert set(out) == {"LAI", "fAPAR"}
        for band, by_date in out.items():
            empty = [d for d in ref.dates if ref[band][d].mask.all()]
            assert [d.isoformat() for d in by_date] == [d for d in ref.dates if d not in empty]
            if empty:  # left out like GomezEngine does, but said out loud
                assert any(empty[0] in str(w.message) for w in caught)
            for d, arr in by_date.items():
                assert arr.dtype == np.float32
                assert np.array_equal(arr, ref[band][d.isoformat()].filled(np.nan), equal_nan=True)
    july = ds.extract_band("LAI", dates=[dt.date(2023, 7, 1)], roi=str(field_file))
    assert list(july["LAI"]) == [dt.date(2023, 7, 1)]
    with pytest.raises(ValueError, match="not present in DB"):
        ds.extract_band("LAI", dates=[dt.date(2031, 1, 1)], roi=str(field_file))
    with pytest.raises(ValueError, match="unknown band"):
        ds.extract_band("B04", roi=str(field_file))


def test_cli_get(server_url, field_file, tmp_path):
    out = tmp_path / "field.nc"
    cmd = [*LEAFCUBE, "get", server_url, "--layers", "LAI,fCOVER", "--roi", str(field_file)]
    done = subprocess.run(
        [*cmd, "--start", "2023-05-01", "--end", "2023-09-30", "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "5 dates × 2 layers" in done.stdout and "server mode" in done.stdout
    with xr.open_dataset(out) as ds:
        assert ds["LAI"].shape[0] == 5 and np.isfinite(ds["LAI"].values).any()
    bad = subprocess.run(
        [*LEAFCUBE, "get", server_url, "--layers", "NDVI", "--roi=-107.43,53.80,-107.40,53.82"]
        + ["--out", str(tmp_path / "x.nc")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("leafcube get: error: unknown layer(s) ['NDVI']")
    assert "Traceback" not in bad.stderr
    tifs = tmp_path / "native"
    native = subprocess.run(
        [*LEAFCUBE, "get", server_url, "--layers", "LAI", "--roi=-801000,607920,-799000,609920"]
        + ["--roi-crs", "EPSG:3979", "--start", "2023-07-01", "--end", "2023-07-31"]
        + ["--out", str(tifs), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert native.returncode == 0, native.stderr
    assert "100×100 px" in native.stdout  # 2 km at 20 m, snapped to the native grid
    with rasterio.open(next(tifs.glob("*.tif"))) as ds:
        assert tuple(ds.bounds) == (-801_000.0, 607_920.0, -799_000.0, 609_920.0)


def test_replaced_cog_is_read_again(demo_cube, tmp_path):
    cube_dir = tmp_path / "cube"
    shutil.copytree(demo_cube, cube_dir)
    cube = Cube(cube_dir, progress=False, concurrency=1)
    july = cube.extract("LAI", FIELD, start="2023-07-01", end="2023-07-31", qc="data")
    aug = cube.extract("LAI", FIELD, start="2023-08-01", end="2023-08-31", qc="data")
    month = cube_dir / COLL / "2023-07-01"
    for tile in ("tile42", "tile43"):  # a re-ingest renames a new COG over the old one
        shutil.copy(cube_dir / COLL / "2023-08-01" / tile / "LAI.tif", month / tile / "new.tif")
        os.replace(month / tile / "new.tif", month / tile / "LAI.tif")
    again = cube.extract("LAI", FIELD, start="2023-07-01", end="2023-07-31", qc="data")
    assert not np.array_equal(july.stack("LAI"), aug.stack("LAI"), equal_nan=True)
    assert np.array_equal(again.stack("LAI"), aug.stack("LAI"), equal_nan=True)


def test_timeseries_takes_roi_crs_and_options_are_keywords(local, server_url):
    native = (-801_000.0, 607_920.0, -799_000.0, 609_920.0)  # 2 km on the 20 m lattice
    frames = [
        c.timeseries("LAI", roi=native, roi_crs="EPSG:3979", start="2024-06-01")
        for c in (local, Cube(server_url, progress=False))
    ]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert set(frames[0]["total"]) == {100 * 100}  # read as metres, not as degrees
    with pytest.raises(TypeError):
        local.extract("LAI", native, "2024-07-01")  # a date where roi_crs was meant
    with pytest.raises(TypeError):
        local.download("LAI", native, "out", "2024-07-01")
    with pytest.raises(ValueError, match="looks like a date"):
        local.download("LAI", native, out="2024-07-01")
