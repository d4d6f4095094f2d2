"""The CCRS tile grid (EPSG:3979) and snapping of bounds to a collection's pixel grid."""

from __future__ import annotations

import math
import re

from .models import Bounds

CCRS_CRS = "EPSG:3979"
TILE_SIZE_M = 900_000.0
X0 = -2_600_000.0
Y0 = 3_914_925.0
#: Pixels a side of the blocks of the tile COGs ingest writes (recipe ``cog-4``; cubes
#: ingested before it have 512 px blocks, which read the same).
BLOCK = 256
#: Pixels a side of the lattice that large reads, requests and chunks are cut on, anchored
#: at each tile file's top-left corner: whole blocks of either block size.
CUT = 2 * BLOCK

#: The 26 tiles that cover the Canadian landmass.
CANADA_TILES: tuple[str, ...] = tuple(
    f"tile{n}"
    for n in (
        13,
        14,
        21,
        22,
        23,
        24,
        25,
        31,
        32,
        33,
        34,
        35,
        36,
        41,
        42,
        43,
        44,
        45,
        46,
        47,
        52,
        53,
        54,
        55,
        56,
        65,
    )
)

_TILE = re.compile(r"^tile(\d)(\d)(?:_([49])(\d)(\d))?$")


def tile_bounds(name: str) -> Bounds:
    """Bounds of a CCRS tile (``tile42``) or sub-tile (``tile42_411``, ``tile45_911``) in EPSG:3979.

    Raises ValueError for a name that is not of that form.
    """
    m = _TILE.match(name)
    if m is None:
        raise ValueError(f"{name!r} is not a CCRS tile name (tileRC, tileRC_4rc or tileRC_9rc)")
    r, c = int(m[1]), int(m[2])
    xmin = X0 + TILE_SIZE_M * (c - 1)
    ymax = Y0 - TILE_SIZE_M * (r - 1)
    if m[3] is None:
        return (xmin, ymax - TILE_SIZE_M, xmin + TILE_SIZE_M, ymax)
    n = 2 if m[3] == "4" else 3
    sr, sc = int(m[4]), int(m[5])
    if not (1 <= sr <= n and 1 <= sc <= n):
        raise ValueError(f"{name!r}: sub-tile row and column must be 1..{n}")
    size = TILE_SIZE_M / n
    x = xmin + size * (sc - 1)
    y = ymax - size * (sr - 1)
    return (x, y - size, x + size, y)


def is_tile_name(name: str) -> bool:
    """True for a CCRS tile or sub-tile name."""
    return _TILE.match(name) is not None


def snap_bounds(bounds: Bounds, origin: tuple[float, float], res: float) -> Bounds:
    """Grow ``bounds`` outwards to whole pixels of the grid anchored at ``origin``.

    Server and clients snap the same way, so every mode returns the same pixels.
    """
    ox, oy = origin
    eps = 1e-6
    xmin = ox + math.floor((bounds[0] - ox) / res + eps) * res
    xmax = ox + math.ceil((bounds[2] - ox) / res - eps) * res
    ymin = oy + math.floor((bounds[1] - oy) / res + eps) * res
    ymax = oy + math.ceil((bounds[3] - oy) / res - eps) * res
    return (xmin, ymin, xmax, ymax)


def intersect(a: Bounds, b: Bounds) -> Bounds | None:
    """The overlap of two bounds, or None when they only touch or miss."""
    xmin, ymin = max(a[0], b[0]), max(a[1], b[1])
    xmax, ymax = min(a[2], b[2]), min(a[3], b[3])
    if xmin >= xmax or ymin >= ymax:
        return None
    return (xmin, ymin, xmax, ymax)
