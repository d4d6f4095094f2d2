"""LEAF export file names: what layer, period, region, resolution and LEAF version a file holds.

Every naming of LEAF's versions is understood (docs/ingest.md has the table):

- v2022: ``tile42_2023_Aug_LAI_20m``, ``..._errorLAI_...``, ``..._LAI_QC_...``, peak season
  without a month (``tile42_2023_LAI_20m``, its Date ``tile42_2023_Mone_Date_20m``), a
  yearly ``tile42_2023_Partition_20m``;
- 2023: the same products with one ``..._QC_...``, no error layers, and from November 2023
  an optional sensor token (``tile42_S2_2023_Aug_LAI_20m``);
- current: no year (``tile42_Aug_LAI_20m``, ``tile42_season_LAI_20m``,
  ``site_2024-05-01_2024-05-31_LAI_20m``; the year is the Drive folder's, ``tile42_2024/``),
  Partition per window;
- the compact ``tile42_2023_Aug_bioParams_QC_20m`` (products and QC in one 64-bit band).

Google Earth Engine's split pieces ``...-0000000000-0000023296.tif`` keep their offsets.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from leafcube.catalogue.products import PRODUCTS

Period = Literal["monthly", "peak", "custom", "yearly"]
Version = Literal["v2022", "2023", "current", "compact"]

MONTHS: dict[str, int] = {calendar.month_abbr[i].lower(): i for i in range(1, 13)}
PEAK_SEASON = ((6, 15), (9, 15))
#: The compact export's layer name; ingest decodes it into the products and QC.
COMPACT = "bioParams_QC"

_MON = "|".join(calendar.month_abbr[1:])
_DAY = r"\d{4}-?\d{2}-?\d{2}"
_PROD = "|".join(PRODUCTS)
_LAYER = rf"(?:error)?(?:{_PROD})(?:_QC)?|QC|Date|Partition|{COMPACT}"
_NAME = re.compile(
    rf"^(?P<region>[A-Za-z0-9][A-Za-z0-9.-]*(?:_[A-Za-z0-9.-]+)*?)"
    rf"(?:_(?P<sensor>S2|L[5789]|LS|HLS))?_"
    rf"(?:(?P<year>\d{{4}})(?:_(?P<mon>{_MON}|Mone))?|(?P<mon_only>{_MON})"
    rf"|(?P<season>season)|(?P<start>{_DAY})_(?P<end>{_DAY}))_"
    rf"(?P<layer>{_LAYER})_(?P<res>\d+)m$",
    re.IGNORECASE,
)
_PIECE = re.compile(r"^(?P<stem>.+)-(?P<row>\d{10})-(?P<col>\d{10})$")
_REGION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_FOLDER_YEAR = re.compile(r"(?:^|_)((?:19|20)\d\d)$")
_CANONICAL = {n.lower(): n for p in PRODUCTS for n in (p, f"error{p}", f"{p}_QC")} | {
    "qc": "QC",
    "date": "Date",
    "partition": "Partition",
    COMPACT.lower(): COMPACT,
}
_EXAMPLE = "tile42_Aug_LAI_20m.tif in a folder tile42_2024/, or tile42_2023_Aug_LAI_20m.tif"


class ExportNameError(ValueError):
    """A file whose name is not a LEAF export name (and no explicit layer/date/tile was given)."""


@dataclass(frozen=True)
class Export:
    """What one export file holds, read from its name (or given explicitly).

    ``version`` is None when the name alone cannot tell v2022 from 2023 (a product, Date
    or Partition with a year): the other files of its region and year decide
    (:mod:`.versions`).
    """

    layer: str
    region: str
    start: dt.date
    end: dt.date
    res: int | None
    period: Period
    version: Version | None
    piece: tuple[int, int] | None = None

    @property
    def key(self) -> str:
        """The catalogue's date key, or ``partition/YYYY`` for a yearly Partition."""
        if self.period == "yearly":
            return f"partition/{self.start.year}"
        return self.start.isoformat()

    @property
    def per_product_qc(self) -> bool:
        """v2022 exports carry one QC per product; the others a single QC."""
        return self.version == "v2022"

    @property
    def group(self) -> tuple[str, str, str, int | None]:
        """Pieces of one layer share this (their name without the split suffix)."""
        return (self.layer, self.region, self.key, self.res)

    def with_version(self, version: Version) -> Export:
        return dataclasses.replace(self, version=version)


def month_period(year: int, month: int) -> tuple[dt.date, dt.date]:
    """First and last day of a month."""
    return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])


def _day(text: str, path: Path) -> dt.date:
    digits = text.replace("-", "")
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise ExportNameError(f"{path}: {text!r} is not a date") from None


def year_from_folders(path: Path) -> int | None:
    """The year of the nearest parent folder named like LEAF's ``tile42_2024`` or ``2024``."""
    for part in reversed(path.parent.parts):
        m = _FOLDER_YEAR.search(part)
        if m:
            return int(m[1])
    return None


def split_piece(stem: str) -> tuple[str, tuple[int, int] | None]:
    """``name-0000000000-0000023296`` -> (``name``, (row, col)); other stems pass unchanged."""
    m = _PIECE.match(stem)
    if m is None:
        return stem, None
    return m["stem"], (int(m["row"]), int(m["col"]))


def _near_miss(path: Path, stem: str) -> str:
    """Why ``stem`` is not a LEAF name, saying what was expected."""
    parts = stem.split("_")
    if not re.fullmatch(r"\d+m", parts[-1]):
        return f"{path}: not a LEAF export name: expected it to end with the resolution, like _20m"
    layer = parts[-2] if len(parts) > 1 else ""
    if parts[-2:-1] == ["QC"] and len(parts) > 2:
        layer = "_".join(parts[-3:-1])
    if layer.lower() not in _CANONICAL and layer != "QC":
        known = ", ".join(dict.fromkeys(_CANONICAL.values()))
        return f"{path}: {layer!r} is not a LEAF layer (expected one of {known})"
    return (
        f"{path}: not a LEAF export name: expected a month (Jan..Dec), 'season', a year "
        f"or a window YYYY-MM-DD_YYYY-MM-DD before the layer, like {_EXAMPLE}; "
        "give --layer, --date and --tile to ingest it anyway"
    )


def _version(m: re.Match, layer: str) -> Version | None:
    """The LEAF version a name's form tells, or None when only its siblings can."""
    if layer == COMPACT:
        return "compact"
    if m["sensor"]:
        return "2023"
    if m["year"] is None:
        return "current"
    if layer.startswith("error") or layer.endswith("_QC") or (m["mon"] or "").lower() == "mone":
        return "v2022"
    if layer == "QC":
        return "2023"
    return None


def parse_name(path: Path, year: int | None = None) -> Export:
    """Read layer, period, region, resolution and version from a LEAF export's file name.

    Current exports carry no year: it comes from ``year`` or from a parent folder named
    like ``tile42_2024`` or ``2024``. Raises :class:`ExportNameError` with a one-line reason.
    """
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise ExportNameError(f"{path}: not a .tif file name")
    stem, piece = split_piece(path.stem)
    m = _NAME.match(stem)
    if m is None:
        raise ExportNameError(_near_miss(path, stem))
    layer = _CANONICAL[m["layer"].lower()]
    version = _version(m, layer)
    mon = (m["mon"] or m["mon_only"] or "").lower()
    if mon == "mone" and layer != "Date":
        raise ExportNameError(f"{path}: 'Mone' marks the v2022 peak-season Date only")
    if m["start"]:
        start, end = _day(m["start"], path), _day(m["end"], path)
        if end < start:
            raise ExportNameError(f"{path}: the window ends before it starts")
        period: Period = "custom"
    else:
        y = int(m["year"]) if m["year"] else (year or year_from_folders(path))
        if y is None:
            raise ExportNameError(
                f"{path}: the name has no year; put it in its LEAF folder named like "
                "tile42_2024/ (or 2024/), or pass --year"
            )
        if layer == "Partition" and m["year"] and not mon:
            start, end, period = dt.date(y, 1, 1), dt.date(y, 12, 31), "yearly"
        elif not mon or mon == "mone" or m["season"]:
            (sm, sd), (em, ed) = PEAK_SEASON
            start, end, period = dt.date(y, sm, sd), dt.date(y, em, ed), "peak"
        else:
            start, end = month_period(y, MONTHS[mon])
            period = "monthly"
    return Export(layer, m["region"], start, end, int(m["res"]), period, version, piece)


def explicit_export(path: Path, layer: str, date: dt.date, tile: str) -> Export:
    """An export described by ``--layer/--date/--tile`` instead of its name.

    The period runs from ``date`` to the end of its month (the whole year for Partition).
    """
    if not _REGION.match(tile):
        raise ExportNameError(f"--tile {tile!r}: use letters, digits, '.', '_' or '-'")
    canonical = _CANONICAL.get(layer.lower())
    if canonical is None:
        known = ", ".join(dict.fromkeys(_CANONICAL.values()))
        raise ExportNameError(f"--layer {layer!r} is not a LEAF layer ({known})")
    _, piece = split_piece(path.stem)
    version: Version | None = None
    if canonical.startswith("error") or canonical.endswith("_QC"):
        version = "v2022"
    elif canonical == COMPACT:
        version = "compact"
    if canonical == "Partition":
        first, last = dt.date(date.year, 1, 1), dt.date(date.year, 12, 31)
        return Export(canonical, tile, first, last, None, "yearly", version, piece)
    end = month_period(date.year, date.month)[1]
    return Export(canonical, tile, date, end, None, "monthly", version, piece)
