"""Large windows cut on the tile COGs' block lattice, and one read stitched back from
the reads of its parts: the server reads a large window in parts so a small request
waits for one part, not a whole read; the client asks for a large ROI in windows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from leafcube.catalogue import DateEntry
from leafcube.catalogue.grid import CUT

from .grid import RoiGrid
from .read import LayerRead

#: A window of a grid: row, column, height and width in pixels.
Window = tuple[int, int, int, int]
#: Pixels of the largest window a reader reads as one job: a larger one is read in parts
#: of one :data:`~leafcube.catalogue.grid.CUT` square each (2 x 2 COG blocks, one block of
#: cubes ingested before recipe cog-4; about 3 ms of decoding a part).
PART_PIXELS = CUT * CUT


def anchor(entries: Sequence[DateEntry], layer: str) -> tuple[float, float] | None:
    """The top-left corner of the layer's first tile (by name) on the first date that has
    the layer: where its blocks' lattice starts (tiles that overlap it have other lattices
    whose blocks the cuts split). None when no date has the layer."""
    for entry in entries:
        files = entry.layers.get(layer)
        if files and files.tiles:
            bbox = files.tiles[sorted(files.tiles)[0]].bbox
            return bbox[0], bbox[3]
    return None


def _spans(n: int, offset: int, step: int) -> list[tuple[int, int]]:
    """``(start, length)`` covering ``0..n`` cut where ``offset + i`` is a multiple of ``step``."""
    first = (-offset) % step or step
    cuts = [0, *range(first, n, step), n]
    return [(a, b - a) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def windows(
    grid: RoiGrid, corner: tuple[float, float] | None, blocks: tuple[int, int] = (1, 1)
) -> list[Window]:
    """Windows covering ``grid`` row by row, cut on the lattice of ``blocks`` (rows, columns)
    of blocks anchored at ``corner`` (the grid's own corner when None)."""
    res = grid.transform.a
    x0, y0 = corner if corner is not None else (grid.bounds[0], grid.bounds[3])
    col_off = round((grid.bounds[0] - x0) / res)
    row_off = round((y0 - grid.bounds[3]) / res)
    rows = _spans(grid.height, row_off, CUT * max(1, blocks[0]))
    cols = _spans(grid.width, col_off, CUT * max(1, blocks[1]))
    return [(r, c, h, w) for r, h in rows for c, w in cols]


def stitch(parts: Sequence[tuple[Window, LayerRead]], shape: tuple[int, int]) -> LayerRead:
    """One read of a ``shape`` grid from the reads of windows covering it: the same DNs,
    mask and tiles as reading it whole."""
    spec = parts[0][1].spec
    dtype = next((r.dn.dtype for _, r in parts if r.tiles), parts[0][1].dn.dtype)
    dn = np.zeros(shape, dtype=dtype)
    mask = np.ones(shape, dtype=bool)
    tiles: set[str] = set()
    for (row, col, height, width), read in parts:
        target = (slice(row, row + height), slice(col, col + width))
        dn[target] = read.dn
        mask[target] = read.mask
        tiles.update(read.tiles)
    return LayerRead(dn, mask, spec, sorted(tiles))
