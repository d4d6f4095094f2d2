"""The ``dn`` wire format of subsets, the one home of its encoder and decoder.

One zstd frame: per layer an ``.npy`` of its DNs ``(time, y, x)`` in the smallest
integer type that holds them (0 where masked: LEAF's DNs travel as uint8 although the
cube stores them int16), then an ``.npy`` of the mask ``(layer, time, y, x)``
packed along x (``numpy.packbits``, 1 = masked). Scales and offsets travel in the
``x-leafcube-scales`` and ``x-leafcube-offsets`` headers; decoded values are
``float32(dn) * float32(scale) + float32(offset)``, exactly the reader's.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import zstandard

DN_MEDIA_TYPE = "application/x-leafcube-dn+zstd"
#: zstd level of ``dn`` subsets: level 1 is as small as higher levels on DNs, and fast.
DN_LEVEL = 1
SCALES_HEADER = "x-leafcube-scales"
OFFSETS_HEADER = "x-leafcube-offsets"


def encode_dn(dns: Sequence[np.ndarray], masked: np.ndarray) -> bytes:
    """``dns[layer]`` of shape ``(time, y, x)`` and ``masked`` ``(layer, time, y, x)`` as
    one zstd frame; masked DNs are written as 0."""
    buf = io.BytesIO()
    for dn, mask in zip(dns, masked, strict=True):
        np.save(
            buf, narrowest(np.where(mask, 0, dn).astype(dn.dtype, copy=False)), allow_pickle=False
        )
    np.save(buf, np.packbits(masked, axis=-1), allow_pickle=False)
    return zstandard.ZstdCompressor(level=DN_LEVEL).compress(buf.getvalue())


def narrowest(a: np.ndarray) -> np.ndarray:
    """``a`` in the smallest of uint8, uint16 and int16 that holds its values exactly (an
    integer array unchanged when none does, or when it is empty; floats unchanged)."""
    if a.dtype.kind not in "iu" or a.size == 0:
        return a
    lo, hi = int(a.min()), int(a.max())
    for dtype in (np.uint8, np.uint16, np.int16):
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return a if a.dtype == dtype else a.astype(dtype)
    return a


def decode_dn(body: bytes, scales: Sequence[float], offsets: Sequence[float]) -> np.ndarray:
    """The float32 ``(layer, time, y, x)`` values of a ``dn`` frame, NaN where masked."""
    buf = io.BytesIO(zstandard.ZstdDecompressor().decompress(body))
    dns = [np.load(buf, allow_pickle=False) for _ in scales]
    width = dns[0].shape[-1]
    masked = np.unpackbits(np.load(buf, allow_pickle=False), axis=-1, count=width).view(bool)
    values = np.stack(
        [
            dn.astype(np.float32) * np.float32(s) + np.float32(o)
            for dn, s, o in zip(dns, scales, offsets, strict=True)
        ]
    )
    values[masked] = np.nan
    return values


def header_values(value: str) -> list[float]:
    """A ``x-leafcube-scales``/``-offsets`` header as floats."""
    return [float(v) for v in value.split(",")]


def header_value(values: Sequence[float]) -> str:
    """Floats as a ``x-leafcube-scales``/``-offsets`` header (``repr``: exact round trip)."""
    return ",".join(repr(float(v)) for v in values)
