"""Palettes per layer: stored DNs map straight to a palette index, so a tile is ``lut[dn]``.

Index 0 is transparent (masked); continuous ramps use the 255 indices after it. The
ramps are rio-tiler's colormaps, spread over the layer's ``display_range``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rio_tiler.colormap import cmap

from leafcube.catalogue import LayerSpec

#: NALCMS land-cover legend colours (classes 1-19).
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


@dataclass(frozen=True)
class Palette:
    """``index[dn]`` is the palette entry of a DN (None: compute per tile); ``rgba`` has 256."""

    index: np.ndarray | None
    rgba: np.ndarray


def _ramp(name: str) -> np.ndarray:
    """rio-tiler's colormap ``name`` (viridis when unknown), 255 entries after a transparent 0."""
    key = name.lower() if name.lower() in cmap.list() else FALLBACK
    ramp = cmap.get(key)
    rgba = np.zeros((256, 4), dtype=np.uint8)
    rgba[1:] = [ramp[round(i * 255 / 254)] for i in range(255)]
    rgba[1:, 3] = 255
    return rgba


def _scaled_index(spec: LayerSpec, dn: np.ndarray) -> np.ndarray:
    phys = dn.astype(np.float64) * spec.scale + spec.offset
    lo, hi = spec.display_range
    norm = np.nan_to_num(np.clip((phys - lo) / ((hi - lo) or 1.0), 0.0, 1.0))
    return (np.round(norm * 254) + 1).astype(np.uint8)


@lru_cache(maxsize=64)
def palette_for(spec: LayerSpec) -> Palette:
    """The palette of a layer, with a DN lookup table for 8- and 16-bit integer layers."""
    dtype = np.dtype(spec.dtype)
    small = dtype.kind in "ui" and dtype.itemsize <= 2
    if spec.colormap == "nalcms":
        rgba = np.zeros((256, 4), dtype=np.uint8)
        for value, hexcolor in NALCMS.items():
            rgba[value + 1] = (*bytes.fromhex(hexcolor[1:]), 255)
        index = np.zeros(1 << (8 * dtype.itemsize), dtype=np.uint8) if small else None
        if index is not None:  # looked up at dn - dtype.min (signed types start below 0)
            first = 1 - int(np.iinfo(dtype).min)
            index[first : first + len(NALCMS)] = np.arange(2, len(NALCMS) + 2)
        return Palette(index, rgba)
    index = None
    if small:
        dn = np.arange(np.iinfo(dtype).min, np.iinfo(dtype).max + 1)
        index = _scaled_index(spec, dn)
    return Palette(index, _ramp(spec.colormap))


def to_index(spec: LayerSpec, dn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Palette indices of DNs (0 reserved for masked) and the palette (256 x RGBA)."""
    pal = palette_for(spec)
    if pal.index is not None and dn.dtype == np.dtype(spec.dtype):
        offset = -int(np.iinfo(dn.dtype).min)
        return pal.index[dn.astype(np.intp) + offset if offset else dn], pal.rgba
    if spec.colormap == "nalcms":
        valid = (dn >= 1) & (dn <= len(NALCMS))
        return np.where(valid, dn.astype(np.intp) + 1, 0).astype(np.uint8), pal.rgba
    return _scaled_index(spec, dn), pal.rgba
