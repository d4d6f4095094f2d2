"""Finding export files: the GeoTIFFs inside a source folder, each stat'ed once."""

from __future__ import annotations

import os
from pathlib import Path

SUFFIXES = (".tif", ".tiff")

#: A file's size and modification time (ns): what tells a re-run it is unchanged.
Stat = tuple[int, int]


def walk(folder: Path) -> dict[str, Stat]:
    """Every ``*.tif`` under ``folder`` (relative POSIX path → size, mtime), stat'ed once by
    ``os.scandir``; hidden files and folders (a cube's ``.leafcube/``) are skipped."""
    found: dict[str, Stat] = {}
    stack = [("", str(folder))]
    while stack:
        prefix, path = stack.pop()
        with os.scandir(path) as entries:
            for e in entries:
                if e.name.startswith("."):
                    continue
                if e.is_dir():
                    stack.append((f"{prefix}{e.name}/", e.path))
                elif e.name.lower().endswith(SUFFIXES) and e.is_file():
                    st = e.stat()
                    found[prefix + e.name] = (st.st_size, st.st_mtime_ns)
    return dict(sorted(found.items()))
