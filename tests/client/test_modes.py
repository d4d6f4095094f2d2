"""The three modes (server, plain nginx, local folder) return identical arrays."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import MultiPolygon, Polygon, box, mapping

from leafcube.catalogue import NoDataError
from leafcube.catalogue.roi import reproject
from leafcube.client import Cube

NATIVE = "EPSG:3979"
SPLIT_X = -800_000.0  # tile42 | tile43
DATA = (-806_000.0, 602_925.0, -794_000.0, 614_925.0)  # the demo's extent


def lonlat(geom):
    """A native (EPSG:3979) geometry as lon/lat GeoJSON."""
    return mapping(reproject(geom, NATIVE, "EPSG:4326"))


#: name -> (roi, roi_crs)
ROIS = {
    "straddles-tiles": (
        lonlat(Polygon([(-801_730, 606_010), (-798_310, 607_220), (-799_050, 610_480)])),
        "EPSG:4326",
    ),
    "touches-data-edge": ((DATA[0], 604_000, DATA[0] + 1_500, 606_000), NATIVE),
    "touches-edge-polygon": (
        mapping(Polygon([(DATA[0], 610_000), (DATA[0] + 900, 614_925), (DATA[0], DATA[3])])),
        NATIVE,
    ),
    "partly-outside": (
        lonlat(Polygon([(-797_500, 613_000), (-795_000, 616_500), (-792_000, 613_500)])),
        "EPSG:4326",
    ),
    "multipolygon": (
        lonlat(
            MultiPolygon(
                [
                    box(-803_210, 604_105, -802_130, 605_370),
                    box(-797_890, 608_740, -796_010, 609_990),
                ]
            )
        ),
        "EPSG:4326",
    ),
    "bbox-lonlat": ((-107.43, 53.80, -107.40, 53.82), "EPSG:4326"),
}


@pytest.fixture(scope="module")
def cubes(demo_cube, nginx_url, server_url) -> dict[str, Cube]:
    return {
        "local": Cube(demo_cube, progress=False),
        "static": Cube(nginx_url, progress=False),
        "server": Cube(server_url, progress=False),
        "server-npy": Cube(server_url, wire="npy", progress=False),
        "server-tif": Cube(server_url, wire="tif", progress=False),
        "static-h2c": Cube(server_url, mode="static", progress=False),
    }


def test_modes_are_detected(cubes, demo_cube):
    assert {name: c.mode for name, c in cubes.items()} == {
        "local": "local",
        "static": "static",
        "server": "server",
        "server-npy": "server",
        "server-tif": "server",
        "static-h2c": "static",
    }
    assert cubes["server"].wire == "dn"  # the fewest bytes, decoded to the same values
    assert not cubes["static"].source.h2c
    assert cubes["server"].source.h2c  # the leafcube server speaks h2c: GDAL gets HTTP/2
    assert cubes["static-h2c"].source.gdal_env() == {"GDAL_HTTP_VERSION": "2PRIOR_KNOWLEDGE"}
    for c in cubes.values():
        assert c.collections == ["leaf-s2-20m-monthly"]
        assert c.layers()[:4] == ["LAI", "fCOVER", "fAPAR", "Albedo"]
        assert len(c.dates()) >= 12


@pytest.mark.parametrize("name", sorted(ROIS))
def test_three_modes_identical(cubes, name):
    roi, crs = ROIS[name]
    results = {
        mode: c.extract(["LAI", "fCOVER"], roi, start="2023-04-01", end="2023-09-30", roi_crs=crs)
        for mode, c in cubes.items()
    }
    ref = results["local"]
    assert len(ref.dates) == 6
    assert sum((~np.ma.getmaskarray(a)).sum() for a in ref["LAI"].values()) > 0
    for mode, res in results.items():
        assert res.transform == ref.transform, mode
        assert res.crs == ref.crs == NATIVE
        assert res.dates == ref.dates
        for layer in ("LAI", "fCOVER"):
            for d in ref.dates:
                a, b = res[layer][d], ref[layer][d]
                assert a.dtype == np.float32
                assert np.array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(b)), (mode, d)
                assert np.array_equal(a.filled(np.nan), b.filled(np.nan), equal_nan=True)


def test_straddling_roi_mosaics_both_tiles(cubes):
    roi, crs = ROIS["straddles-tiles"]
    res = cubes["local"].extract(
        "LAI", roi, start="2023-07-01", end="2023-07-31", qc="data", roi_crs=crs
    )
    x, _ = res.coords()
    arr = res["LAI"]["2023-07-01"]
    west, east = ~np.ma.getmaskarray(arr)[:, x < SPLIT_X], ~np.ma.getmaskarray(arr)[:, x > SPLIT_X]
    assert west.any() and east.any()


def test_partly_outside_is_masked_outside_the_data(cubes):
    roi, crs = ROIS["partly-outside"]
    res = cubes["local"].extract(
        "LAI", roi, start="2023-07-01", end="2023-07-31", qc="data", roi_crs=crs
    )
    x, y = res.coords()
    outside = (y[:, None] > DATA[3]) | (x[None, :] > DATA[2])
    arr = res["LAI"]["2023-07-01"]
    assert outside.any() and np.ma.getmaskarray(arr)[outside].all()
    assert (~np.ma.getmaskarray(arr)[~outside]).any()


@pytest.mark.parametrize("mode", ["local", "static", "server"])
def test_clear_errors(cubes, mode):
    cube = cubes[mode]
    roi = ROIS["bbox-lonlat"][0]
    with pytest.raises(ValueError, match="does not overlap"):
        cube.extract("LAI", (-79.5, 43.6, -79.3, 43.7), start="2023-01-01", end="2023-12-31")
    with pytest.raises(NoDataError, match="no dates of 'leaf-s2-20m-monthly' between 2031"):
        cube.extract("LAI", roi, start="2031-01-01", end="2031-12-31")
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['NDVI'\]"):
        cube.extract(["LAI", "NDVI"], roi)
    with pytest.raises(ValueError, match="qc must be"):
        cube.extract("LAI", roi, qc="best")


def test_unknown_wire_format_is_refused(server_url):
    with pytest.raises(ValueError, match=r"wire must be one of \('dn', 'npy', 'tif'\), not 'png'"):
        Cube(server_url, wire="png", progress=False)
