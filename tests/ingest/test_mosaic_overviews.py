"""Mosaic overviews: a date's mosaic read zoomed out over /vsicurl/ (rasterio's GDAL and
Debian's GDAL 3.6 CLI, the one QGIS uses) fetches overview blocks only, and gives the
tiles' own overview pixels mosaicked with the nodata rule (a later tile wins where it has
data).

Bytes are counted by a plain nginx logging each request's ``$body_bytes_sent`` and Range;
every remote read runs in a fresh process so no GDAL cache carries bytes over. Besides the
demo cube, a 2 x 2 grid of 4096 px tiles (7936 px a side, made with bench/ingest.py's
generator and ``leafcube ingest``) makes the byte counts meaningful.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio

from bench import mosaic as bench  # its synthetic exports and its byte-counting nginx
from leafcube.catalogue import load
from leafcube.catalogue.models import LayerFiles

COLL = "leaf-s2-20m-monthly"
BIG_KEY = "2024-08-01"
NODATA = -9999  # LAI's


#: A read in a fresh process: ``url factor how out.npy`` (how: nearest, or warp to 3857).
READ = """\
import sys
import numpy as np
import rasterio
from rasterio.vrt import WarpedVRT
url, factor, how, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with rasterio.open(url) as src:
    if how == "warp":
        with WarpedVRT(src, crs="EPSG:3857") as vrt:
            data = vrt.read(1, out_shape=(vrt.height // factor, vrt.width // factor))
    else:
        data = src.read(1, out_shape=(src.height // factor, src.width // factor))
np.save(out, data)
"""


@pytest.fixture(scope="module")
def big_cube(tmp_path_factory) -> Path:
    """A cube of one date whose LAI mosaic is 7936 px a side (4 overlapping tiles)."""
    work = tmp_path_factory.mktemp("big")
    return bench.ingest(bench.make_exports(work / "drive", 4096), work / "cube").parents[1]


@pytest.fixture(scope="module")
def big_served(big_cube) -> Iterator:
    with bench.nginx(big_cube) as served:
        yield served


@pytest.fixture(scope="module")
def demo_served(demo_cube) -> Iterator:
    with bench.nginx(demo_cube) as served:
        yield served


def remote_read(served, href: str, factor: int, tool: str, tmp: Path) -> np.ndarray:
    """Read ``href`` of the served cube over /vsicurl/ at ``1/factor`` in a fresh process:
    rasterio (``nearest`` or ``warp``) or Debian's ``gdal_translate`` / ``gdalwarp``."""
    url = f"/vsicurl/{served.url}/{href}"
    env = {**os.environ, **bench.GDAL_ENV}
    out = tmp / f"{tool}-{factor}.tif"
    if tool in ("nearest", "warp"):
        npy = tmp / f"{tool}-{factor}.npy"
        subprocess.run(
            [sys.executable, "-c", READ, url, str(factor), tool, npy], env=env, check=True
        )
        return np.load(npy)
    with rasterio.open(served.root / href) as src:  # local, so no byte is counted
        size = [str(src.width // factor), str(src.height // factor)]
    if tool == "gdal_translate":
        cmd = ["gdal_translate", "-q", "-outsize", *size, url, str(out)]
    else:
        cmd = ["gdalwarp", "-q", "-overwrite", "-t_srs", "EPSG:3857", "-ts", *size, url, str(out)]
    subprocess.run(cmd, env=env, check=True)
    with rasterio.open(out) as src:
        return src.read(1)


def block_extents(tif: Path) -> list[tuple[int, int]]:
    """(offset, size) of every full-resolution block of a tile COG, from GDAL's TIFF tags."""
    extents = []
    with rasterio.open(tif) as src:
        bh, bw = src.block_shapes[0]
        for _, w in src.block_windows(1):
            col, row = w.col_off // bw, w.row_off // bh
            offset = src.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1)
            size = src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1)
            if offset and size:
                extents.append((int(offset), int(size)))
    return extents


def full_res_use(served, rows, header: bool = True) -> tuple[int, int, int]:
    """Over the tile COGs the log names: (bytes of their full-resolution blocks, bytes of
    fetched ranges inside those blocks, how many of those blocks were fetched whole).

    ``header=False`` leaves out the ranges from byte 0: the read GDAL makes on opening a
    file (a tiny COG may be whole in it)."""
    total = inside = whole = 0
    tifs = {uri.split("?")[0] for _, uri, *_ in rows if uri.endswith(".tif")}
    extents = {uri: block_extents(served.root / uri.lstrip("/")) for uri in tifs}
    for ext in extents.values():
        total += sum(size for _, size in ext)
    for method, uri, _status, _sent, rng in rows:
        if method != "GET" or uri not in extents or not rng.startswith("bytes="):
            continue
        a, b = (int(v) for v in rng.removeprefix("bytes=").split("-"))
        if a == 0 and not header:
            continue
        for off, size in extents[uri]:
            inside += max(0, min(b + 1, off + size) - max(a, off))
            whole += a <= off and off + size <= b + 1
    return total, inside, whole


def reference(cube: Path, files: LayerFiles, factor: int) -> np.ndarray:
    """The mosaic at ``1/factor`` from the tile COGs alone: each tile's own overview of
    ``factor`` (or its smallest, sampled at pixel centres as GDAL's nearest does), placed by
    its georeferencing on the union of the tiles, tiles in name order, a tile's nodata
    never covering data."""
    tifs = [cube / files.tiles[k].href for k in sorted(files.tiles)]
    with rasterio.open(tifs[0]) as t:
        res, nodata, dtype = t.res[0], t.nodata, t.dtypes[0]
    boxes = []
    for tif in tifs:
        with rasterio.open(tif) as t:
            boxes.append(t.bounds)
    x0, y1 = min(b.left for b in boxes), max(b.top for b in boxes)
    width = round((max(b.right for b in boxes) - x0) / res)
    height = round((y1 - min(b.bottom for b in boxes)) / res)
    out = np.full((height // factor, width // factor), nodata, dtype=dtype)
    for tif, box in zip(tifs, boxes, strict=True):
        with rasterio.open(tif) as t:
            factors = [1, *t.overviews(1)]
            h, w = t.height, t.width
        have = max(f for f in factors if f <= factor)
        level = factors.index(have) - 1
        with rasterio.open(tif, **({"OVERVIEW_LEVEL": level} if level >= 0 else {})) as t:
            data = t.read(1)
        k = factor // have
        data = data[k // 2 :: k, k // 2 :: k][: h // factor, : w // factor]
        r0 = round((y1 - box.top) / res) // factor
        c0 = round((box.left - x0) / res) // factor
        window = out[r0 : r0 + data.shape[0], c0 : c0 + data.shape[1]]
        np.copyto(window, data[: window.shape[0], : window.shape[1]], where=data != nodata)
    return out


def _files(cube: Path, key: str, layer: str) -> LayerFiles:
    """The catalogue's files of one date and layer."""
    return load(cube).collections[COLL].dates[key].layers[layer]


def test_every_mosaic_names_its_levels(demo_cube):
    """Each mosaic of the demo names overview levels that exist next to it, sized as GDAL
    sizes overviews, and both GDALs report them as the mosaic's overviews."""
    cat = load(demo_cube)
    mosaics = {
        f.mosaic
        for c in cat.collections.values()
        for e in c.dates.values()
        for f in e.layers.values()
    }
    assert mosaics
    for href in sorted(mosaics):
        path = demo_cube / href
        band = ET.parse(path).getroot().find("VRTRasterBand")
        names = [o.findtext("SourceFilename") for o in band.findall("Overview")]
        assert names, href
        with rasterio.open(path) as src:
            sizes = [
                (math.ceil(src.width / f), math.ceil(src.height / f)) for f in src.overviews(1)
            ]
        for name, (w, h) in zip(names, sizes, strict=True):
            level = ET.parse(path.parent / name).getroot()
            assert (int(level.get("rasterXSize")), int(level.get("rasterYSize"))) == (w, h)
            for src_el in level.iter("ComplexSource"):
                assert src_el.findtext("NODATA") == band.findtext("NoDataValue")
        info = subprocess.run(["gdalinfo", str(path)], capture_output=True, text=True, check=True)
        assert "Overviews: " + ", ".join(f"{w}x{h}" for w, h in sizes) in info.stdout


def test_levels_are_served_by_the_static_web_server(demo_cube, nginx_url):
    """Level files are ordinary files of the cube folder: the plain nginx serves them."""
    for level in sorted(demo_cube.glob(f"{COLL}/*/*.ovr*.vrt"))[:3]:
        href = level.relative_to(demo_cube).as_posix()
        got = httpx.get(f"{nginx_url}/{href}")
        assert got.status_code == 200 and got.content == level.read_bytes()


@pytest.mark.parametrize("tool", ["nearest", "gdal_translate"])
@pytest.mark.parametrize("factor", [16, 256])
def test_zoomed_out_read_fetches_overview_blocks_only(big_served, tool, factor, tmp_path):
    """1/16 and 1/256 of the 7936² mosaic: the tiles' overview pixels, and a few percent of
    the bytes of the full-resolution blocks, none of those blocks touched."""
    href = f"{COLL}/{BIG_KEY}/LAI.vrt"
    big_served.take()
    got = remote_read(big_served, href, factor, tool, tmp_path)
    rows = big_served.take()
    want = reference(big_served.root, _files(big_served.root, BIG_KEY, "LAI"), factor)
    assert (want == NODATA).any() and (want != NODATA).mean() > 0.9
    np.testing.assert_array_equal(got, want)
    total, inside, whole = full_res_use(big_served, rows)
    fetched = sum(r[3] for r in rows)
    assert total > 40e6  # the four tiles' full-resolution blocks
    assert whole == 0 and inside == 0
    assert fetched < 0.02 * total


@pytest.mark.parametrize("tool", ["warp", "gdalwarp"])
def test_warped_read_uses_the_overviews(big_served, tool, tmp_path):
    """A reprojecting read (rio-tiler, QGIS on the fly, gdalwarp) goes through the mosaic's
    overviews; the same mosaic without them fetches the full-resolution blocks."""
    folder = big_served.root / COLL / BIG_KEY
    plain = bench.without_overviews(folder / "LAI.vrt")
    fetched = {}
    for href in (f"{COLL}/{BIG_KEY}/LAI.vrt", plain.relative_to(big_served.root).as_posix()):
        big_served.take()
        data = remote_read(big_served, href, 16, tool, tmp_path)
        rows = big_served.take()
        total, inside, whole = full_res_use(big_served, rows)
        fetched[href.endswith("-plain.vrt")] = (sum(r[3] for r in rows), inside, total)
        assert (data != NODATA).mean() > 0.3
    (ovr, ovr_inside, total), (plain_bytes, plain_inside, _) = fetched[False], fetched[True]
    assert ovr_inside == 0 and ovr < 0.02 * total
    assert plain_inside > 0.9 * total and plain_bytes > 50 * ovr


@pytest.mark.parametrize("tool", ["nearest", "gdal_translate"])
@pytest.mark.parametrize("factor", [16, 256])
def test_demo_mosaic_over_nginx_skips_full_resolution(
    demo_cube, demo_served, tool, factor, tmp_path
):
    """The demo's mosaics zoomed out over /vsicurl/: past the header GDAL reads on opening
    (32 KiB, which holds most of a demo tile), no byte of a full-resolution block."""
    cat = load(demo_cube)
    key = sorted(cat.collections[COLL].dates)[0]
    for layer in ("LAI", "Date", "Partition"):
        href = cat.collections[COLL].dates[key].layers[layer].mosaic
        demo_served.take()
        data = remote_read(demo_served, href, factor, tool, tmp_path)
        rows = demo_served.take()
        total, inside, _ = full_res_use(demo_served, rows, header=False)
        assert data.size > 0 and total > 0
        assert inside == 0, layer


def test_demo_half_resolution_equals_the_tiles_overviews(demo_cube, nginx_url):
    """At 1/2 (the demo tiles' one overview) the mosaic over nginx is the tiles' overviews
    mosaicked: overlap and nodata rule kept at overview level."""
    cat = load(demo_cube)
    for key in sorted(cat.collections[COLL].dates)[:2]:
        for layer in ("LAI", "QC", "Partition"):
            files = cat.collections[COLL].dates[key].layers[layer]
            url = f"/vsicurl/{nginx_url}/{files.mosaic}"
            with rasterio.Env(**bench.GDAL_ENV), rasterio.open(url) as src:
                got = src.read(1, out_shape=(src.height // 2, src.width // 2))
            np.testing.assert_array_equal(got, reference(demo_cube, files, 2))


def block_means(
    full: np.ndarray, factor: int, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Per ``factor``² block of a full-resolution mosaic: the mean of its data pixels (as an
    AVERAGE overview leaves no data out) and how many data pixels it holds."""
    h, w = shape
    blocks = full[: h * factor, : w * factor].reshape(h, factor, w, factor).astype(float)
    valid = blocks != NODATA
    count = valid.sum(axis=(1, 3))
    total = np.where(valid, blocks, 0.0).sum(axis=(1, 3))
    return total / np.maximum(count, 1), count


def test_tiles_off_the_level_grid_leave_no_seam(tmp_path):
    """Tiles whose offsets are not multiples of a level's factor (as LEAF's 45,000 px tiles
    are) are placed at fractional positions: no gap opens along the seams, and a level
    stays close to the full-resolution mosaic averaged block by block."""
    folder = bench.ingest(
        bench.make_exports(tmp_path / "drive", 1500, overlap=130), tmp_path / "cube"
    )
    with rasterio.open(folder / "LAI.vrt") as src:
        assert src.overviews(1) == [2, 4, 8, 16]  # 2,870 px wide, 256 px blocks
        with rasterio.open(next(folder.glob("tile*/LAI.tif"))) as tile:
            tile_levels = tile.overviews(1)
        assert tile_levels == [2, 4, 8]  # 1,500 px tiles
        full = src.read(1)
        for factor in (2, 4, 8, 16):
            shape = (src.height // factor, src.width // factor)
            level = src.read(1, out_shape=shape)
            mean, count = block_means(full, factor, shape)
            lost = (level == NODATA) & (count > 0)
            seam = slice(1370 // factor - 1, 1500 // factor + 2)  # tile 41's left, 40's right edge
            assert lost[:, seam].mean() < 0.02 and lost[seam, :].mean() < 0.02
            # cloud edges move by up to half a level pixel (nearest), yet less data is lost
            # than by sampling the full resolution at pixel centres
            sampled = full[factor // 2 :: factor, factor // 2 :: factor][: shape[0], : shape[1]]
            assert lost.mean() <= ((sampled == NODATA) & (count > 0)).mean()
            both = (level != NODATA) & (count > 0)
            error = np.abs(level[both] - mean[both]).mean()
            if factor in tile_levels:
                assert error < 2  # DN: 0.1 of LAI
            else:  # past the tiles' coarsest level GDAL samples it: no worse than sampling
                both &= sampled != NODATA  # the full resolution at pixel centres
                assert error <= np.abs(sampled[both] - mean[both]).mean()
