"""Lookup tables from stored DNs straight to RGBA, one per layer: a tile is then ``lut[dn]``."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rio_tiler.colormap import cmap

from leafcube.catalogue import LayerSpec

#: NALCMS 2015/2020 land-cover legend colours (classes 1-19).
NALCMS = {
    1: "#033e00",
    2: "#939b71",
    3: "#196d12",
    4: "#1fab01",
    5: "#5b725c",
    6: "#6b7d2c",
    7: "#b29d29",
    8: "#b48833",
    9: "#e9da5d",
    10: "#e0cd88",
    11: "#a07451",
    12: "#bad292",
    13: "#3f8970",
    14: "#6ca289",
    15: "#e6ad6a",
    16: "#a9abae",
    17: "#db2126",
    18: "#4c73a1",
    19: "#fff7fe",
}
FALLBACK = "viridis"


def _palette(name: str) -> np.ndarray:
    """A 256 x 4 uint8 colour ramp by name (rio-tiler's), viridis when unknown."""
    key = name.lower()
    if key not in cmap.list():
        key = FALLBACK
    ramp = cmap.get(key)
    return np.array([ramp[i] for i in range(256)], dtype=np.uint8)


def _categorical(colors: dict[int, str], size: int) -> np.ndarray:
    lut = np.zeros((size, 4), dtype=np.uint8)
    for value, hexcolor in colors.items():
        if value < size:
            rgb = bytes.fromhex(hexcolor[1:])
            lut[value] = (*rgb, 255)
    return lut


@lru_cache(maxsize=64)
def lut_for(spec: LayerSpec) -> np.ndarray:
    """RGBA for every DN of ``spec``'s dtype (uint8/uint16): its colormap over its display range."""
    size = 1 << (8 * np.dtype(spec.dtype).itemsize)
    if spec.colormap == "nalcms":
        return _categorical(NALCMS, size)
    dn = np.arange(size, dtype=np.float64)
    phys = dn * spec.scale + spec.offset
    lo, hi = spec.display_range
    norm = np.clip((phys - lo) / ((hi - lo) or 1.0), 0.0, 1.0)
    return _palette(spec.colormap)[np.round(norm * 255).astype(np.uint8)]


def colorize(spec: LayerSpec, dn: np.ndarray) -> np.ndarray:
    """RGBA (h, w, 4) for stored DNs of any dtype (integer ones through :func:`lut_for`)."""
    if dn.dtype.kind in "ui" and dn.dtype.itemsize <= 2 and spec.dtype == dn.dtype.name:
        return lut_for(spec)[dn]
    phys = dn.astype(np.float64) * spec.scale + spec.offset
    lo, hi = spec.display_range
    norm = np.nan_to_num(np.clip((phys - lo) / ((hi - lo) or 1.0), 0.0, 1.0))
    return _palette(spec.colormap)[np.round(norm * 255).astype(np.uint8)]
