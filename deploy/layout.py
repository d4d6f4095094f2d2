"""What a published cube holds and the order it lands in: five phases (data, mosaics and
other files, views, the catalogue's parts, its root last), the GomezEngine views and the
static STAC rewritten for a public base URL, and the plan of one publish. Shared by the
local and the rsync publish."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from leafcube.catalogue import CATALOGUE_NAME, CatalogueError, load_root, read_parts
from leafcube.catalogue.folder import json_bytes
from leafcube.catalogue.gomez import (
    Joined,
    summary_views,
    view_held,
    write_view,
    year_of,
    year_views,
)
from leafcube.catalogue.parts import PARTS_DIR
from leafcube.catalogue.stac import ROOT, catalogue_documents, part_documents

from . import DeployError

#: Files of a phase are all in place before the next phase starts. The parts come after
#: the mosaics: a reader holding the previous root reads a part at its path, not by its
#: hash, so a new part must not name a date whose files are not there yet.
PHASES = ("data", "mosaics and other files", "views", "catalogue parts", "catalogue")
VIEW_FOLDERS = ("stac/", "gomez/")


def phase_of(href: str) -> int:
    """Which phase publishes ``href`` (a path relative to the cube root)."""
    if href == CATALOGUE_NAME:
        return 4
    if href.startswith(PARTS_DIR + "/"):
        return 3
    if href.startswith(VIEW_FOLDERS):
        return 2
    if href.lower().endswith((".tif", ".tiff")):
        return 0
    return 1


#: The catalogue's phases: small files, compared by content, since an ingest can rewrite
#: one within the same second at the same size (a part's hash has a fixed length).
BY_CONTENT = frozenset({PHASES.index("catalogue parts"), PHASES.index("catalogue")})


def _tree(root: str, prefix: str = "") -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every entry under ``root`` but hidden ones, as (relative POSIX path, entry), by
    name, a folder's entries right after it; a symlinked folder is listed, not entered.
    Built on ``os.scandir`` with plain strings: a publish walks 150,000 files of a
    10,000-date cube several times."""
    try:
        with os.scandir(os.path.join(root, prefix)) as it:
            entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError:
        return  # unreadable (a volume's lost+found) or gone: skipped, as os.walk does
    for e in entries:
        href = prefix + e.name
        yield href, e
        if e.is_dir(follow_symlinks=False):
            yield from _tree(root, href + "/")


def cube_files(root: Path, under: str = "") -> Iterator[str]:
    """Every publishable file under ``root`` (or its folder ``under``, ``"stac/"``) as a
    path relative to ``root``; hidden paths skipped, symlinked folders not entered."""
    if under and not os.path.isdir(os.path.join(root, under)):
        return
    for href, entry in _tree(str(root), under):
        if not entry.is_dir():
            yield href


def unsafe_links(root: Path) -> list[str]:
    """Symlinks of the publishable tree that lead out of ``root`` or into a hidden part of
    it (``.leafcube/``), as ``link -> target``: what a publish would leak."""
    base = os.path.realpath(root)
    found = []
    for href, entry in _tree(base):
        if not entry.is_symlink():
            continue
        target = os.path.realpath(entry.path)
        inside = target.startswith(base + os.sep)
        if not inside or any(p.startswith(".") for p in Path(target[len(base) :]).parts):
            found.append(f"{href} -> {target}")
    return found


def check_links(root: Path) -> None:
    """Refuse to publish a cube with symlinks out of it (or into its private parts).

    Links inside the cube are published as copies of the file they name; a link that
    leads elsewhere would copy a file nobody meant to publish, so nothing is copied and
    the error names the links to remove (or to replace with the files themselves).
    """
    bad = unsafe_links(root)
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise DeployError(
            f"{root} has symlinks that lead out of the cube or into a hidden folder: "
            f"{'; '.join(bad[:5])}{more}. Nothing was published: remove them, or put the "
            "files themselves into the cube"
        )


@dataclass
class PublishPlan:
    """What a publish would do; ``copies`` are in publishing order."""

    copies: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    up_to_date: int = 0
    bytes: int = 0

    @property
    def empty(self) -> bool:
        return not (self.copies or self.views or self.stale)


def part_hashes(folder: Path) -> dict[str, str] | None:
    """The SHA-256 the catalogue in ``folder`` names for each of its parts, by href; None
    without a catalogue there."""
    try:
        cat = load_root(folder, check=False)
    except CatalogueError:
        return None
    return {r.href: r.sha256 for c in cat.collections.values() for r in c.parts.values()}


def _published_parts(cube: Path, folder: Path, base_url: str) -> dict[str, str] | None:
    """:func:`part_hashes` of the catalogue ``folder`` last received, whose parts' views it
    holds for ``base_url``; None when its views must all be written: no catalogue there,
    views for another base URL, or a view file missing."""
    published = part_hashes(folder)
    try:
        top = orjson.loads((folder / ROOT).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    selves = [lk.get("href") for lk in top.get("links", []) if lk.get("rel") == "self"]
    if published is None or selves != [f"{base_url}/{ROOT}"]:
        return None
    views = (h for under in VIEW_FOLDERS for h in cube_files(cube, under))
    if not all(os.path.isfile(os.path.join(folder, h)) for h in views):
        return None
    return published


def public_views(cube: Path, folder: Path, base_url: str) -> Iterator[tuple[str, bytes | Joined]]:
    """The views written for the public base URL instead of copied, those whose bytes
    differ from what ``folder`` (the destination, or rsync's staging copy of it) holds:
    the static STAC and each collection's GomezEngine views, with absolute URLs under
    ``base_url`` (so a part's stand-alone ``items.json`` resolves in pystac, odc-stac and
    stackstac). Only the parts whose hash differs from the catalogue ``folder`` last
    received are rendered (with every collection-wide file), so a publish after one new
    date costs that date's part, not the archive. Parts are loaded and rendered a year
    at a time, and each view is yielded as it is made: memory holds one year's parts
    and views, whatever the archive (the whole GomezEngine view is compared and written
    a year view at a time, :class:`~leafcube.catalogue.gomez.Joined`)."""
    cat = load_root(cube)
    published = _published_parts(cube, folder, base_url)
    yield from _changed(folder, catalogue_documents(cat, base_url).items())
    for coll in cat.collections.values():
        keys = [k for k, r in coll.parts.items() if (published or {}).get(r.href) != r.sha256]
        written: dict[str, bytes] = {}
        for year in sorted({year_of(k) for k in keys}):
            refs = [coll.parts[k] for k in sorted(keys) if year_of(k) == year]
            loaded = read_parts(cube, coll, refs)
            batch = {r.key for r in refs}
            yield from _changed(folder, part_documents(loaded, batch, base_url).items())
            years = year_views(loaded, folder, base_url + "/", batch)
            written |= years
            yield from _changed(folder, years.items())
        yield from _changed(folder, summary_views(coll, folder, base_url + "/", written).items())


def _changed(
    folder: Path, views: Iterable[tuple[str, bytes | Joined | dict[str, Any]]]
) -> Iterator[tuple[str, bytes | Joined]]:
    """The views (documents or their JSON) whose bytes ``folder`` does not hold."""
    for href, view in views:
        data = json_bytes(view) if isinstance(view, dict) else view
        if not view_held(folder / href, data):
            yield href, data


def write_views(dest: Path, views: Iterable[tuple[str, bytes | Joined]]) -> list[str]:
    """Write the public views (each atomically, only those that changed); their hrefs."""
    hrefs = []
    for href, data in views:
        write_view(dest / href, data)
        hrefs.append(href)
    return hrefs


def wait_for_readers(seconds: float, files: int) -> None:
    """Wait until a reader's cached copy of the old catalogue, which may still name the
    ``files`` about to be removed, has expired."""
    if seconds > 0:
        print(
            f"leafcube publish: removing {files} file(s) in {seconds:g} s, once readers' "
            "cached catalogues have expired",
            file=sys.stderr,
            flush=True,
        )
        time.sleep(seconds)
