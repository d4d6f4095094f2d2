"""What a published cube holds and the order it lands in: four phases (data, mosaics and
other files, views, catalogue last), the GomezEngine views rewritten for a public base URL,
and the plan of one publish. Shared by the local and the rsync publish."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from leafcube.catalogue import CATALOGUE_NAME, Catalogue
from leafcube.catalogue.folder import write_json
from leafcube.catalogue.gomez import gomez_view

#: Files of a phase are all in place before the next phase starts.
PHASES = ("data", "mosaics and other files", "views", "catalogue")
VIEW_FOLDERS = ("stac/", "gomez/")


def phase_of(href: str) -> int:
    """Which phase publishes ``href`` (a path relative to the cube root)."""
    if href == CATALOGUE_NAME:
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


@dataclass
class PublishPlan:
    """What a publish would do; ``copies`` are in publishing order."""

    copies: list[str] = field(default_factory=list)
    views: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)
    up_to_date: int = 0
    bytes: int = 0

    @property
    def empty(self) -> bool:
        return not (self.copies or self.views or self.stale)


def gomez_views(cat: Catalogue, base_url: str) -> dict[str, dict[str, list[str]]]:
    """Each collection's GomezEngine view with absolute URLs under ``base_url``."""
    return {f"gomez/{n}.json": gomez_view(c, base_url + "/") for n, c in cat.collections.items()}


def write_views(dest: Path, views: dict[str, dict[str, list[str]]]) -> None:
    """Write the GomezEngine views (atomically, only those that changed)."""
    for href, view in views.items():
        write_json(dest / href, view)
