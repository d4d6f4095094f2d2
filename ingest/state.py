"""The cube's private state under ``CUBE/.leafcube/``: ledger, source states, settings.

The ledger records every COG ingest wrote and the fingerprint of what it was made
from, so a re-run skips unchanged sources and the catalogue can be rebuilt from it
after a crash. It is split by collection and month (``ledger/{collection}/{YYYY-MM}.json``)
so a run reads and writes only the months it touches. A source state remembers, per
source folder, each file's size and modification time and the COGs it made, so a re-run
of an unchanged folder stats it once and plans nothing. Dot-folders are never served.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leafcube.catalogue.folder import read_json, state_dir, write_json

OLD_LEDGER_NAME = "ledger.json"
LEDGER_DIR = "ledger"
SOURCES_DIR = "sources"
SETTINGS_NAME = "settings.json"
PENDING_NAME = "pending.json"
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


def ledger_month(key: str) -> str:
    """The ledger month of a catalogue date key (``2023-08-01``: ``2023-08``); a yearly
    Partition (``partition/2023``) goes with January, the month its period starts."""
    if key.startswith("partition/"):
        return f"{key.removeprefix('partition/')}-01"
    return key[:7]


def href_month(href: str) -> tuple[str, str]:
    """The collection and ledger month of a COG from its href
    (``{collection}/{key}/{tile}/{layer}.tif``)."""
    collection, rest = href.split("/", 1)
    parts = rest.split("/")
    key = "/".join(parts[:2]) if parts[0] == "partition" else parts[0]
    return collection, ledger_month(key)


Month = tuple[str, str]


class Ledger:
    """The COGs ingest wrote: ``href -> record`` (fingerprint, grid, collection, date, layer),
    read one collection-month at a time and written back only where it changed."""

    def __init__(self, cube: Path):
        self.folder = state_dir(cube) / LEDGER_DIR
        self._months: dict[Month, dict[str, dict[str, Any]]] = {}
        self._dirty: set[Month] = set()
        self._migrate(state_dir(cube) / OLD_LEDGER_NAME)

    def _path(self, month: Month) -> Path:
        return self.folder / month[0] / f"{month[1]}.json"

    def _migrate(self, old: Path) -> None:
        """Split a whole ``ledger.json`` (leafcube before 0.4) into months, then remove it;
        a run killed part-way finds it still there and splits it again."""
        records = read_json(old, None)
        if records is None:
            return
        for href, rec in records.items():
            self._months.setdefault(href_month(href), {})[href] = rec
        self._dirty = set(self._months)
        self.save()
        old.unlink()

    def month(self, month: Month) -> dict[str, dict[str, Any]]:
        """The records of one collection-month (read on first use)."""
        if month not in self._months:
            self._months[month] = read_json(self._path(month), {})
        return self._months[month]

    def get(self, href: str) -> dict[str, Any] | None:
        """The record of ``href``, if ingest wrote it."""
        return self.month(href_month(href)).get(href)

    def put(self, href: str, rec: dict[str, Any]) -> None:
        """Record a COG that landed."""
        month = href_month(href)
        self.month(month)[href] = rec
        self._dirty.add(month)

    def fresh(self, href: str, fp: str, cube: Path) -> bool:
        """True when ``href`` was written from sources with this fingerprint and still exists."""
        rec = self.get(href)
        return rec is not None and rec["fingerprint"] == fp and (cube / href).is_file()

    def months_of(self, collection: str) -> list[str]:
        """The months the ledger holds records of for ``collection`` (no month read)."""
        folder = self.folder / collection
        names = [e.name for e in os.scandir(folder)] if folder.is_dir() else []
        on_disk = {n.removesuffix(".json") for n in names if n.endswith(".json")}
        return sorted(on_disk | {m for c, m in self._months if c == collection})

    def collections(self) -> list[str]:
        """The collections the ledger holds records of."""
        on_disk = [e.name for e in os.scandir(self.folder)] if self.folder.is_dir() else []
        return sorted(set(on_disk) | {c for c, _ in self._months})

    def records(self, months: Iterable[Month]) -> dict[str, dict[str, Any]]:
        """The records of the collection-months ``months``, by href."""
        out: dict[str, dict[str, Any]] = {}
        for m in sorted(set(months)):
            out |= self.month(m)
        return out

    def save(self) -> None:
        """Atomically write the months that changed."""
        for month in sorted(self._dirty):
            write_json(self._path(month), self._months[month])
        self._dirty.clear()


@dataclass
class SourceState:
    """What ingest last saw of one source folder: per file (relative path) its size,
    modification time, the tag of the files it is planned with, and the COGs it made."""

    path: Path
    files: dict[str, list[Any]] = field(default_factory=dict)

    def save(self) -> None:
        """Atomically write the state if it changed."""
        write_json(self.path, {"recipe": RECIPE, "files": self.files})


def source_state(cube: Path, folder: Path, options: str) -> SourceState:
    """The state of ``folder`` read with ``options`` (how its files are parsed and placed):
    empty when never seen, or written for another COG recipe."""
    name = hashlib.sha256(f"{folder.resolve()}\n{options}".encode()).hexdigest()[:32]
    path = state_dir(cube) / SOURCES_DIR / f"{name}.json"
    doc = read_json(path, {})
    files = doc.get("files", {}) if doc.get("recipe") == RECIPE else {}
    return SourceState(path, files)


class Unfinished:
    """``pending.json``: the collection-months a run set out to bring into the catalogue
    (and whether all of it), written before its COGs and removed once the catalogue is
    saved, so the next run finishes what a killed one left, whatever its sources."""

    def __init__(self, cube: Path):
        self.path = state_dir(cube) / PENDING_NAME
        doc = read_json(self.path, {})
        self.months: set[Month] = {(c, m) for c, m in doc.get("months", [])}
        self.full: bool = doc.get("full", False)

    def save(self, months: set[Month], full: bool) -> None:
        """Remember what this run is to assemble."""
        self.months, self.full = months, full
        write_json(self.path, {"months": sorted(months), "full": full})

    def clear(self) -> None:
        """The catalogue is saved: nothing is left to finish."""
        self.path.unlink(missing_ok=True)


def settings(cube: Path) -> dict[str, Any]:
    """Settings remembered between runs (``base_url``)."""
    return read_json(state_dir(cube) / SETTINGS_NAME, {})


def save_settings(cube: Path, values: dict[str, Any]) -> None:
    """Remember settings for later runs."""
    write_json(state_dir(cube) / SETTINGS_NAME, values)
