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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .folder import holds, json_bytes, read_json, write_if_changed
from .models import Catalogue, Collection
from .parts import PartKeys, in_scope, index, part_key, partition_of
from .store import read_parts, write_chunks_atomic

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


def index_doc(name: str, years: abc.Mapping[str, tuple[str, int]]) -> dict[str, Any]:
    """The index of the year views (year → SHA-256 of its JSON, number of dates): each
    one's href (relative to the index), SHA-256 and number of dates, so a reader fetches
    only the years it needs and knows whether its copy is current."""
    return {
        "collection": name,
        "years": {
            y: {"href": f"{y}.json", "sha256": years[y][0], "dates": years[y][1]}
            for y in sorted(years)
        },
    }


@dataclass(frozen=True)
class Joined:
    """The whole view's JSON, joined from its year views' JSON (as :func:`json_bytes`
    writes them, oldest year first; each the bytes or the file holding them): what
    ``json_bytes`` of the joined views gives, byte for byte, without parsing the years,
    and written a year at a time (a long daily archive's whole view is tens of MB)."""

    years: tuple[bytes | Path, ...]

    def chunks(self) -> abc.Iterator[bytes | memoryview]:
        """The JSON in pieces, reading one year's file at a time."""
        opened = False
        for year in self.years:
            if body := _members(year if isinstance(year, bytes) else year.read_bytes()):
                yield b",\n" if opened else b"{\n"
                opened = True
                yield body
        yield b"\n}" if opened else b"{}"

    def __bytes__(self) -> bytes:
        return b"".join(self.chunks())

    def same_as(self, path: Path) -> bool:
        """Whether the file holds exactly these bytes: compared a year at a time, in one
        pass, stopping at the first difference."""
        try:
            with path.open("rb") as fh:
                return all(fh.read(len(c)) == c for c in self.chunks()) and not fh.read(1)
        except FileNotFoundError:
            return False

    def write_if_changed(self, path: Path) -> bool:
        """:func:`write_if_changed` of these bytes, compared and written a year at a time."""
        if self.same_as(path):
            return False
        write_chunks_atomic(path, self.chunks())
        return True


def view_held(path: Path, data: bytes | Joined) -> bool:
    """Whether the file holds exactly the view ``data`` (the whole one a year at a time)."""
    return data.same_as(path) if isinstance(data, Joined) else holds(path, data)


def write_view(path: Path, data: bytes | Joined) -> bool:
    """Atomically write the view ``data`` unless the file holds it; True when written."""
    if isinstance(data, Joined):
        return data.write_if_changed(path)
    return write_if_changed(path, data)


def _members(view: bytes) -> memoryview:
    """The members of a view's JSON object: between its braces, newlines trimmed; a slice
    of ``view``, not a copy (the years of a long archive sum to tens of MB)."""
    start, end = view.index(b"{") + 1, view.rindex(b"}")
    while start < end and view[start] == 0x0A:
        start += 1
    while end > start and view[end - 1] == 0x0A:
        end -= 1
    return memoryview(view)[start:end]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    """Write the views :func:`collection_views` makes, then remove the year views of years
    ``coll`` no longer has."""
    for href, data in collection_views(coll, cube, base_url, keys).items():
        write_view(cube / href, data)
    held = years(coll)
    folder = cube / GOMEZ_DIR / coll.name
    for entry in os.scandir(folder):
        if entry.name != INDEX_NAME and entry.name.removesuffix(".json") not in held:
            os.unlink(entry.path)


def collection_views(
    coll: Collection, folder: Path, base_url: str | None, keys: abc.Collection[str] | None
) -> dict[str, bytes | Joined]:
    """The JSON of a collection's views that a write into ``folder`` (a cube, or a
    published copy of one) makes: :func:`year_views` of the parts ``keys`` (None: all;
    those parts loaded), then :func:`summary_views`."""
    written = year_views(coll, folder, base_url, keys)
    return {**written, **summary_views(coll, folder, base_url, written)}


def year_views(
    coll: Collection, folder: Path, base_url: str | None, keys: abc.Collection[str] | None
) -> dict[str, bytes]:
    """The year views of the parts ``keys`` of ``coll`` (None: all; those parts loaded),
    by href; a month not in ``keys`` keeps its dates as ``folder``'s year view has them."""
    held = years(coll)
    in_scope(coll, keys)  # the parts to rewrite must be loaded
    touched = held if keys is None else sorted({year_of(k) for k in keys} & set(held))
    out: dict[str, bytes] = {}
    for y in touched:
        view = gomez_view(coll, base_url, y)
        if keys is not None and partition_of(coll) == "month":
            kept = _untouched_months(coll, folder, base_url, y, set(keys))
            view = dict(sorted((kept | view).items()))
        out[year_href(coll.name, y)] = json_bytes(view)
    return out


def summary_views(
    coll: Collection, folder: Path, base_url: str | None, written: abc.Mapping[str, bytes]
) -> dict[str, bytes | Joined]:
    """A collection's index and whole view, joined from the year views ``written`` (by
    href) and, for the other years, those ``folder`` holds (with any year view it lacks,
    made from its parts); the whole view reads those files again as it is written."""
    made: dict[str, bytes] = {}
    sources: list[bytes | Path] = []
    summary: dict[str, tuple[str, int]] = {}
    indexed = read_json(folder / index_href(coll.name), {}).get("years", {})
    for y in years(coll):
        href = year_href(coll.name, y)
        fresh = written.get(href)
        data = _stored(coll, folder, base_url, y, made) if fresh is None else fresh
        sha, known = _sha256(data), indexed.get(y, {})
        count = known["dates"] if known.get("sha256") == sha else len(orjson.loads(data))
        summary[y] = (sha, count)
        sources.append(folder / href if fresh is None and href not in made else data)
    index = json_bytes(index_doc(coll.name, summary))
    return {**made, index_href(coll.name): index, whole_href(coll.name): Joined(tuple(sources))}


def _stored(
    coll: Collection, folder: Path, base_url: str | None, year: str, out: dict[str, bytes]
) -> bytes:
    """The bytes of a year view not rewritten: the file as written before, or (when it is
    missing, as in a cube written before the views were split) made from that year's
    parts of the catalogue in ``folder``, and added to ``out``."""
    href = year_href(coll.name, year)
    try:
        return (folder / href).read_bytes()
    except FileNotFoundError:
        refs = [r for k, r in coll.parts.items() if year_of(k) == year]
        out[href] = json_bytes(gomez_view(read_parts(folder, coll, refs), base_url, year))
        return out[href]


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
