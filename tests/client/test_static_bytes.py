"""A static-mode point series moves each COG's header and the one block holding the
point, no more (counted in a plain nginx's access log), and equals the server's."""

from __future__ import annotations

import math
import re

import httpx
import numpy as np
import pandas as pd
import rasterio

from leafcube.catalogue import load
from leafcube.catalogue.roi import reproject
from leafcube.client import Cube
from leafcube.ingest.cog import COG_OPTIONS
from leafcube.reader.read import HEADER_BYTES, HTTP_ENV
from tests.conftest import start_nginx, stop_process

POINT = (-107.42, 53.80)  # on the seam of tile42 and tile43: two COGs a date
#: What ``/vsicurl/`` fetches at a time: ranges are whole chunks of this size.
CHUNK = 16384
#: nginx's default ``combined`` log line: the request, its status and its body bytes.
LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<uri>\S+) [^"]*" (?P<status>\d{3}) (?P<bytes>\d+)')


def cog_lines(log_text: str, until: str) -> list[re.Match]:
    """The access log's COG requests logged before the request for ``until``."""
    out = []
    for line in log_text.splitlines():
        m = LINE.search(line)
        if m is None:
            continue
        if m["uri"] == until:
            return out
        if m["uri"].endswith(".tif"):
            out.append(m)
    raise AssertionError(f"{until} is not in the access log")


def block_bound(path: str, point: tuple[float, float]) -> tuple[int, tuple[int, int]]:
    """The most ``/vsicurl/`` may fetch to read ``point`` from the COG at ``path``: its
    first :data:`HEADER_BYTES`, then the whole chunks spanning the block holding it.
    Also returns the COG's block shape."""
    with rasterio.open(path) as ds:
        row, col = ds.index(*point)
        bh, bw = ds.block_shapes[0]
        i, j = row // bh, col // bw
        offset = int(ds.get_tag_item(f"BLOCK_OFFSET_{j}_{i}", "TIFF", bidx=1))
        size = int(ds.get_tag_item(f"BLOCK_SIZE_{j}_{i}", "TIFF", bidx=1))
    chunks = math.ceil((offset + size) / CHUNK) - offset // CHUNK
    return HEADER_BYTES + chunks * CHUNK, (bh, bw)


def test_a_static_point_series_reads_one_block_per_cog(demo_cube, tmp_path, server_url):
    assert HTTP_ENV["GDAL_INGESTED_BYTES_AT_OPEN"] == str(HEADER_BYTES)
    coll = next(iter(load(demo_cube).collections.values()))
    x, y = reproject_point(POINT)
    bound, hrefs = 0, set()
    for entry in coll.dates.values():
        for tile in entry.layers["LAI"].tiles.values():
            b0, b1, b2, b3 = tile.bbox
            if b0 <= x < b2 and b1 < y <= b3:
                most, shape = block_bound(str(demo_cube / tile.href), (x, y))
                assert shape == (int(COG_OPTIONS["BLOCKSIZE"]),) * 2
                bound += most
                hrefs.add("/" + tile.href)
    assert len(hrefs) == 2 * len(coll.dates)  # the seam: both tiles every date

    proc, url = start_nginx(demo_cube, tmp_path)
    try:
        with Cube(url, mode="static", progress=False) as cube:
            static = cube.timeseries(["LAI"], point=POINT, qc="data")
        # nginx logs a request once it has answered it: when the second mark's answer
        # is back, the first mark's line, and every line before it, is written
        httpx.get(f"{url}/catalogue.json?mark1")
        httpx.get(f"{url}/catalogue.json?mark2")
        lines = cog_lines((tmp_path / "access.log").read_text(), "/catalogue.json?mark1")
    finally:
        stop_process(proc)

    assert {m["uri"] for m in lines} == hrefs  # every COG of the series, nothing else
    assert all(m["status"] in ("200", "206") for m in lines)
    assert all(m["method"] == "HEAD" for m in lines if m["status"] == "200")  # no whole file
    moved = sum(int(m["bytes"]) for m in lines)
    assert moved <= bound, f"{moved} bytes for {len(hrefs)} COGs, at most {bound} expected"
    assert len(lines) <= 3 * len(hrefs)  # a HEAD, the header, the block

    with Cube(server_url, progress=False) as cube:
        served = cube.timeseries(["LAI"], point=POINT, qc="data")
    pd.testing.assert_frame_equal(static, served)
    assert np.isfinite(static["mean"]).sum() > len(coll.dates) // 2  # real values compared


def reproject_point(lonlat: tuple[float, float]) -> tuple[float, float]:
    """A lon/lat point in the demo cube's CRS."""
    from shapely.geometry import Point

    p = reproject(Point(*lonlat), "EPSG:4326", "EPSG:3979")
    return p.x, p.y
