"""Finding export files: the files named, and the GeoTIFFs inside folders named."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

SUFFIXES = (".tif", ".tiff")


def find_files(sources: Iterable[Path], failures: list[str]) -> list[Path]:
    """Files given directly (whatever their suffix) and ``*.tif`` under folders, sorted.

    Hidden files and folders (a cube's ``.leafcube/``) are skipped; a source that
    does not exist becomes a failure line.
    """
    found: list[Path] = []
    for src in sources:
        if src.is_dir():
            found += sorted(
                p
                for p in src.rglob("*")
                if p.is_file()
                and p.suffix.lower() in SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(src).parts)
            )
        elif src.is_file():
            found.append(src)
        else:
            failures.append(f"{src}: no such file or folder")
    return list(dict.fromkeys(found))
