"""Read one layer of one date onto an :class:`RoiGrid`, as a float32 masked array in physical units.

Tile COGs are read directly (not through the mosaic VRT) with integer windows, since
every tile shares the collection's pixel grid: no resampling ever happens, and a
mosaic across tiles is seamless. The datasets come from the calling thread's
:class:`~.datasets.Datasets` (a :class:`~.reader.Reader` lane's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from leafcube.catalogue import Collection, DateEntry, LayerSpec
from leafcube.catalogue.grid import intersect
from leafcube.catalogue.qc import DEFAULT_QC, QCFilter, check_filter, keep

from .datasets import Datasets
from .grid import RoiGrid

#: Bytes GDAL fetches with a remote COG's first request (``GDAL_INGESTED_BYTES_AT_OPEN``):
#: one ``/vsicurl/`` chunk.
HEADER_BYTES = 16384
#: GDAL settings for reading COGs over HTTP(S): no directory listing, no side-car
#: probes, merged and multiplexed range requests, retries on 429/5xx. The first GET of a
#: file takes :data:`HEADER_BYTES`: the header and tile index of a 4,096 px COG fit with
#: either block size, and 32 KiB moved 16 KiB more for every COG opened without saving a
#: request (bench/filecost.py). Not ``VSI_CACHE``:
#: it keeps up to 25 MB per open file (12.8 GB over :data:`~.reader.MAX_OPEN` files),
#: where ``/vsicurl/`` already keeps one cache of fetched ranges for the process and
#: local files have the page cache.
HTTP_ENV = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.vrt",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "GDAL_INGESTED_BYTES_AT_OPEN": str(HEADER_BYTES),
    "GDAL_HTTP_MAX_RETRY": "4",
    "GDAL_HTTP_RETRY_DELAY": "0.5",
    "GDAL_HTTP_TIMEOUT": "60",
}


@dataclass(frozen=True)
class CubeFiles:
    """Where a cube's files are: a local folder or an ``http(s)://`` base URL."""

    base: str

    @property
    def remote(self) -> bool:
        return self.base.startswith(("http://", "https://"))

    def gdal_path(self, href: str) -> str:
        """The path GDAL opens for a catalogue ``href``."""
        if self.remote:
            return "/vsicurl/" + self.base.rstrip("/") + "/" + href
        return str(Path(self.base) / href)


@dataclass
class LayerRead:
    """The pixels of one layer on one date: the files' DNs, what is masked, and the
    tiles they came from; :attr:`data` decodes them to physical values on first use."""

    dn: np.ndarray
    mask: np.ndarray
    spec: LayerSpec
    tiles: list[str]
    _data: np.ma.MaskedArray | None = field(default=None, init=False, repr=False)

    @property
    def data(self) -> np.ma.MaskedArray:
        """Float32 physical values, ``float32(dn) * float32(scale) + float32(offset)``."""
        if self._data is None:  # not functools.cached_property: on 3.11 it locks per class
            values = self.dn.astype(np.float32) * np.float32(self.spec.scale)
            values += np.float32(self.spec.offset)
            self._data = np.ma.MaskedArray(values, mask=self.mask.copy(), fill_value=np.nan)
        return self._data


def _read_dn(
    datasets: Datasets, files: CubeFiles, entry: DateEntry, layer: str, grid: RoiGrid
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Raw DNs and a has-data mask of ``layer`` on ``grid``, mosaicked over its tiles
    (a later tile wins only where it has data)."""
    out: np.ndarray | None = None
    valid = np.zeros(grid.shape, dtype=bool)
    used: list[str] = []
    layer_files = entry.layers.get(layer)
    tiles = layer_files.tiles if layer_files else {}
    res = grid.transform.a
    for name in sorted(tiles):
        tile = tiles[name]
        part = intersect(tile.bbox, grid.bounds)
        if part is None:
            continue
        col = round((part[0] - tile.bbox[0]) / res)
        row = round((tile.bbox[3] - part[3]) / res)
        w = round((part[2] - part[0]) / res)
        h = round((part[3] - part[1]) / res)
        win = Window(col, row, w, h)
        r0 = round((grid.bounds[3] - part[3]) / res)
        c0 = round((part[0] - grid.bounds[0]) / res)
        target = (slice(r0, r0 + h), slice(c0, c0 + w))
        data, has = datasets.read(files.gdal_path(tile.href), win)
        if out is None:
            out = np.zeros(grid.shape, dtype=data.dtype)
        out[target] = np.where(has, data, out[target])
        valid[target] |= has
        used.append(name)
    if out is None:
        out = np.zeros(grid.shape, dtype=np.uint8)
    return out, valid, used


def read_layer(
    datasets: Datasets,
    files: CubeFiles,
    coll: Collection,
    entry: DateEntry,
    layer: str,
    grid: RoiGrid,
    qc: QCFilter = DEFAULT_QC,
) -> LayerRead:
    """One layer of one date on ``grid``, decoded to physical units (float32).

    Masked: outside the ROI, where the files hold no data, and (``qc="valid"``)
    where the layer's QC flags the estimate. Run it on a :class:`~.reader.Reader`
    thread, which supplies ``datasets`` and the GDAL settings.
    """
    spec: LayerSpec = coll.layers[layer]
    dn, valid, used = _read_dn(datasets, files, entry, layer, grid)
    if check_filter(qc) == "valid" and spec.qc_layer:
        qc_dn, qc_has, _ = _read_dn(datasets, files, entry, spec.qc_layer, grid)
        valid &= qc_has & keep(qc_dn, "valid")
    return LayerRead(dn, ~(valid & grid.inside), spec, used)
