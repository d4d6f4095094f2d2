"""The cube's private state under ``CUBE/.leafcube/``: ledger, settings, lock, temp files.

The ledger records every COG ingest wrote and the fingerprint of what it was made
from, so a re-run skips unchanged sources and the catalogue can be rebuilt from it
after a crash. Dot-folders are never served.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leafcube.catalogue.folder import read_json, state_dir, write_json

LEDGER_NAME = "ledger.json"
SETTINGS_NAME = "settings.json"
#: Bump when the COG recipe changes, so a re-run rewrites every COG.
RECIPE = "cog-4"


def fingerprint(paths: Sequence[Path], *extra: str) -> str:
    """A short hash of the files' names, sizes and modification times plus ``extra``.

    A changed or re-exported file changes its fingerprint; an untouched one
    (even when given by another path) keeps it.
    """
    h = hashlib.sha256(RECIPE.encode())
    for p in sorted(paths, key=lambda p: p.name):
        st = p.stat()
        h.update(f"|{p.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    for e in extra:
        h.update(f"|{e}".encode())
    return h.hexdigest()[:24]


class Ledger:
    """The COGs ingest wrote: ``href -> record`` (fingerprint, grid, collection, date, layer)."""

    def __init__(self, cube: Path):
        self.path = state_dir(cube) / LEDGER_NAME
        self.records: dict[str, dict[str, Any]] = read_json(self.path, {})

    def fresh(self, href: str, fp: str, cube: Path) -> bool:
        """True when ``href`` was written from sources with this fingerprint and still exists."""
        rec = self.records.get(href)
        return rec is not None and rec["fingerprint"] == fp and (cube / href).is_file()

    def save(self) -> bool:
        """Atomically write the ledger if it changed."""
        return write_json(self.path, self.records)


def settings(cube: Path) -> dict[str, Any]:
    """Settings remembered between runs (``base_url``)."""
    return read_json(state_dir(cube) / SETTINGS_NAME, {})


def save_settings(cube: Path, values: dict[str, Any]) -> None:
    """Remember settings for later runs."""
    write_json(state_dir(cube) / SETTINGS_NAME, values)
