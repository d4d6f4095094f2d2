"""Finding export files: the GeoTIFFs inside a source folder, folder by folder, each
stat'ed once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

SUFFIXES = (".tif", ".tiff")

#: A file's size and modification time (ns): what tells a re-run it is unchanged.
Stat = tuple[int, int]


def listings(folder: Path) -> Iterator[tuple[str, dict[str, Stat]]]:
    """Each folder under ``folder`` (itself included) as its relative POSIX prefix
    (``""``, ``"tile42_2024/"``) and its ``*.tif`` files (name → size, mtime), stat'ed once
    by ``os.scandir``; hidden files and folders (a cube's ``.leafcube/``) are skipped. One
    folder's listing at a time, so memory does not grow with the archive. Each folder is
    scanned through an open descriptor, so a file's ``stat`` looks up its name alone, not
    its whole path (5.2 against 6.4 µs a file here)."""
    stack = [("", str(folder))]
    while stack:
        prefix, path = stack.pop()
        files: dict[str, Stat] = {}
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with os.scandir(fd) as entries:
                for e in entries:
                    name = e.name
                    if name.startswith("."):
                        continue
                    if e.is_dir():
                        stack.append((f"{prefix}{name}/", os.path.join(path, name)))
                    elif name.lower().endswith(SUFFIXES) and e.is_file():
                        st = e.stat()
                        files[name] = (st.st_size, st.st_mtime_ns)
        finally:
            os.close(fd)
        yield prefix, files
