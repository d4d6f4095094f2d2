"""Two tile exports that overlap as Earth Engine writes them: in the overlap each tile is 0
outside its own polygon while its neighbour holds data. Every valid pixel of either tile
must be valid in the date's mosaic: through GDAL (``gdal_translate`` of the VRT), the
server and the client."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import rasterio

from leafcube.client import Cube
from tests.conftest import LEAFCUBE, free_port, start_process, stop_process
from tests.ingest import ee

SHAPE = (48, 70)
LEFT, TOP = -801_000.0, 614_940.0
#: Columns of each tile's file: 40 px each, overlapping by 10 px.
FILES = {"tile42": (0, 40), "tile43": (30, 70)}
COLL, KEY = "leaf-s2-20m-monthly", "2024-08-01"


def polygon(tile: str) -> np.ndarray:
    """Each tile's own (slanted) polygon; they overlap by a few pixels inside the files'
    overlap, and each file overhangs its polygon."""
    rows, cols = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    edge = 34 + rows // 12
    return cols < edge + 2 if tile == "tile42" else cols >= edge - 2


@pytest.fixture(scope="module")
def overlap_cube(tmp_path_factory) -> tuple[Path, ee.Scene]:
    root = tmp_path_factory.mktemp("overlap")
    s = ee.scene(11, SHAPE, 2024, 8)
    partition = s.partition
    for tile, (c0, c1) in FILES.items():
        inside = polygon(tile)
        layers = ee.layers(s, "current") | {"Partition": partition}
        for name, data in layers.items():
            part = np.where(inside, data, 0)[:, c0:c1]
            ee.write(
                root / "drive" / f"{tile}_2024" / f"{tile}_Aug_{name}_20m.tif",
                part,
                LEFT + c0 * 20.0,
                TOP,
            )
    cube = root / "cube"
    out = subprocess.run(
        [*LEAFCUBE, "ingest", str(root / "drive"), "--cube", str(cube)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return cube, s


def truth(s: ee.Scene) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    covered = polygon("tile42") | polygon("tile43")
    return {
        "LAI": (s.dn["LAI"], s.has & covered),
        "QC": (ee.single_qc(s), s.observed & covered),
        "Date": (s.doy0, s.has & covered),
        "Partition": (s.partition, (s.partition != 0) & covered),
    }


def test_both_tiles_hold_data_in_the_overlap(overlap_cube):
    _, s = overlap_cube
    both = polygon("tile42") & polygon("tile43") & s.has
    assert both.sum() > 20  # the test has an overlap where both tiles are valid
    only43 = ~polygon("tile42") & s.has
    assert only43[:, FILES["tile43"][0] : FILES["tile42"][1]].sum() > 20  # 42 is 0 there


@pytest.mark.parametrize("layer", ["LAI", "QC", "Date", "Partition"])
def test_gdal_translate_of_the_mosaic_vrt(overlap_cube, layer, tmp_path):
    cube, s = overlap_cube
    out = tmp_path / f"{layer}.tif"
    vrt = cube / COLL / KEY / f"{layer}.vrt"
    subprocess.run(["gdal_translate", "-q", str(vrt), str(out)], check=True)
    with rasterio.open(out) as src:
        data, mask = src.read(1), src.read_masks(1) > 0
    dn, has = truth(s)[layer]
    assert data.shape == SHAPE
    np.testing.assert_array_equal(mask, has)
    np.testing.assert_array_equal(data[has], dn[has])


def test_server_and_client_read_the_overlap(overlap_cube):
    cube, s = overlap_cube
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_process(
        [*LEAFCUBE, "serve", str(cube), "--host", "127.0.0.1", "--port", str(port)],
        f"{url}/catalogue.json",
    )
    try:
        bbox = (LEFT, TOP - SHAPE[0] * 20.0, LEFT + SHAPE[1] * 20.0, TOP)
        for source in (url, str(cube)):
            got = Cube(source).extract(
                ["LAI", "Date"], bbox, start=KEY, end=KEY, qc="data", roi_crs="EPSG:3979"
            )
            for layer in ("LAI", "Date"):
                a = got[layer][KEY]
                dn, has = truth(s)[layer]
                scale = np.float32(1 / 20) if layer == "LAI" else np.float32(1)
                np.testing.assert_array_equal(~a.mask, has, err_msg=f"{source} {layer}")
                np.testing.assert_array_equal(a.data[has], dn[has].astype(np.float32) * scale)
    finally:
        stop_process(proc)
