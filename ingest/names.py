"""LEAF export file names: what layer, period, region and resolution a file holds.

Both conventions of LEAF's exports are understood (docs/ingest.md):
``tile42_2023_Aug_LAI_20m.tif`` (v2022: one QC per product, ``tile42_2023_LAI_20m.tif``
for the 15 Jun-15 Sep peak season) and ``tile42_Aug_LAI_20m.tif`` /
``site_2023-05-01_2023-05-31_LAI_20m.tif`` (newer: a single QC). Google Earth Engine's
split pieces ``...-0000000000-0000023296.tif`` keep their row and column offsets.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from leafcube.catalogue.products import PRODUCTS

Period = Literal["monthly", "peak", "custom", "yearly"]

MONTHS: dict[str, int] = {calendar.month_abbr[i].lower(): i for i in range(1, 13)}
PEAK_SEASON = ((6, 15), (9, 15))

_MON = "|".join(calendar.month_abbr[1:])
_DAY = r"\d{4}-?\d{2}-?\d{2}"
_PROD = "|".join(PRODUCTS)
_NAME = re.compile(
    rf"^(?P<region>[A-Za-z0-9][A-Za-z0-9.-]*(?:_[A-Za-z0-9.-]+)*?)_"
    rf"(?:(?P<year>\d{{4}})(?:_(?P<mon>{_MON}))?|(?P<mon_only>{_MON})"
    rf"|(?P<start>{_DAY})_(?P<end>{_DAY}))_"
    rf"(?P<layer>(?:error)?(?:{_PROD})(?:_QC)?|QC|Date|Partition)_(?P<res>\d+)m$",
    re.IGNORECASE,
)
_PIECE = re.compile(r"^(?P<stem>.+)-(?P<row>\d{10})-(?P<col>\d{10})$")
_REGION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CANONICAL = {n.lower(): n for p in PRODUCTS for n in (p, f"error{p}", f"{p}_QC")} | {
    "qc": "QC",
    "date": "Date",
    "partition": "Partition",
}


class NameError_(ValueError):
    """A file whose name is not a LEAF export name (and no explicit layer/date/tile was given)."""


@dataclass(frozen=True)
class Export:
    """What one export file holds, read from its name (or given explicitly)."""

    layer: str
    region: str
    start: dt.date
    end: dt.date
    res: int | None
    period: Period
    per_product_qc: bool
    piece: tuple[int, int] | None = None

    @property
    def key(self) -> str:
        """The catalogue's date key, or ``partition/YYYY`` for a yearly Partition."""
        if self.period == "yearly":
            return f"partition/{self.start.year}"
        return self.start.isoformat()

    def default_collection(self, res: float) -> str:
        """``leaf-s2-20m-monthly``, ``leaf-landsat-30m-peak``, ``leaf-s2-20m-custom``..."""
        r = round(res)
        sensor = {20: "s2-", 30: "landsat-"}.get(r, "")
        period = "monthly" if self.period == "yearly" else self.period
        return f"leaf-{sensor}{r}m-{period}"

    @property
    def group(self) -> tuple[str, str, str, int | None]:
        """Pieces of one layer share this (their name without the split suffix)."""
        return (self.layer, self.region, self.key, self.res)


def month_period(year: int, month: int) -> tuple[dt.date, dt.date]:
    """First and last day of a month."""
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _day(text: str, path: Path) -> dt.date:
    digits = text.replace("-", "")
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise NameError_(f"{path}: {text!r} is not a date") from None


def _year_from_folders(path: Path) -> int | None:
    for part in reversed(path.parent.parts):
        if re.fullmatch(r"(19|20)\d\d", part):
            return int(part)
    return None


def split_piece(stem: str) -> tuple[str, tuple[int, int] | None]:
    """``name-0000000000-0000023296`` -> (``name``, (row, col)); other stems pass unchanged."""
    m = _PIECE.match(stem)
    if m is None:
        return stem, None
    return m["stem"], (int(m["row"]), int(m["col"]))


def parse_name(path: Path, year: int | None = None) -> Export:
    """Read layer, period, region and resolution from a LEAF export's file name.

    Newer exports carry no year: it comes from ``year`` or from a parent folder
    named like ``2023``. Raises :class:`NameError_` with a one-line reason.
    """
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise NameError_(f"{path}: not a .tif file name")
    stem, piece = split_piece(path.stem)
    m = _NAME.match(stem)
    if m is None:
        raise NameError_(
            f"{path}: not a LEAF export name (like tile42_2023_Aug_LAI_20m.tif); "
            "give --layer, --date and --tile to ingest it anyway"
        )
    layer = _CANONICAL[m["layer"].lower()]
    newer = m["year"] is None
    per_product = layer != "QC" and (layer.endswith("_QC") or not newer)
    if m["start"]:
        start, end = _day(m["start"], path), _day(m["end"], path)
        if end < start:
            raise NameError_(f"{path}: the window ends before it starts")
        period: Period = "custom"
    else:
        y = int(m["year"]) if m["year"] else (year or _year_from_folders(path))
        if y is None:
            raise NameError_(
                f"{path}: the name has no year; put it in a folder named by the year "
                "(e.g. 2023/) or pass --year"
            )
        mon = m["mon"] or m["mon_only"]
        if layer == "Partition" and mon is None:
            start, end, period = dt.date(y, 1, 1), dt.date(y, 12, 31), "yearly"
        elif mon is None:
            (sm, sd), (em, ed) = PEAK_SEASON
            start, end, period = dt.date(y, sm, sd), dt.date(y, em, ed), "peak"
        else:
            start, end = month_period(y, MONTHS[mon.lower()])
            period = "monthly"
    if layer == "Partition":
        start, end, period = dt.date(start.year, 1, 1), dt.date(start.year, 12, 31), "yearly"
    return Export(layer, m["region"], start, end, int(m["res"]), period, per_product, piece)


def explicit_export(path: Path, layer: str, date: dt.date, tile: str) -> Export:
    """An export described by ``--layer/--date/--tile`` instead of its name.

    The period runs from ``date`` to the end of its month (the whole year for Partition).
    """
    if not _REGION.match(tile):
        raise NameError_(f"--tile {tile!r}: use letters, digits, '.', '_' or '-'")
    canonical = _CANONICAL.get(layer.lower())
    if canonical is None:
        raise NameError_(
            f"--layer {layer!r} is not a LEAF layer ({', '.join(_CANONICAL.values())})"
        )
    _, piece = split_piece(path.stem)
    per_product = canonical != "QC"
    if canonical == "Partition":
        first, last = dt.date(date.year, 1, 1), dt.date(date.year, 12, 31)
        return Export(canonical, tile, first, last, None, "yearly", per_product, piece)
    end = month_period(date.year, date.month)[1]
    return Export(canonical, tile, date, end, None, "monthly", per_product, piece)
