"""Turning what a LEAF export stores into what the cube stores, in numpy, window by window.

Two decodings (docs/ingest.md):

- **Date** to the cube's zero-based day of year (UTC) of the period's first year, from
  whichever encoding the export used: LEAF v2022 wrote milliseconds since 1970 divided
  by 31,536,000 (thousandths of a 365-day year, 0.365 day each: the day is the one
  holding the middle of that interval, so it can be one day off), 2023 wrote days since
  1970 (exact), current LEAF the day of year (kept). The encoding is recognised from
  the values, which lie in disjoint ranges for any year from 1985 to 2035, and checked
  against the one the file's LEAF version implies.
- **Compact** ``bioParams_QC`` (one 64-bit band, integer or float) into LAI, fCOVER,
  fAPAR, Albedo and QC bytes: ``LAI·20·2²⁴ + fCOVER·200·2¹⁶ + fAPAR·200·2⁸ +
  Albedo·200 + QC·2³²``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import numpy as np
import rasterio
from rasterio.windows import Window

from .errors import IngestError

ROWS = 512
EPOCH = dt.date(1970, 1, 1)
#: The compact export's byte of each layer (shift in bits).
COMPACT_SHIFTS = {"QC": 32, "LAI": 24, "fCOVER": 16, "fAPAR": 8, "Albedo": 0}
COMPACT_DTYPES = ("int64", "uint64", "float64")
#: What turns a window of a source's values into the layer's DNs.
WindowFn: TypeAlias = Callable[[np.ndarray], np.ndarray]

#: Date encodings, by the name the catalogue records.
DOY = "day of year"
DAYS = "days since 1970-01-01"
THOUSANDTHS = "thousandths of a 365-day year since 1970-01-01"
#: The Date encoding each LEAF version wrote.
VERSION_DATE = {"v2022": THOUSANDTHS, "2023": DAYS, "current": DOY}


def _year_start(year: int) -> int:
    return (dt.date(year, 1, 1) - EPOCH).days


def date_ranges(year: int) -> dict[str, tuple[int, int]]:
    """The non-zero values each encoding takes for observations from ``year`` to ``year + 1``."""
    d0 = _year_start(year)
    return {
        DOY: (0, 731),
        DAYS: (d0 - 366, d0 + 731),
        THOUSANDTHS: (1000 * (year - 1970) - 1000, 1000 * (year - 1968)),
    }


def date_encoding(lo: int, hi: int, year: int, path: Path, expected: str | None) -> str:
    """The encoding whose range holds a Date file's non-zero values ``lo``..``hi``."""
    found = [name for name, (a, b) in date_ranges(year).items() if a <= lo and hi <= b]
    if not found:
        raise IngestError(
            f"{path}: Date values {lo}..{hi} fit no LEAF Date encoding for {year} "
            f"(day of year, days since 1970, thousandths of a year since 1970)"
        )
    name = found[0]
    if expected is not None and name != expected:
        raise IngestError(
            f"{path}: Date values {lo}..{hi} are {name}, but its LEAF version writes {expected}"
        )
    return name


def to_day_of_year(raw: np.ndarray, encoding: str, year: int) -> np.ndarray:
    """Date values in ``encoding`` as zero-based days of ``year`` (uint16); 0 stays 0."""
    v = raw.astype(np.int64)
    if encoding == DOY:
        doy = v
    elif encoding == DAYS:
        doy = v - _year_start(year)
    else:  # 0.365 day per unit; the middle of the unit's interval, in integer arithmetic
        doy = (365 * v + 182) // 1000 - _year_start(year)
    return np.where(raw == 0, 0, np.clip(doy, 0, 65535)).astype(np.uint16)


def compact_layer(raw: np.ndarray, layer: str) -> np.ndarray:
    """One layer's bytes from compact ``bioParams_QC`` values (integer or float64)."""
    if raw.dtype.kind == "f":
        raw = np.floor(np.nan_to_num(raw, nan=0.0, posinf=0.0, neginf=0.0))
    v = raw.astype(np.int64)
    shift = COMPACT_SHIFTS[layer]
    if layer == "QC":
        return np.clip(v >> shift, 0, 255).astype(np.uint8)
    return ((v >> shift) & 0xFF).astype(np.uint8)


@dataclass(frozen=True)
class Decoding:
    """How a job's sources become the layer's DNs: ``kind`` is ``date`` or ``compact``."""

    kind: str
    year: int = 0
    layer: str = ""
    expected: str | None = None

    def check_dtype(self, dtype: str, path: Path, name: str) -> None:
        """One clear line when a source cannot hold this decoding's input."""
        allowed = COMPACT_DTYPES if self.kind == "compact" else ("uint16",)
        if dtype not in allowed:
            raise IngestError(f"{path}: {name} must be {' or '.join(allowed)}, not {dtype}")


def _windows(src: rasterio.DatasetReader) -> Iterator[Window]:
    for row in range(0, src.height, ROWS):
        yield Window(0, row, src.width, min(ROWS, src.height - row))


def nonzero_range(paths: list[Path]) -> tuple[int, int] | None:
    """Smallest and largest non-zero value over the files (None when all are 0)."""
    lo: int | None = None
    hi: int | None = None
    for path in paths:
        with rasterio.open(path) as src:
            for win in _windows(src):
                a = src.read(1, window=win)
                nz = a[a != 0]
                if nz.size:
                    lo = int(nz.min()) if lo is None else min(lo, int(nz.min()))
                    hi = int(nz.max()) if hi is None else max(hi, int(nz.max()))
    return None if lo is None or hi is None else (lo, hi)


def decoder(dec: Decoding, paths: list[Path]) -> tuple[WindowFn, dict[str, str]]:
    """The window function of ``dec`` for these sources, and what the catalogue records."""
    if dec.kind == "compact":
        return (lambda a: compact_layer(a, dec.layer)), {}
    span = nonzero_range(paths)
    if span is None:
        enc = dec.expected or DOY
    else:
        enc = date_encoding(span[0], span[1], dec.year, paths[0], dec.expected)
    return (lambda a: to_day_of_year(a, enc, dec.year)), {"date_encoding": enc}


def scratch_profile(width: int, height: int, dtype: str, crs, transform) -> dict:
    """The profile of ingest's temporary GeoTIFFs (decoded layers, masks): tiled, fast ZSTD."""
    return {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": dtype,
        "crs": crs,
        "transform": transform,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "zstd",
        "zstd_level": 1,
        "BIGTIFF": "IF_SAFER",
    }


def write_decoded(path: Path, out: Path, fn: WindowFn, dtype: str) -> Path:
    """``fn`` applied to ``path`` in 512-row windows, written on the same grid to ``out``."""
    with rasterio.open(path) as src:
        profile = scratch_profile(src.width, src.height, dtype, src.crs, src.transform)
        with rasterio.open(out, "w", **profile) as dst:
            for win in _windows(src):
                dst.write(fn(src.read(1, window=win)), 1, window=win)
    return out
