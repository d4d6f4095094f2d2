"""Picking a period of a collection from a path's date (or the WMTS ``{time}`` default)."""

from __future__ import annotations

import datetime as dt

from leafcube.catalogue import Collection, DateEntry

from .errors import APIError

#: Values that mean "the latest period" (QGIS 3.22 sends the literal ``{time}``).
LATEST = {"latest", "default", "current", "{time}", ""}


def pick(coll: Collection, value: str) -> DateEntry:
    """The period whose key is ``value``, or that contains that day; ``latest`` too."""
    if not coll.dates:
        raise APIError(404, f"collection {coll.name!r} has no dates yet")
    if value.strip().lower() in LATEST:
        return coll.dates[max(coll.dates)]
    entry = coll.dates.get(value)
    if entry is not None:
        return entry
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise APIError(400, f"date {value!r} is not a date like 2023-05-01 (or 'latest')") from None
    for e in coll.sorted_dates():
        if e.start <= day <= e.end:
            return e
    first, last = min(coll.dates), max(coll.dates)
    raise APIError(
        404, f"no period of {coll.name!r} contains {day}; its dates run from {first} to {last}"
    )
