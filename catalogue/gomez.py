"""The GomezEngine view: ``{"YYYY-MM-DD": [url, ...]}`` per collection, whole and by year.

One URL per layer, in the fixed order of :func:`leafcube.catalogue.products.leaf_layers`
(GomezEngine finds a band by its position), each the mosaic VRT of that date and
layer. URLs are absolute when a base URL is known, else relative to the cube root
(the server rewrites them). Dates missing a layer are left out: positions must hold.

Written per collection: ``gomez/{c}/{YYYY}.json`` (the dates of one year: one part of a
yearly collection, the twelve months of a monthly one), ``gomez/{c}/index.json`` naming
the years (href, SHA-256, number of dates), and ``gomez/{c}.json``, the year views
joined: GomezEngine reads one file, so that one stays whole (docs/catalogue.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import abc
from pathlib import Path
from typing import Any

import orjson

from .folder import json_bytes, read_json, write_if_changed
from .models import Catalogue, Collection
from .parts import PartKeys, in_scope, index, part_key, partition_of
from .store import read_parts

#: The views' folder, relative to the cube root.
GOMEZ_DIR = "gomez"
INDEX_NAME = "index.json"


def whole_href(name: str) -> str:
    """The whole view of a collection, relative to the cube root (what GomezEngine reads)."""
    return f"{GOMEZ_DIR}/{name}.json"


def year_href(name: str, year: str) -> str:
    """The view of one year of a collection, relative to the cube root."""
    return f"{GOMEZ_DIR}/{name}/{year}.json"


def index_href(name: str) -> str:
    """The index of a collection's year views, relative to the cube root."""
    return f"{GOMEZ_DIR}/{name}/{INDEX_NAME}"


def year_of(part: str) -> str:
    """The year a part (``2023`` or ``2023-08``) or a date key belongs to."""
    return part[:4]


def years(coll: Collection) -> list[str]:
    """The years ``coll`` has dates in, from its parts' index (no part loaded), sorted."""
    return sorted({year_of(k) for k in index(coll)})


def gomez_view(
    coll: Collection, base_url: str | None, year: str | None = None
) -> dict[str, list[str]]:
    """The view of the dates ``coll`` holds (of ``year`` only, if given)."""
    prefix = base_url.rstrip("/") + "/" if base_url else ""
    order = list(coll.layers)
    return {
        e.key: [prefix + e.layers[n].mosaic for n in order]
        for e in coll.sorted_dates()
        if (year is None or year_of(e.key) == year) and all(n in e.layers for n in order)
    }


def index_doc(
    name: str, by_year: abc.Mapping[str, abc.Sized], raw: abc.Mapping[str, bytes]
) -> dict[str, Any]:
    """The index of the year views (year → view, and → its JSON bytes): each one's href
    (relative to the index), SHA-256 and number of dates, so a reader fetches only the
    years it needs and knows whether its copy is current."""
    return {
        "collection": name,
        "years": {
            y: {
                "href": f"{y}.json",
                "sha256": hashlib.sha256(raw[y]).hexdigest(),
                "dates": len(by_year[y]),
            }
            for y in sorted(by_year)
        },
    }


def gomez_documents(coll: Collection, base_url: str | None) -> dict[str, Any]:
    """Every view file of a collection holding all its dates: ``{href: document}``."""
    by_year = {y: gomez_view(coll, base_url, y) for y in years(coll)}
    return _joined(coll.name, by_year, {y: json_bytes(v) for y, v in by_year.items()})


def _joined(
    name: str, by_year: dict[str, dict[str, list[str]]], raw: dict[str, bytes]
) -> dict[str, Any]:
    """The year views, their index and their join as ``{href: document}``."""
    docs: dict[str, Any] = {year_href(name, y): v for y, v in by_year.items()}
    docs[index_href(name)] = index_doc(name, by_year, raw)
    docs[whole_href(name)] = {k: v for y in sorted(by_year) for k, v in by_year[y].items()}
    return docs


def write_gomez(
    cat: Catalogue, cube: Path, base_url: str | None, *, only: PartKeys | None = None
) -> dict[str, str]:
    """Write (if changed) the views of every collection; return their ``Catalogue.views``
    entries.

    ``only`` (collection → part keys whose dates changed, those parts loaded) rewrites the
    years of those parts (a month's, joined with the other months of its year as written
    before) and every index and whole view, leaving the other years' files as they are;
    None writes them all (``cat`` fully loaded). The views of years and collections
    ``cat`` no longer has are removed. When ``base_url`` changes, write everything.
    """
    views = {}
    for name, coll in cat.collections.items():
        _write_collection(coll, cube, base_url, None if only is None else only.get(name, ()))
        views[f"gomez/{name}"] = whole_href(name)
        views[f"gomez/{name}/index"] = index_href(name)
    _prune_collections(cat, cube)
    return views


def _write_collection(
    coll: Collection, cube: Path, base_url: str | None, keys: abc.Collection[str] | None
) -> None:
    """Write the year views of the parts ``keys`` (None: all), then the index and the
    whole view from every year view."""
    held = years(coll)
    in_scope(coll, keys)  # the parts to rewrite must be loaded
    touched = held if keys is None else sorted({year_of(k) for k in keys} & set(held))
    fresh = {}
    for y in touched:
        view = gomez_view(coll, base_url, y)
        if keys is not None and partition_of(coll) == "month":
            kept = _untouched_months(coll, cube, base_url, y, set(keys))
            view = dict(sorted((kept | view).items()))
        fresh[y] = view
    raw: dict[str, bytes] = {}
    by_year: dict[str, dict[str, list[str]]] = {}
    for y in held:
        if y in fresh:
            by_year[y], raw[y] = fresh[y], json_bytes(fresh[y])
            write_if_changed(cube / year_href(coll.name, y), raw[y])
        else:
            raw[y] = _stored(coll, cube, base_url, y)
            by_year[y] = orjson.loads(raw[y])
    docs = _joined(coll.name, by_year, raw)
    write_if_changed(cube / index_href(coll.name), json_bytes(docs[index_href(coll.name)]))
    write_if_changed(cube / whole_href(coll.name), json_bytes(docs[whole_href(coll.name)]))
    folder = cube / GOMEZ_DIR / coll.name
    for entry in os.scandir(folder):
        if entry.name != INDEX_NAME and entry.name.removesuffix(".json") not in held:
            os.unlink(entry.path)


def _stored(coll: Collection, cube: Path, base_url: str | None, year: str) -> bytes:
    """The bytes of a year view not rewritten: the file as written before, or (when it is
    missing, as in a cube written before the views were split) made from that year's
    parts of the catalogue on disk, and written."""
    path = cube / year_href(coll.name, year)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        refs = [r for k, r in coll.parts.items() if year_of(k) == year]
        data = json_bytes(gomez_view(read_parts(cube, coll, refs), base_url, year))
        write_if_changed(path, data)
        return data


def _untouched_months(
    coll: Collection, cube: Path, base_url: str | None, year: str, keys: set[str]
) -> dict[str, list[str]]:
    """The dates of ``year``'s months that are not rewritten (not in ``keys``), from its
    view on disk, or from their parts of the catalogue when there is none yet."""
    months = {k for k in index(coll) if year_of(k) == year and k not in keys}
    if not months:
        return {}
    stored = read_json(cube / year_href(coll.name, year), None)
    if stored is None:
        refs = [coll.parts[m] for m in sorted(months)]
        stored = gomez_view(read_parts(cube, coll, refs), base_url, year)
    return {k: v for k, v in stored.items() if part_key(k, "month") in months}


def _prune_collections(cat: Catalogue, cube: Path) -> None:
    """Remove the views of collections the catalogue no longer has."""
    if not (cube / GOMEZ_DIR).is_dir():
        return
    for entry in os.scandir(cube / GOMEZ_DIR):
        name = entry.name.removesuffix(".json") if entry.is_file() else entry.name
        if name not in cat.collections:
            if entry.is_dir():
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
