"""Map tiles straight from a date's tile COGs, with the reprojection state kept per TMS.

For each tile the centres of its 256 x 256 pixels are reprojected into the collection's
CRS through a cached transformer on a 17 x 17 lattice and interpolated in between (well
under a pixel of error, like GDAL's approximate transformer), then sampled (nearest
neighbour) from the COG overview whose cells best match the tile's. No per-tile PROJ
setup and no per-tile warped dataset: that is what makes tiles cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import morecantile
import numpy as np
from rasterio.windows import Window

from leafcube.catalogue import Collection, DateEntry
from leafcube.catalogue.grid import intersect
from leafcube.catalogue.qc import QCFilter, keep
from leafcube.catalogue.roi import transformer
from leafcube.reader import CubeFiles, Datasets

from .colormaps import to_index

SIZE = 256
_STEP = 16
_LATTICE = SIZE // _STEP + 1


@lru_cache(maxsize=1)
def _lerp() -> tuple[np.ndarray, np.ndarray]:
    """For each pixel centre: the lattice cell before it and its fraction across that cell."""
    centres = (np.arange(SIZE) + 0.5) / _STEP
    k = np.minimum(np.floor(centres).astype(np.intp), _LATTICE - 2)
    return k, centres - k


def _upsample(lattice: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of a 17 x 17 lattice to the 256 x 256 pixel centres (float32)."""
    k, t = _lerp()
    lat = lattice.astype(np.float32)
    t32 = t.astype(np.float32)
    rows = lat[k] * (1 - t32)[:, None] + lat[k + 1] * t32[:, None]
    return rows[:, k] * (1 - t32) + rows[:, k + 1] * t32


@dataclass
class Lattice:
    """A tile's lattice of pixel edges in the collection's CRS, and the bounds it spans."""

    x: np.ndarray
    y: np.ndarray
    bounds: tuple[float, float, float, float] | None

    @property
    def cell(self) -> float:
        """The tile's pixel size in the collection's CRS (to pick an overview)."""
        b = self.bounds or (0.0, 0.0, 0.0, 0.0)
        return max(b[2] - b[0], b[3] - b[1]) / SIZE


def lattice(
    tms: morecantile.TileMatrixSet, tms_crs: str, z: int, x: int, y: int, crs: str
) -> Lattice:
    """Every 16th pixel edge of a tile (17 x 17 points) reprojected into ``crs``."""
    b = tms.xy_bounds(morecantile.Tile(x, y, z))
    gx = np.linspace(b.left, b.right, _LATTICE)
    gy = np.linspace(b.top, b.bottom, _LATTICE)
    mx, my = np.meshgrid(gx, gy)
    if tms_crs != crs:
        mx, my = transformer(tms_crs, crs).transform(mx, my)
        mx, my = np.asarray(mx), np.asarray(my)
    finite = np.isfinite(mx) & np.isfinite(my)
    if not finite.all():
        return Lattice(mx, my, None)
    return Lattice(mx, my, (mx.min(), my.min(), mx.max(), my.max()))


def _overview(datasets: Datasets, path: str, cell: float) -> int | None:
    """The coarsest overview level of ``path`` whose cells are no larger than ``cell``."""
    ds = datasets.open(path)
    res = abs(ds.transform.a)
    level = None
    for i, factor in enumerate(ds.overviews(1)):
        if res * factor <= cell * 1.001:
            level = i
    return level


@dataclass
class Sampled:
    """DNs at the tile's pixels and where they hold data."""

    dn: np.ndarray
    has: np.ndarray


def _read_at(ds, cols: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and has-data flags of ``ds`` at integer pixel positions (all inside it)."""
    c0, r0 = int(cols.min()), int(rows.min())
    win = Window(c0, r0, int(cols.max()) - c0 + 1, int(rows.max()) - r0 + 1)
    data = ds.read(1, window=win)
    mask = ds.read_masks(1, window=win)
    rows, cols = rows - r0, cols - c0
    return data[rows, cols], mask[rows, cols] > 0


def sample(
    datasets: Datasets, files: CubeFiles, entry: DateEntry, layer: str, lat: Lattice
) -> Sampled | None:
    """Nearest-neighbour DNs of ``layer`` at the tile's pixel centres, mosaicked over its tiles.

    Pixel positions are interpolated in each COG's own pixel space; a tile that lies
    wholly inside one COG (the usual case) is read with two gathers and no masking.
    """
    layer_files = entry.layers.get(layer)
    if layer_files is None or lat.bounds is None:
        return None
    out: Sampled | None = None
    for name in sorted(layer_files.tiles):
        tile = layer_files.tiles[name]
        if intersect(tile.bbox, lat.bounds) is None:
            continue
        path = files.gdal_path(tile.href)
        ds = datasets.open(path, _overview(datasets, path, lat.cell))
        t = ds.transform
        lc, lr = (lat.x - t.c) / t.a, (lat.y - t.f) / t.e
        if lc.max() < 0 or lr.max() < 0 or lc.min() >= ds.width or lr.min() >= ds.height:
            continue
        cols = np.floor(_upsample(lc)).astype(np.intp)
        rows = np.floor(_upsample(lr)).astype(np.intp)
        if lc.min() >= 0 and lr.min() >= 0 and lc.max() < ds.width and lr.max() < ds.height:
            vals, has = _read_at(ds, cols, rows)
        else:
            inside = (cols >= 0) & (cols < ds.width) & (rows >= 0) & (rows < ds.height)
            if not inside.any():
                continue
            v, h = _read_at(ds, cols[inside], rows[inside])
            vals = np.zeros(cols.shape, dtype=v.dtype)
            has = np.zeros(cols.shape, dtype=bool)
            vals[inside], has[inside] = v, h
        if out is None:
            out = Sampled(vals, has)
        else:
            out.dn = np.where(has, vals, out.dn)
            out.has |= has
    return out


def render(
    datasets: Datasets,
    files: CubeFiles,
    coll: Collection,
    entry: DateEntry,
    layer: str,
    tms: morecantile.TileMatrixSet,
    tms_crs: str,
    z: int,
    x: int,
    y: int,
    qc: QCFilter,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The tile as palette indices (0 where masked) and its palette; None when it holds no data."""
    lat = lattice(tms, tms_crs, z, x, y, coll.crs)
    if coll.extent is None or lat.bounds is None or intersect(lat.bounds, coll.extent) is None:
        return None
    spec = coll.layers[layer]
    got = sample(datasets, files, entry, layer, lat)
    if got is None or not got.has.any():
        return None
    has = got.has
    if qc == "valid" and spec.qc_layer:
        q = sample(datasets, files, entry, spec.qc_layer, lat)
        has = has & q.has & keep(q.dn, "valid") if q is not None else np.zeros_like(has)
    index, palette = to_index(spec, got.dn)
    index[~has] = 0
    return index, palette
