"""A UTM 30 m export (LEAF's ``projection`` and ``scale`` parameters): a collection of its
own that the server's subsets, tiles, WMTS, STAC and GomezEngine view and the client
serve right, checked against the scene's truth (tests/ingest/ee.py) and pyproj."""

from __future__ import annotations

import io
import json
import subprocess

import httpx
import numpy as np
import pytest
import rasterio
from owslib.wmts import WebMapTileService
from PIL import Image
from pyproj import Transformer

from leafcube.client import Cube
from leafcube.server.tms import TMS
from tests.conftest import LEAFCUBE, free_port, start_process, stop_process
from tests.ingest import ee

#: UTM zone 14N near 53.8° N, 97.5° W, on Earth Engine's 30 m lattice.
LEFT, TOP, RES, CRS = 600_000.0, 5_960_010.0, 30.0, "EPSG:32614"
SHAPE = (40, 50)
BBOX = (LEFT, TOP - SHAPE[0] * RES, LEFT + SHAPE[1] * RES, TOP)
COLL = "leaf-landsat-30m-monthly-epsg32614"
KEY = "2024-08-01"


@pytest.fixture(scope="module")
def utm(tmp_path_factory):
    """The ingested cube served by ``leafcube serve``: (url, cube, scene)."""
    root = tmp_path_factory.mktemp("utm")
    s = ee.scene(11, SHAPE, 2024, 8)
    for name, data in ee.layers(s, "current").items():
        path = root / "drive" / "tile42_2024" / f"tile42_Aug_{name}_30m.tif"
        ee.write(path, data, LEFT, TOP, res=RES, crs=CRS)
    cube = root / "cube"
    done = subprocess.run(
        [*LEAFCUBE, "ingest", str(root / "drive"), "--cube", str(cube), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_process(
        [*LEAFCUBE, "serve", str(cube), "--host", "127.0.0.1", "--port", str(port)],
        f"{url}/catalogue.json",
    )
    yield url, cube, s
    stop_process(proc)


def _lai(s: ee.Scene) -> np.ndarray:
    """LAI in physical units, NaN where the scene has no estimate."""
    return np.where(s.has, s.dn["LAI"].astype(np.float32) * np.float32(1 / 20), np.nan)


def test_the_collection_keeps_its_crs_and_pixel_size(utm):
    url, _, _ = utm
    coll = httpx.get(f"{url}/api/collections/{COLL}").json()
    assert coll["crs"] == CRS and coll["resolution"] == RES
    assert coll["extent"]["native"] == list(BBOX)
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(
        (BBOX[0] + BBOX[2]) / 2, (BBOX[1] + BBOX[3]) / 2
    )
    w, s_, e, n = coll["extent"]["wgs84"]
    assert w < lon < e and s_ < lat < n and -98 < lon < -97 and 53 < lat < 54


def test_subset_in_the_native_crs_and_client(utm):
    url, cube, s = utm
    params = {
        "layers": "LAI",
        "start": KEY,
        "end": KEY,
        "format": "npy",
        "qc": "data",
        "bbox": ",".join(map(str, BBOX)),
        "bbox-crs": CRS,
    }
    r = httpx.get(f"{url}/api/collections/{COLL}/subset", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["x-leafcube-crs"] == CRS
    np.testing.assert_array_equal(np.load(io.BytesIO(r.content))[0, 0], _lai(s))
    for source in (url, str(cube)):
        got = Cube(source, progress=False).extract(
            "LAI", BBOX, start=KEY, end=KEY, qc="data", roi_crs=CRS, collection=COLL
        )
        assert got.crs == CRS
        np.testing.assert_array_equal(got["LAI"][KEY].filled(np.nan), _lai(s))


def test_web_mercator_tile_shows_the_data_where_it_is(utm):
    url, _, s = utm
    tms = TMS["WebMercatorQuad"]
    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lon, lat = to_ll.transform(LEFT + 25 * RES, TOP - 20 * RES)
    t = tms.tile(lon, lat, 15)
    r = httpx.get(
        f"{url}/api/collections/{COLL}/tiles/LAI/{KEY}/WebMercatorQuad/15/{t.x}/{t.y}.png"
    )
    assert r.status_code == 200
    alpha = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))[..., 3] > 0
    # the truth: each tile pixel's centre taken to UTM and looked up in the scene
    b = tms.xy_bounds(t)
    step = (b.right - b.left) / 256
    xs = b.left + (np.arange(256) + 0.5) * step
    ys = b.top - (np.arange(256) + 0.5) * step
    gx, gy = np.meshgrid(xs, ys)
    ux, uy = Transformer.from_crs("EPSG:3857", CRS, always_xy=True).transform(gx, gy)
    col, row = np.floor((ux - LEFT) / RES).astype(int), np.floor((TOP - uy) / RES).astype(int)
    inside = (col >= 0) & (col < SHAPE[1]) & (row >= 0) & (row < SHAPE[0])
    want = np.zeros((256, 256), bool)
    want[inside] = s.has[row[inside], col[inside]]
    assert want.any() and (~want).any()
    assert (alpha == want).mean() > 0.98  # only pixels on cell edges may differ


def test_wmts_and_stac_and_gomezengine_view(utm):
    url, cube, s = utm
    xml = httpx.get(f"{url}/api/collections/{COLL}/WMTSCapabilities.xml").content
    wmts = WebMapTileService(url=f"{url}/wmts", xml=xml)
    assert "LAI" in wmts.contents
    assert wmts.contents["LAI"].dimensions["time"]["values"] == [KEY]

    item = json.loads((cube / "stac" / COLL / "items" / f"{KEY}_tile42.json").read_text())
    assert item["properties"]["proj:code"] == CRS
    assert item["properties"]["proj:transform"][:6] == [RES, 0.0, LEFT, 0.0, -RES, TOP]

    view = httpx.get(f"{url}/api/collections/{COLL}/gomez.json").json()
    (vrt,) = [v for v in view[KEY] if v.endswith("/LAI.vrt")]
    target = vrt if vrt.startswith("http") else f"{url}/{vrt}"
    with rasterio.open(f"/vsicurl/{target}") as src:
        assert src.crs.to_string() == CRS and src.res == (RES, RES)
        data, valid = src.read(1), src.read_masks(1) > 0
    np.testing.assert_array_equal(valid, s.has)
    np.testing.assert_array_equal(data[s.has], s.dn["LAI"][s.has])
