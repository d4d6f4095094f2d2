"""A reader's memory is bounded by its settings (open datasets, GDAL's block cache), not
by how much of its files it has read: GDAL's ``VSI_CACHE`` would keep up to 25 MB per
open file, 12.8 GB over the 512 a reader keeps open."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import rasterio
from rasterio.transform import from_origin

#: A 4096² int16 tile of incompressible DNs: 32 MB of ZSTD blocks.
SIZE = 4096
FILES = 8

PROBE = r"""
import json, sys
import numpy as np
from rasterio.windows import Window
from leafcube.reader import Reader

def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

paths = json.loads(sys.argv[1])
rng = np.random.default_rng(1)
with Reader(threads=1) as reader:
    reader.submit_any(lambda ds: None).result()  # start the thread, load GDAL's drivers
    before = rss_mb()
    for _ in range(300):
        for p in paths:
            x, y = (int(v) for v in rng.integers(0, 4096 - 16, 2))
            reader.submit_any(lambda ds, p, w: ds.read(p, w), p, Window(x, y, 16, 16)).result()
    print(json.dumps({"growth_mb": rss_mb() - before}))
"""


def test_reading_more_of_open_files_does_not_grow_memory(tmp_path):
    tile = tmp_path / "tile.tif"
    dns = np.random.default_rng(0).integers(1, 30_000, (SIZE, SIZE), dtype=np.int16)
    profile = dict(driver="COG", width=SIZE, height=SIZE, count=1, dtype="int16", nodata=0)
    with rasterio.open(
        tile,
        "w",
        **profile,
        crs="EPSG:3979",
        transform=from_origin(0, 0, 20, 20),
        COMPRESS="ZSTD",
        BLOCKSIZE=512,
    ) as dst:
        dst.write(dns, 1)
    paths = []
    for i in range(FILES):  # separate names: each is a dataset of its own
        os.link(tile, tmp_path / f"t{i}.tif")
        paths.append(str(tmp_path / f"t{i}.tif"))
    env = {**os.environ, "GDAL_CACHEMAX": "16"}  # as `leafcube serve` bounds it
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(paths)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    growth = json.loads(out.stdout)["growth_mb"]
    # 16 MB of block cache and each dataset's decoder: well under 64 MB; a 25 MB
    # per-file cache would add ~200 MB here
    assert growth < 64, growth
