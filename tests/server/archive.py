"""A multi-year cube: the demo cube's 2023 months repeated over earlier years, so its
catalogue has a yearly part per year (the files are the demo's, shared by the years)."""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import shutil
from pathlib import Path

from leafcube.catalogue import load, save

#: The years of the archive: 2015-2022 made from 2023's months, plus the demo's 2023-2024.
YEARS = range(2015, 2025)
#: The LAI of one date and a small box inside the data (lon/lat).
BBOX = (-107.43, 53.80, -107.40, 53.82)


def archive_cube(demo_cube: Path, folder: Path) -> Path:
    """A copy of ``demo_cube`` in ``folder`` whose catalogue, written by
    :func:`leafcube.catalogue.save` as ingest writes it, holds every month of :data:`YEARS`."""
    shutil.copytree(demo_cube, folder)
    cat = load(folder)
    coll = next(iter(cat.collections.values()))
    months = {e.start.month: e for e in coll.sorted_dates() if e.start.year == 2023}
    for year in YEARS:
        if year >= 2023:
            continue
        for month, entry in months.items():
            copied = copy.deepcopy(entry)
            copied.start = dt.date(year, month, 1)
            copied.end = dt.date(year, month, calendar.monthrange(year, month)[1])
            coll.dates[copied.key] = copied
    save(cat, folder)
    return folder
