"""The no-data mask of one region and period, as a 0/255 GeoTIFF GDAL copies into COGs.

Which pixels hold data is decided by the LEAF version's rule (:mod:`leafcube.catalogue.qc`):
v2022 from the layer's own QC (sensor bits), 2023 and later from the single QC and the
other layers of the region and period. The inputs are read straight from the export's
pieces in 512-row windows (memory bounded whatever the size), once per run, and the mask
is shared by every layer it masks.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
from rasterio.errors import RasterioError
from rasterio.windows import Window

from leafcube.catalogue.models import Bounds
from leafcube.catalogue.qc import observed_single, observed_v2022

from .decode import Decoding, compact_layer, scratch_profile
from .errors import IngestError

ROWS = 512
MaskRule = Literal["v2022", "single"]


@dataclass(frozen=True)
class MaskInput:
    """One layer the rule reads: its export pieces (or its COG in the cube)."""

    layer: str
    paths: tuple[Path, ...]
    compact: Decoding | None = None


@dataclass(frozen=True)
class MaskRecipe:
    """What one mask is made from: the rule, the QC input and the other layers it reads."""

    id: str
    rule: MaskRule
    qc: MaskInput
    others: tuple[MaskInput, ...] = ()
    invalid_too: bool = False


def _placed(inp: MaskInput, bbox: Bounds, res: float) -> list[tuple[Path, int, int, int, int]]:
    """Each piece of ``inp`` as (path, col, row, width, height) on the grid of ``bbox``."""
    out = []
    for path in inp.paths:
        with rasterio.open(path) as src:
            b, w, h = src.bounds, src.width, src.height
        col, row = round((b.left - bbox[0]) / res), round((bbox[3] - b.top) / res)
        if col < 0 or row < 0 or not math.isclose(b.left, bbox[0] + col * res, abs_tol=1e-6):
            raise IngestError(f"{path}: its grid differs from the other layers of its tile")
        out.append((path, col, row, w, h))
    return out


def _check_cover(inp: MaskInput, placed, shape: tuple[int, int]) -> None:
    height, width = shape
    right = max(c + w for _, c, _, w, _ in placed)
    bottom = max(r + h for _, _, r, _, h in placed)
    if right != width or bottom != height:
        raise IngestError(
            f"{inp.paths[0]}: {inp.layer} covers other pixels than the layer it masks; "
            "the layers of one region and period must share their grid"
        )


def _rows(placed, r0: int, r1: int, width: int, fn: Callable | None) -> np.ndarray:
    """Rows ``r0..r1`` of an input on the target grid (0 outside its pieces)."""
    out: np.ndarray | None = None
    for path, col, row, w, h in placed:
        a, b = max(r0, row), min(r1, row + h)
        if a >= b:
            continue
        with rasterio.open(path) as src:
            data = src.read(1, window=Window(0, a - row, w, b - a))
            if src.nodata is not None:  # a layer already in the cube: its no data is LEAF's 0
                data = np.where(data == src.nodata, 0, data)
        if fn is not None:
            data = fn(data)
        if out is None:
            out = np.zeros((r1 - r0, width), dtype=data.dtype)
        out[a - r0 : b - r0, col : col + w] = data
    return out if out is not None else np.zeros((r1 - r0, width), dtype=np.uint8)


def write_mask(
    recipe: MaskRecipe, bbox: Bounds, shape: tuple[int, int], res: float, crs: str, out: Path
) -> Path:
    """Write 255 where ``recipe``'s rule finds data and 0 elsewhere, on the grid ``bbox``."""
    inputs = [recipe.qc, *recipe.others]
    placed = [_placed(i, bbox, res) for i in inputs]
    for inp, p in zip(inputs, placed, strict=True):
        _check_cover(inp, p, shape)
    fns = [
        (lambda a, d=i.compact: compact_layer(a, d.layer)) if i.compact else None for i in inputs
    ]
    height, width = shape
    transform = rasterio.transform.from_origin(bbox[0], bbox[3], res, res)
    profile = scratch_profile(width, height, "uint8", crs, transform)
    with rasterio.open(out, "w", **profile) as dst:
        for r0 in range(0, height, ROWS):
            r1 = min(height, r0 + ROWS)
            layers = [_rows(p, r0, r1, width, f) for p, f in zip(placed, fns, strict=True)]
            qc = layers[0].astype(np.uint8)
            if recipe.rule == "v2022":
                seen = observed_v2022(qc, recipe.invalid_too)
            else:
                seen = observed_single(qc, layers[1:], recipe.invalid_too)
            dst.write(
                np.where(seen, 255, 0).astype(np.uint8)[None], window=Window(0, r0, width, r1 - r0)
            )
    return out


class MaskFiles:
    """The masks of one run, each written once even when threads ask together."""

    def __init__(self, tmp_dir: Path):
        self.tmp_dir = tmp_dir
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._made: dict[str, Path | IngestError] = {}

    def get(
        self, recipe: MaskRecipe, bbox: Bounds, shape: tuple[int, int], res: float, crs: str
    ) -> Path:
        """The mask file of ``recipe`` on that grid, written on first use."""
        key = f"{recipe.id}|{bbox}|{shape}"
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._made:
                self.tmp_dir.mkdir(parents=True, exist_ok=True)
                out = self.tmp_dir / f"mask-{uuid.uuid4().hex}.tif"
                try:
                    self._made[key] = write_mask(recipe, bbox, shape, res, crs, out)
                except IngestError as exc:
                    self._made[key] = exc
                except RasterioError as exc:
                    self._made[key] = IngestError(f"{recipe.qc.paths[0]}: unreadable ({exc})")
            made = self._made[key]
        if isinstance(made, IngestError):
            raise made
        return made
