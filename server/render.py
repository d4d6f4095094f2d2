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
from leafcube.catalogue.qc import keep
from leafcube.catalogue.roi import transformer
from leafcube.reader import CubeFiles, open_cached

from .colormaps import colorize

SIZE = 256
_STEP = 16
_LATTICE = SIZE // _STEP + 1


@lru_cache(maxsize=1)
def _weights() -> np.ndarray:
    """(256, 17) linear-interpolation weights from lattice points to pixel centres."""
    centres = (np.arange(SIZE) + 0.5) / _STEP
    k = np.minimum(np.floor(centres).astype(int), _LATTICE - 2)
    t = centres - k
    w = np.zeros((SIZE, _LATTICE))
    w[np.arange(SIZE), k] = 1 - t
    w[np.arange(SIZE), k + 1] = t
    return w


def pixel_centres(
    tms: morecantile.TileMatrixSet, tms_crs: str, z: int, x: int, y: int, crs: str
) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """The tile's pixel centres in ``crs`` (two (256, 256) arrays) and their bounds there."""
    b = tms.xy_bounds(x, y, z)
    gx = np.linspace(b.left, b.right, _LATTICE)
    gy = np.linspace(b.top, b.bottom, _LATTICE)
    mx, my = np.meshgrid(gx, gy)
    if tms_crs != crs:
        mx, my = transformer(tms_crs, crs).transform(mx, my)
        mx, my = np.asarray(mx), np.asarray(my)
    w = _weights()
    fx, fy = w @ mx @ w.T, w @ my @ w.T
    finite = np.isfinite(mx) & np.isfinite(my)
    if not finite.any():
        return fx, fy, (0.0, 0.0, 0.0, 0.0)
    native = (mx[finite].min(), my[finite].min(), mx[finite].max(), my[finite].max())
    return fx, fy, native


def _overview(path: str, cell: float) -> int | None:
    """The coarsest overview level of ``path`` whose cells are no larger than ``cell``."""
    ds = open_cached(path)
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


def sample(
    files: CubeFiles,
    entry: DateEntry,
    layer: str,
    fx: np.ndarray,
    fy: np.ndarray,
    native: tuple[float, float, float, float],
    cell: float,
) -> Sampled | None:
    """Nearest-neighbour DNs of ``layer`` at points ``(fx, fy)``, mosaicked over its tiles."""
    layer_files = entry.layers.get(layer)
    if layer_files is None:
        return None
    out: Sampled | None = None
    for name in sorted(layer_files.tiles):
        tile = layer_files.tiles[name]
        if intersect(tile.bbox, native) is None:
            continue
        path = files.gdal_path(tile.href)
        ds = open_cached(path, _overview(path, cell))
        t = ds.transform
        cols = np.floor((fx - t.c) / t.a)
        rows = np.floor((fy - t.f) / t.e)
        inside = (cols >= 0) & (cols < ds.width) & (rows >= 0) & (rows < ds.height)
        if not inside.any():
            continue
        ci, ri = cols[inside].astype(np.intp), rows[inside].astype(np.intp)
        c0, r0 = int(ci.min()), int(ri.min())
        win = Window(c0, r0, int(ci.max()) - c0 + 1, int(ri.max()) - r0 + 1)
        data = ds.read(1, window=win)
        mask = ds.read_masks(1, window=win)
        if out is None:
            out = Sampled(np.zeros(fx.shape, dtype=data.dtype), np.zeros(fx.shape, dtype=bool))
        has = np.zeros(fx.shape, dtype=bool)
        has[inside] = mask[ri - r0, ci - c0] > 0
        vals = np.zeros(fx.shape, dtype=data.dtype)
        vals[inside] = data[ri - r0, ci - c0]
        out.dn = np.where(has, vals, out.dn)
        out.has |= has
    return out


def render_rgba(
    files: CubeFiles,
    coll: Collection,
    entry: DateEntry,
    layer: str,
    tms: morecantile.TileMatrixSet,
    tms_crs: str,
    z: int,
    x: int,
    y: int,
    qc: str,
) -> np.ndarray | None:
    """The tile as RGBA (256, 256, 4), transparent where masked; None when it holds no data."""
    fx, fy, native = pixel_centres(tms, tms_crs, z, x, y, coll.crs)
    if coll.extent is None or intersect(native, coll.extent) is None:
        return None
    span = max(native[2] - native[0], native[3] - native[1])
    cell = span / SIZE
    spec = coll.layers[layer]
    got = sample(files, entry, layer, fx, fy, native, cell)
    if got is None or not got.has.any():
        return None
    has = got.has
    if qc == "valid" and spec.qc_layer:
        q = sample(files, entry, spec.qc_layer, fx, fy, native, cell)
        has = has & q.has & keep(q.dn, "valid") if q is not None else np.zeros_like(has)
    rgba = colorize(spec, got.dn)
    rgba[..., 3] = np.where(has, rgba[..., 3], 0)
    return rgba
