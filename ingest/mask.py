"""The no-data mask of a QC layer, as a 0/255 GeoTIFF that GDAL copies into COGs as their mask.

Computed with numpy in 512-row windows (memory bounded whatever the size), once per
QC layer and run, and shared by every layer it masks (a product, its error, Date).
"""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from leafcube.catalogue.qc import has_data

ROWS = 512
#: 255 for every QC byte that has data, else 0: one table lookup per pixel.
_LUT = np.where(has_data(np.arange(256, dtype=np.uint8)), 255, 0).astype(np.uint8)


def write_mask(qc_path: Path, out: Path) -> Path:
    """Write 255 where ``has_data(qc)`` and 0 elsewhere, on the QC file's grid."""
    with rasterio.open(qc_path) as qc:
        profile = {
            "driver": "GTiff",
            "width": qc.width,
            "height": qc.height,
            "count": 1,
            "dtype": "uint8",
            "crs": qc.crs,
            "transform": qc.transform,
            "tiled": True,
            "blockxsize": 512,
            "blockysize": 512,
            "compress": "zstd",
            "zstd_level": 1,
            "BIGTIFF": "IF_SAFER",
        }
        with rasterio.open(out, "w", **profile) as dst:
            for row in range(0, qc.height, ROWS):
                win = Window(0, row, qc.width, min(ROWS, qc.height - row))
                dst.write(_LUT[qc.read(1, window=win)], 1, window=win)
    return out


class MaskFiles:
    """Masks of the QC layers of one run, each written once even when threads ask together."""

    def __init__(self, tmp_dir: Path):
        self.tmp_dir = tmp_dir
        self._guard = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}
        self._made: dict[Path, Path] = {}

    def get(self, qc_path: Path) -> Path:
        """The mask file of ``qc_path``, written on first use."""
        with self._guard:
            lock = self._locks.setdefault(qc_path, threading.Lock())
        with lock:
            if qc_path not in self._made:
                self.tmp_dir.mkdir(parents=True, exist_ok=True)
                out = self.tmp_dir / f"mask-{uuid.uuid4().hex}.tif"
                self._made[qc_path] = write_mask(qc_path, out)
            return self._made[qc_path]
