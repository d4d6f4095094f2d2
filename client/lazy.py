"""A collection opened lazily as an xarray Dataset: the dates, layers and ROI are laid out
at once, pixels are read only for what is computed — a window of dates and pixels at a
time, through the same backend (server subsets, or COG reads) as ``extract``, so values
are identical. Chunked (dask) in 512-pixel squares of the tiles' COG blocks by default."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from leafcube.catalogue.grid import CUT, intersect
from leafcube.reader.netcdf import cf_dataset

from .backend import Arrays
from .errors import ClientError
from .plan import ExtractPlan

Read = Callable[[ExtractPlan], Arrays]


def _span(key: Any, size: int) -> tuple[slice, bool]:
    """A basic index along one axis as a slice with step 1 and whether it was an integer."""
    if isinstance(key, (int, np.integer)):
        i = int(key) + (size if key < 0 else 0)
        return slice(i, i + 1), True
    start, stop, step = key.indices(size)
    if step != 1:
        raise IndexError("leafcube arrays take slices with step 1 (xarray strides after)")
    return slice(start, max(start, stop)), False


class LayerArray(BackendArray):
    """One layer ``(time, y, x)`` of a plan, float32 with NaN where masked, read on demand
    by ``read`` (the ``Cube``'s backend) one window of dates and pixels per access."""

    def __init__(self, plan: ExtractPlan, layer: str, read: Read) -> None:
        self.plan, self.layer, self.read = plan, layer, read
        self.shape = (len(plan.entries), plan.grid.height, plan.grid.width)
        self.dtype = np.dtype(np.float32)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER_1VECTOR, self._basic
        )

    def _basic(self, key: tuple[Any, ...]) -> np.ndarray:
        spans = [_span(k, n) for k, n in zip(key, self.shape, strict=True)]
        (t, _), (y, _), (x, _) = spans
        out = self._window(t, y, x)
        squeeze = tuple(i for i, (_, integer) in enumerate(spans) if integer)
        return out.squeeze(axis=squeeze) if squeeze else out

    def _window(self, t: slice, y: slice, x: slice) -> np.ndarray:
        out = np.full((t.stop - t.start, y.stop - y.start, x.stop - x.start), np.nan, np.float32)
        if out.size == 0:
            return out
        p = self.plan
        grid = p.grid.window(y.start, x.start, y.stop - y.start, x.stop - x.start)
        if p.coll.extent is None or intersect(grid.bounds, p.coll.extent) is None:
            return out  # beyond every tile: nothing to ask for
        if not grid.inside.any():
            return out
        entries = p.entries[t]
        sub = ExtractPlan(p.coll, [self.layer], entries, grid, grid.bounds, grid.crs, p.qc)
        arrays = self.read(sub)[self.layer]
        for i, e in enumerate(entries):
            out[i] = np.ma.getdata(arrays[e.key])
        out[:, ~grid.inside] = np.nan  # outside the ROI polygon, in every mode
        return out


def block_chunks(plan: ExtractPlan, layer: str, block: int = CUT) -> dict[str, tuple[int, ...]]:
    """Chunks of ``(time, y, x)`` whose edges fall on the COG blocks of the layer's first
    tile (tiles that overlap it sit on other block grids: their blocks are cut)."""
    grid = plan.grid
    tiles = next((e.layers[layer].tiles for e in plan.entries if layer in e.layers), {})
    first = tiles[sorted(tiles)[0]] if tiles else None
    res = grid.transform.a
    col0 = round((grid.bounds[0] - first.bbox[0]) / res) % block if first else 0
    row0 = round((first.bbox[3] - grid.bounds[3]) / res) % block if first else 0

    def sizes(n: int, offset: int) -> tuple[int, ...]:
        head = min(n, (block - offset) % block or block)
        rest = n - head
        return (head, *[block] * (rest // block), *([rest % block] if rest % block else []))

    return {
        "time": (1,) * len(plan.entries),
        "y": sizes(grid.height, row0),
        "x": sizes(grid.width, col0),
    }


def lazy_dataset(plan: ExtractPlan, read: Read, chunks: bool) -> xr.Dataset:
    """The plan as a CF Dataset of lazily read layers, dask-chunked on the COG blocks when
    ``chunks`` (else read on each access, xarray's lazy indexing)."""
    stacks = {
        name: indexing.LazilyIndexedArray(LayerArray(plan, name, read)) for name in plan.layers
    }
    periods = [(e.start.isoformat(), e.end.isoformat()) for e in plan.entries]
    g = plan.grid
    ds = cf_dataset(plan.coll, stacks, periods, g.transform, g.crs, plan.qc, decode_bits=False)
    first = block_chunks(plan, plan.layers[0])
    for name in plan.layers:
        ds[name].encoding["preferred_chunks"] = block_chunks(plan, name)
    if not chunks:
        return ds
    if importlib.util.find_spec("dask") is None:
        raise ClientError("chunked arrays need dask (pip install dask), or pass chunks=False")
    return ds.chunk(first)
