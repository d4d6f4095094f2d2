"""Picking a period of a collection from a path's date (or the WMTS ``{time}`` default),
loading only the part that holds it."""

from __future__ import annotations

import datetime as dt

from leafcube.catalogue import Collection, DateEntry, query
from leafcube.catalogue.parts import newest, touching

from .cube import ServedCube
from .errors import APIError

#: Values that mean "the latest period" (QGIS 3.22 sends the literal ``{time}``).
LATEST = {"latest", "default", "current", "{time}", ""}


def pick(cube: ServedCube, coll: Collection, value: str) -> DateEntry:
    """The period whose key is ``value``, or that contains that day; ``latest`` too."""
    held = query.span(coll)
    if held is None:
        raise APIError(404, f"collection {coll.name!r} has no dates yet")
    if value.strip().lower() in LATEST:
        loaded = cube.load(coll, newest(coll))
        return loaded.dates[max(loaded.dates)]
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise APIError(400, f"date {value!r} is not a date like 2023-05-01 (or 'latest')") from None
    loaded = cube.load(coll, touching(coll, day, day))
    entry = loaded.dates.get(value)
    if entry is not None:
        return entry
    for e in loaded.sorted_dates():
        if e.start <= day <= e.end:
            return e
    raise APIError(
        404,
        f"no period of {coll.name!r} contains {day}; its dates run from {held[0]} to {held[1]}",
    )
