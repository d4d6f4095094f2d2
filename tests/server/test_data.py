"""Subsets and time series: exactly the reader's arrays, in every format; budgets and errors."""

from __future__ import annotations

import datetime as dt
import io
import time

import httpx
import numpy as np
import pytest
import rasterio
import xarray as xr
import zstandard
from shapely.geometry import Point, Polygon, mapping, shape

from leafcube.catalogue import DateEntry, load, query, save
from leafcube.catalogue.roi import bbox_geometry
from leafcube.client import Cube
from leafcube.reader import CubeFiles, Reader, roi_grid

BBOX = (-107.45, 53.78, -107.40, 53.82)
POLY = {
    "type": "Feature",
    "properties": {},
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[-107.45, 53.78], [-107.40, 53.79], [-107.42, 53.83], [-107.45, 53.78]]],
    },
}


def _expected(served, layers, start, end, geom, qc="data", crs="EPSG:4326"):
    """The reader's own answer, as the server's (layer, time, y, x) NaN-filled stack."""
    coll = load(served.cube).collections[served.collection]
    entries = query.dates_between(coll, start, end)
    grid = roi_grid(coll, geom, crs)
    with Reader() as reader:
        reads = reader.read_many(CubeFiles(str(served.cube)), coll, entries, layers, grid, qc)
    stack = np.stack(
        [np.stack([reads[n][e.key].data.filled(np.nan) for e in entries]) for n in layers]
    )
    return stack, grid, [e.key for e in entries]


def _url(served, what):
    return f"/api/collections/{served.collection}/{what}"


@pytest.fixture(scope="module")
def expected(served):
    return _expected(served, ["LAI", "fCOVER"], "2023-03-01", "2023-06-30", bbox_geometry(BBOX))


def _params(fmt):
    return {
        "layers": "LAI,fCOVER",
        "start": "2023-03-01",
        "end": "2023-06-30",
        "bbox": ",".join(map(str, BBOX)),
        "format": fmt,
    }


def test_subset_geotiff(h2, served, expected):
    want, grid, dates = expected
    r = h2.get(_url(served, "subset"), params=_params("tif"))
    assert r.status_code == 200, r.text
    with rasterio.open(io.BytesIO(r.content)) as ds:
        assert ds.crs.to_string() == "EPSG:3979"
        assert ds.transform == grid.transform
        got = ds.read().reshape(want.shape)
        assert ds.tags(1)["layer"] == "LAI" and ds.tags(1)["date"] == dates[0]
        assert ds.tags(ds.count)["layer"] == "fCOVER" and ds.tags(ds.count)["date"] == dates[-1]
    np.testing.assert_array_equal(got, want)
    assert np.isnan(want).any() and not np.isnan(want).all()


def test_subset_npy_headers(h2, served, expected):
    want, grid, dates = expected
    r = h2.get(_url(served, "subset"), params=_params("npy"))
    got = np.load(io.BytesIO(r.content))
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float32
    t = [float(v) for v in r.headers["x-leafcube-transform"].split(",")]
    assert t == list(grid.transform)[:6]
    assert r.headers["x-leafcube-crs"] == "EPSG:3979"
    assert r.headers["x-leafcube-dates"].split(",") == dates
    assert r.headers["x-leafcube-layers"] == "LAI,fCOVER"


def test_subset_dn_decodes_to_the_same_values(h2, served, expected):
    """The documented recipe: zstd frame, an .npy of DNs per layer, a packed mask."""
    want, grid, dates = expected
    r = h2.get(_url(served, "subset"), params=_params("dn"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-leafcube-dn+zstd"
    raw = zstandard.ZstdDecompressor().decompress(r.content)
    buf = io.BytesIO(raw)
    dns = [np.load(buf) for _ in range(2)]
    packed = np.load(buf)
    assert buf.tell() == len(raw)
    coll = load(served.cube).collections[served.collection]
    # stored int16 with -9999 where masked, LEAF's DNs travel as the uint8 they are
    assert [coll.layers[n].dtype for n in ("LAI", "fCOVER")] == ["int16", "int16"]
    assert [d.dtype.name for d in dns] == ["uint8", "uint8"]
    masked = np.unpackbits(packed, axis=-1, count=grid.shape[1]).astype(bool)
    scales = [float(v) for v in r.headers["x-leafcube-scales"].split(",")]
    offsets = [float(v) for v in r.headers["x-leafcube-offsets"].split(",")]
    assert scales == [coll.layers[n].scale for n in ("LAI", "fCOVER")]
    got = np.stack(
        [
            d.astype(np.float32) * np.float32(s) + np.float32(o)
            for d, s, o in zip(dns, scales, offsets, strict=True)
        ]
    )
    got[masked] = np.nan
    np.testing.assert_array_equal(got, want)
    assert masked.any() and not masked.all()
    assert all(
        (d[m] == 0).all() for d, m in zip(dns, masked, strict=True)
    )  # masked DNs compress away
    assert r.headers["x-leafcube-dates"].split(",") == dates
    assert r.headers["x-leafcube-dates-count"] == str(len(dates))
    npy = h2.get(_url(served, "subset"), params=_params("npy"))
    assert len(r.content) * 4 < len(npy.content)


def test_subset_netcdf_cf(h2, served, expected):
    want, grid, dates = expected
    r = h2.get(_url(served, "subset"), params=_params("nc"))
    ds = xr.open_dataset(io.BytesIO(r.content), engine="h5netcdf")
    assert [str(d)[:10] for d in ds.time.values] == dates
    np.testing.assert_array_equal(ds["LAI"].values, want[0])
    np.testing.assert_array_equal(ds["fCOVER"].values, want[1])
    assert ds["LAI"].attrs["grid_mapping"] == "spatial_ref"
    assert "Lambert" in ds["spatial_ref"].attrs["crs_wkt"]
    assert ds.x.values[0] == grid.transform.c + grid.transform.a / 2


def test_server_and_client_make_the_same_netcdf(h2, served, tmp_path):
    params = _params("nc") | {"layers": "LAI,QC", "qc": "data"}
    served_nc = xr.open_dataset(io.BytesIO(h2.get(_url(served, "subset"), params=params).content))
    res = Cube(str(served.cube), progress=False).extract(
        ["LAI", "QC"], BBOX, start=params["start"], end=params["end"], qc="data"
    )
    res.save(tmp_path / "client.nc")
    with xr.open_dataset(tmp_path / "client.nc") as saved:
        xr.testing.assert_identical(served_nc, saved)
    assert "QC_invalid" in served_nc  # the bitmask's fields come decoded on both sides


def test_subset_post_polygon_and_qc(h2, served):
    want, _, _ = _expected(
        served, ["LAI"], "2023-07-01", "2023-07-31", shape(POLY["geometry"]), "valid"
    )
    r = h2.post(
        _url(served, "subset"),
        params={
            "layers": "LAI",
            "start": "2023-07-01",
            "end": "2023-07-31",
            "format": "npy",
            "qc": "valid",
        },
        json=POLY,
    )
    assert r.status_code == 200, r.text
    got = np.load(io.BytesIO(r.content))
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[0, 0, 0, -1])  # the corner lies outside the triangle


def test_subset_post_polygon_in_the_native_crs(h2, served):
    """A GeoJSON body in another CRS (``crs=``) is read as is, not as lon/lat."""
    native = Polygon([(-801_730, 606_010), (-798_310, 607_220), (-799_050, 610_480)])
    want, grid, _ = _expected(served, ["LAI"], "2023-07-01", "2023-07-31", native, crs="EPSG:3979")
    params = {"layers": "LAI", "start": "2023-07-01", "end": "2023-07-31", "format": "npy"}
    r = h2.post(_url(served, "subset"), params=params | {"crs": "EPSG:3979"}, json=mapping(native))
    assert r.status_code == 200, r.text
    np.testing.assert_array_equal(np.load(io.BytesIO(r.content)), want)
    series = h2.post(
        _url(served, "timeseries"),
        params={"layers": "LAI", "crs": "EPSG:3979"},
        json=mapping(native),
    )
    assert series.status_code == 200, series.text
    assert series.json()["pixels"] == int(grid.inside.sum()) > 100
    lonlat = h2.post(_url(served, "subset"), params=params, json=mapping(native))
    assert lonlat.status_code == 400  # the same numbers as lon/lat lie nowhere near the data
    bad = h2.post(_url(served, "subset"), params=params | {"crs": "EPSG:0"}, json=mapping(native))
    assert bad.status_code == 400 and "crs 'EPSG:0' is not a CRS" in bad.json()["detail"]


def test_timeseries_point(h2, served):
    coll = load(served.cube).collections[served.collection]
    r = h2.get(
        _url(served, "timeseries"), params={"layers": "LAI,Albedo", "lon": -107.42, "lat": 53.80}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["dates"] == sorted(coll.dates) and body["pixels"] == 1
    want, _, _ = _expected(served, ["LAI", "Albedo"], None, None, Point(-107.42, 53.80))
    for i, layer in enumerate(["LAI", "Albedo"]):
        values = want[i, :, 0, 0]
        got = body["layers"][layer]
        assert got["valid"] == [int(v) for v in ~np.isnan(values)]
        assert got["mean"] == [None if np.isnan(v) else pytest.approx(float(v)) for v in values]


def test_timeseries_polygon_stats(h2, served):
    r = h2.post(_url(served, "timeseries"), params={"layers": "fCOVER", "qc": "valid"}, json=POLY)
    body = r.json()
    want, grid, dates = _expected(served, ["fCOVER"], None, None, shape(POLY["geometry"]), "valid")
    stats = body["layers"]["fCOVER"]
    assert body["pixels"] == int(grid.inside.sum()) and body["dates"] == dates
    for j in range(len(dates)):
        v = want[0, j][~np.isnan(want[0, j])].astype(np.float64)
        assert stats["valid"][j] == v.size and stats["total"][j] == body["pixels"]
        if v.size:
            assert stats["mean"][j] == pytest.approx(v.mean())
            assert stats["std"][j] == pytest.approx(v.std())
            assert (stats["min"][j], stats["max"][j]) == pytest.approx((v.min(), v.max()))


@pytest.mark.parametrize(
    ("method", "params", "body", "status", "hint"),
    [
        ("get", {"layers": "LAI", "bbox": "1,2,3"}, None, 400, "four numbers"),
        ("get", {"layers": "LAI", "bbox": "3,2,1,4"}, None, 400, "minx < maxx"),
        ("get", {"layers": "LAX", "bbox": ",".join(map(str, BBOX))}, None, 400, "available"),
        (
            "get",
            {"layers": "LAI", "bbox": ",".join(map(str, BBOX)), "start": "2023-13-01"},
            None,
            400,
            "not a date",
        ),
        (
            "get",
            {
                "layers": "LAI",
                "bbox": ",".join(map(str, BBOX)),
                "start": "2023-06-01",
                "end": "2023-01-01",
            },
            None,
            400,
            "after",
        ),
        (
            "get",
            {
                "layers": "LAI",
                "bbox": ",".join(map(str, BBOX)),
                "start": "1990-01-01",
                "end": "1990-02-01",
            },
            None,
            404,
            "no dates",
        ),
        ("get", {"layers": "LAI", "bbox": "10,10,11,11"}, None, 400, "does not overlap"),
        ("get", {"layers": "LAI", "bbox": "-120,45,-90,60"}, None, 413, "limit is 48 MB"),
        ("get", {"layers": "LAI", "bbox": "0,0,1,1", "bbox-crs": "EPSG:0"}, None, 400, "not a CRS"),
        (
            "get",
            {"layers": "LAI", "bbox": ",".join(map(str, BBOX)), "format": "png"},
            None,
            422,
            "format",
        ),
        (
            "post",
            {"layers": "LAI"},
            {"type": "Polygon", "coordinates": [[[1, 2], [3]]]},
            400,
            "GeoJSON",
        ),
        (
            "post",
            {"layers": "LAI"},
            {"type": "FeatureCollection", "features": []},
            400,
            "no features",
        ),
        ("post", {"layers": "LAI"}, {"hello": 1}, 400, "'type'"),
        (
            "post",
            {"layers": "LAI", "crs": 'LOCAL_CS["site grid",UNIT["metre",1]]'},
            {"type": "Point", "coordinates": [10, 10]},
            400,
            "cannot be projected",
        ),
    ],
)
def test_bad_subsets_say_what_to_change(h2, served, method, params, body, status, hint):
    kw = {"params": params} | ({"json": body} if body is not None else {})
    r = getattr(h2, method)(_url(served, "subset"), **kw)
    assert r.status_code == status, r.text
    assert hint in r.json()["detail"]


def test_timeseries_bbox_equals_polygon(h2, served):
    box = {"type": "Polygon", "coordinates": [[[-107.45, 53.78], [-107.40, 53.78],
           [-107.40, 53.82], [-107.45, 53.82], [-107.45, 53.78]]]}  # fmt: skip
    params = {"layers": "LAI", "qc": "valid"}
    by_box = h2.get(_url(served, "timeseries"), params=params | {"bbox": ",".join(map(str, BBOX))})
    by_poly = h2.post(_url(served, "timeseries"), params=params, json=box)
    assert by_box.status_code == 200, by_box.text
    assert by_box.json() == by_poly.json()


def test_timeseries_bad_roi(h2, served):
    r = h2.get(_url(served, "timeseries"), params={"layers": "LAI", "lon": 500, "lat": 0})
    assert r.status_code == 422 and "lon" in r.json()["detail"]
    for params in ({}, {"lon": -107.42}, {"lon": -107.42, "lat": 53.8, "bbox": "1,2,3,4"}):
        r = h2.get(_url(served, "timeseries"), params={"layers": "LAI"} | params)
        assert r.status_code == 400 and "lon and lat" in r.json()["detail"]


@pytest.mark.slow
def test_thousand_dates_in_one_request(served, tmp_path, start_server):
    """A cube whose catalogue lists 1,000 daily periods (all pointing at the demo's COGs)."""
    cat = load(served.cube)
    coll = cat.collections[served.collection]
    months = coll.sorted_dates()
    day0 = dt.date(2020, 1, 1)
    coll.dates = {}
    for i in range(1000):
        day = day0 + dt.timedelta(days=i)
        coll.dates[day.isoformat()] = DateEntry(day, day, months[i % len(months)].layers)
    (tmp_path / served.collection).symlink_to(served.cube / served.collection)
    save(cat, tmp_path)
    big = start_server(tmp_path)
    with httpx.Client(base_url=big.url, http1=False, http2=True, timeout=120) as c:
        t0 = time.monotonic()
        r = c.get(_url(big, "timeseries"), params={"layers": "LAI", "lon": -107.42, "lat": 53.80})
        elapsed = time.monotonic() - t0
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["dates"]) == len(body["layers"]["LAI"]["mean"]) == 1000
    assert body["layers"]["LAI"]["valid"][:24] == body["layers"]["LAI"]["valid"][24:48]
    assert elapsed < 30, elapsed
