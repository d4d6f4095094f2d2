"""Questions asked of a catalogue: which collection, layers, dates and tiles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from .errors import CatalogueError, NoDataError
from .grid import intersect
from .models import Bounds, Catalogue, Collection, DateEntry, TileFile
from .parts import check_loaded, touching


def collection(cat: Catalogue, name: str | None) -> Collection:
    """The named collection, or the only one when ``name`` is None."""
    if name is None:
        if len(cat.collections) == 1:
            return next(iter(cat.collections.values()))
        raise CatalogueError(f"name a collection: one of {sorted(cat.collections)}")
    try:
        return cat.collections[name]
    except KeyError:
        raise CatalogueError(
            f"unknown collection {name!r}; available: {sorted(cat.collections)}"
        ) from None


def check_layers(coll: Collection, layers: Iterable[str]) -> list[str]:
    """The requested layer names, in order, after checking each one exists."""
    names = list(layers)
    if not names:
        raise CatalogueError(f"name at least one layer; available: {list(coll.layers)}")
    unknown = [n for n in names if n not in coll.layers]
    if unknown:
        raise CatalogueError(f"unknown layer(s) {unknown}; available: {list(coll.layers)}")
    return names


def parse_date(value: str | dt.date | None, what: str) -> dt.date | None:
    """A date from ``YYYY-MM-DD`` (or a date); None stays None."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        raise CatalogueError(f"{what} date {value!r} is not a date like 2023-05-01") from None


def check_range(
    start: str | dt.date | None, end: str | dt.date | None
) -> tuple[dt.date | None, dt.date | None]:
    """``[start, end]`` as dates, after checking it is a range."""
    lo, hi = parse_date(start, "start"), parse_date(end, "end")
    if lo and hi and lo > hi:
        raise CatalogueError(f"start {lo} is after end {hi}")
    return lo, hi


def span(coll: Collection) -> tuple[dt.date, dt.date] | None:
    """The first start and last end of the collection's periods (from its parts when it
    has them, so nothing needs loading), or None without dates."""
    if coll.parts:
        return min(p.start for p in coll.parts.values()), max(p.end for p in coll.parts.values())
    known = coll.sorted_dates()
    return (known[0].start, max(e.end for e in known)) if known else None


def date_count(coll: Collection) -> int:
    """How many periods the collection holds (from its parts, so nothing needs loading)."""
    if coll.parts:
        return sum(p.count for p in coll.parts.values())
    return len(coll.dates)


def dates_between(
    coll: Collection, start: str | dt.date | None = None, end: str | dt.date | None = None
) -> list[DateEntry]:
    """The periods that overlap ``[start, end]`` (both inclusive, either open), oldest first;
    the parts holding them must be loaded (:func:`parts_between` names them)."""
    lo, hi = check_range(start, end)
    check_loaded(coll, touching(coll, lo, hi))
    return [
        e
        for e in coll.sorted_dates()
        if (lo is None or e.end >= lo) and (hi is None or e.start <= hi)
    ]


def require_dates(
    coll: Collection, start: str | dt.date | None = None, end: str | dt.date | None = None
) -> list[DateEntry]:
    """Like :func:`dates_between`, but a range with no dates raises NoDataError saying
    which dates the collection holds."""
    entries = dates_between(coll, start, end)
    if not entries:
        held = span(coll)
        holds = f"{held[0]} to {held[1]}" if held else "no dates at all"
        raise NoDataError(
            f"no dates of {coll.name!r} between {start or 'the start'} and "
            f"{end or 'the end'}; it holds {holds}"
        )
    return entries


def tiles_in(entry: DateEntry, layer: str, bounds: Bounds | None = None) -> dict[str, TileFile]:
    """The tile COGs of ``layer`` on ``entry`` whose bbox overlaps ``bounds`` (native CRS)."""
    files = entry.layers.get(layer)
    if files is None:
        return {}
    if bounds is None:
        return dict(files.tiles)
    return {k: t for k, t in files.tiles.items() if intersect(t.bbox, bounds) is not None}
