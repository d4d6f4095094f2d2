"""What a published cube holds and the order it lands in: five phases (data, mosaics and
other files, views, the catalogue's parts, its root last), the GomezEngine views and the
static STAC rewritten for a public base URL, and the plan of one publish. Shared by the
local and the rsync publish."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leafcube.catalogue import CATALOGUE_NAME, Catalogue
from leafcube.catalogue.folder import write_json
from leafcube.catalogue.gomez import gomez_documents
from leafcube.catalogue.parts import PARTS_DIR
from leafcube.catalogue.stac import static_documents

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


def cube_files(root: Path) -> Iterator[str]:
    """Every publishable file under ``root`` as a relative POSIX path; hidden paths skipped."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = Path(folder).relative_to(root)
        for name in sorted(names):
            if not name.startswith("."):
                yield (rel / name).as_posix()


def unsafe_links(root: Path) -> list[str]:
    """Symlinks of the publishable tree that lead out of ``root`` or into a hidden part of
    it (``.leafcube/``), as ``link -> target``: what a publish would leak."""
    base = os.path.realpath(root)
    found = []
    for folder, dirs, names in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted([*dirs, *names]):
            path = os.path.join(folder, name)
            if name.startswith(".") or not os.path.islink(path):
                continue
            target = os.path.realpath(path)
            inside = target.startswith(base + os.sep)
            if not inside or any(p.startswith(".") for p in Path(target[len(base) :]).parts):
                found.append(f"{Path(path).relative_to(base).as_posix()} -> {target}")
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
    views: dict[str, Any] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    up_to_date: int = 0
    bytes: int = 0

    @property
    def empty(self) -> bool:
        return not (self.copies or self.views or self.stale)


def public_views(cat: Catalogue, base_url: str) -> dict[str, Any]:
    """The views written for the public base URL instead of copied: each collection's
    GomezEngine views (by year, their index and whole) and the whole static STAC, with
    absolute URLs under ``base_url`` (so a part's stand-alone ``items.json`` resolves in
    pystac, odc-stac and stackstac)."""
    views: dict[str, Any] = {}
    for coll in cat.collections.values():
        views |= gomez_documents(coll, base_url + "/")
    return views | static_documents(cat, base_url)


def write_views(dest: Path, views: dict[str, Any]) -> None:
    """Write the public views (atomically, only those that changed)."""
    for href, view in views.items():
        write_json(dest / href, view)


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
