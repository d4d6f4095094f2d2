"""PNG encoding of RGBA tiles (rio-tiler's renderer), and the empty tile."""

from __future__ import annotations

from functools import cache

import numpy as np
from rio_tiler.utils import render

from .render import SIZE


def encode(rgba: np.ndarray) -> bytes:
    """A (h, w, 4) uint8 RGBA array as PNG bytes."""
    bands = np.ascontiguousarray(rgba[..., :3].transpose(2, 0, 1))
    return render(bands, mask=rgba[..., 3], img_format="PNG", ZLEVEL=1)


@cache
def empty() -> bytes:
    """A fully transparent tile, for tiles with no data."""
    return encode(np.zeros((SIZE, SIZE, 4), dtype=np.uint8))
