"""How a collection's dates are split into parts, and which parts a question touches.

A part holds the dates of one year (``2023``) or, for collections of periods shorter than
:data:`MONTHLY_BELOW_DAYS`, one month (``2023-08``): a year of national daily dates is
about 18 MB of JSON, a month 1.5 MB (docs/catalogue.md). No I/O here: readers fetch the
parts :func:`touching` names their own way and join them with :func:`with_parts`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import abc
from collections.abc import Iterable, Mapping

from .errors import CatalogueError
from .models import Collection, DateEntry, Partition, PartRef

#: Collections whose periods are shorter than this (daily, weekly) get monthly parts.
MONTHLY_BELOW_DAYS = 28

#: Which parts of which collections changed: collection name → part keys (the views'
#: incremental writers take it as ``only``).
PartKeys = Mapping[str, abc.Collection[str]]

#: Where the parts live: ``catalogue/{collection}/{part}.json`` beside ``catalogue.json``.
PARTS_DIR = "catalogue"


def choose_partition(entries: Iterable[DateEntry]) -> Partition:
    """``month`` when the shortest period is under four weeks, else ``year``."""
    days = min(((e.end - e.start).days + 1 for e in entries), default=MONTHLY_BELOW_DAYS)
    return "month" if days < MONTHLY_BELOW_DAYS else "year"


def part_key(date_key: str, partition: Partition) -> str:
    """The part a date (``YYYY-MM-DD``, its period's start) belongs to."""
    return date_key[:7] if partition == "month" else date_key[:4]


def part_href(collection: str, key: str) -> str:
    """The part's path relative to the cube root."""
    return f"{PARTS_DIR}/{collection}/{key}.json"


def partition_of(coll: Collection) -> Partition:
    """``coll.partition``, or the one its first save will choose from its dates."""
    return coll.partition or choose_partition(coll.dates.values())


def group(coll: Collection) -> dict[str, list[str]]:
    """The date keys of ``coll.dates`` by part key, both sorted."""
    partition = partition_of(coll)
    out: dict[str, list[str]] = {}
    for k in sorted(coll.dates):
        out.setdefault(part_key(k, partition), []).append(k)
    return out


def index(coll: Collection) -> dict[str, tuple[dt.date, dt.date, int]]:
    """Each part's first day, last day and number of dates as the next save indexes them
    (the dates held, grouped, and the root's refs of the parts not loaded), by key: what
    the views' per-collection documents are made of, without loading a part."""
    out = {k: (r.start, r.end, r.count) for k, r in coll.parts.items() if k not in coll.loaded}
    for key, keys in group(coll).items():
        entries = [coll.dates[k] for k in keys]
        out[key] = (min(e.start for e in entries), max(e.end for e in entries), len(keys))
    return dict(sorted(out.items()))


def in_scope(coll: Collection, keys: Iterable[str] | None) -> list[str]:
    """The part keys of ``keys`` (None: all) that ``coll`` still has, sorted: those whose
    views an incremental writer rewrites. Raise for a part it has but did not load: its
    views would be written without its dates."""
    held = index(coll)
    wanted = sorted(held if keys is None else {k for k in keys if k in held})
    have = set(group(coll))
    absent = [k for k in wanted if k not in have]
    if absent:
        raise CatalogueError(f"parts {absent} of {coll.name!r} must be loaded to write their views")
    return wanted


def touching(
    coll: Collection, start: dt.date | None = None, end: dt.date | None = None
) -> list[PartRef]:
    """The parts holding a period that overlaps ``[start, end]`` (either open), oldest first."""
    return [
        p
        for k, p in sorted(coll.parts.items())
        if (start is None or p.end >= start) and (end is None or p.start <= end)
    ]


def newest(coll: Collection) -> list[PartRef]:
    """The part holding the collection's newest period (a period lies in the part of its
    first day, so it is the part with the greatest key), or none without parts."""
    return [coll.parts[max(coll.parts)]] if coll.parts else []


def missing(coll: Collection, refs: Iterable[PartRef]) -> list[PartRef]:
    """Those of ``refs`` whose dates ``coll`` does not hold yet."""
    return [p for p in refs if p.key not in coll.loaded]


def with_parts(coll: Collection, loaded: Mapping[str, Mapping[str, DateEntry]]) -> Collection:
    """A copy of ``coll`` holding, besides what it holds, the dates of the parts
    ``loaded`` (part key → its entries); ``coll`` itself is left as it was, so readers
    can share one root between requests."""
    if not loaded:
        return coll
    dates = dict(coll.dates)
    for entries in loaded.values():
        dates.update(entries)
    return dataclasses.replace(coll, dates=dates, loaded=coll.loaded | set(loaded))


def check_loaded(coll: Collection, refs: Iterable[PartRef]) -> None:
    """Raise unless every part of ``refs`` is loaded: a reader that forgot to fetch one
    would otherwise answer as if its dates did not exist."""
    absent = [p.key for p in missing(coll, refs)]
    if absent:
        raise CatalogueError(f"parts {absent} of {coll.name!r} are not loaded")
