"""The cube's private state under ``CUBE/.leafcube/``: ledger, source states, settings.

The ledger records every COG ingest wrote and the fingerprint of what it was made
from, so a re-run skips unchanged sources and the catalogue can be rebuilt from it
after a crash. It is split by collection and month (``ledger/{collection}/{YYYY-MM}.json``)
so a run reads and writes only the months it touches. A source state remembers, per
source folder and sub-folder, each file's size and modification time and the COGs it
made, so a re-run of an unchanged folder stats it once, reads only its small index and
plans nothing; with each sub-folder's status-change time, so a run that trusts folder
times need not even stat it. Dot-folders are never served.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leafcube.catalogue.folder import read_json, state_dir, write_json

OLD_LEDGER_NAME = "ledger.json"
LEDGER_DIR = "ledger"
SOURCES_DIR = "sources"
INDEX_NAME = "index.json"
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


#: One file as a source state remembers it: size, modification time (ns), the tag of the
#: files it is planned with, and the COGs it made.
FileRecord = list[Any]


def listing_digest(files: Mapping[str, Sequence[Any]]) -> str:
    """A short hash of a folder's files (name → size, modification time, …): equal digests
    say a folder holds what a run recorded, without reading the record."""
    h = hashlib.blake2b(digest_size=16)
    for name in sorted(files):
        st = files[name]
        h.update(f"{name}\0{st[0]}\0{st[1]}\n".encode())
    return h.hexdigest()


@dataclass
class SourceState:
    """What ingest last saw of one source folder, kept per sub-folder so a run reads and
    writes only the sub-folders that changed: ``index.json`` holds each sub-folder's digest
    (:func:`listing_digest`), the range of its files' tags, how many COGs they made and the
    folder's status-change time when they were all it held; one file per sub-folder holds
    its files' records."""

    folder: Path
    dirs: dict[str, dict[str, Any]] = field(default_factory=dict)
    _files: dict[str, dict[str, FileRecord]] = field(default_factory=dict)
    _changed: set[str] = field(default_factory=set)
    _stamped: bool = False
    _children: dict[str, list[str]] | None = None

    def _shard(self, prefix: str) -> Path:
        name = hashlib.blake2b(prefix.encode(), digest_size=12).hexdigest()
        return self.folder / f"{name}.json"

    def same(self, prefix: str, digest: str) -> bool:
        """True when the sub-folder ``prefix``, whose listing has this digest, holds
        exactly the files the state records."""
        known = self.dirs.get(prefix)
        return known is not None and known["digest"] == digest

    def vouched(self, prefix: str, ctime: int) -> list[str] | None:
        """The sub-folders of ``prefix`` when its status-change time is the one recorded
        with its files (no file added, removed or renamed in it since), else None."""
        known = self.dirs.get(prefix)
        if known is None or known.get("ctime") != ctime:
            return None
        if self._children is None:
            self._children = {}
            for p in self.dirs:
                if p:
                    parent = p[:-1].rpartition("/")[0]
                    self._children.setdefault(parent + "/" if parent else "", []).append(p)
        return self._children.get(prefix, [])

    def stamp(self, prefix: str, ctime: int | None, digest: str) -> None:
        """Remember the status-change time of a folder listed this run, if its records
        are every file it held then (its listing's ``digest``: a file that failed is not
        recorded, so it is retried) and the time was one to vouch by."""
        known = self.dirs.get(prefix)
        if known is None:
            known = self._summarise(prefix, {})
            self._stamped = True
        ctime = ctime if known["digest"] == digest else None
        if "ctime" not in known or known["ctime"] != ctime:
            known["ctime"] = ctime
            self._stamped = True

    def may_hold(self, prefix: str, tags: Sequence[str]) -> bool:
        """Whether a recorded file of ``prefix`` may have one of the sorted ``tags``."""
        known = self.dirs.get(prefix)
        if known is None or known["lo"] is None:
            return False
        i = bisect.bisect_left(tags, known["lo"])
        return i < len(tags) and tags[i] <= known["hi"]

    def made(self, prefix: str) -> int:
        """How many COGs the recorded files of ``prefix`` made."""
        known = self.dirs.get(prefix)
        return known["made"] if known else 0

    def files(self, prefix: str) -> dict[str, FileRecord]:
        """The records of the files of ``prefix`` (name → record), read on first use."""
        if prefix not in self._files:
            known = prefix in self.dirs
            self._files[prefix] = read_json(self._shard(prefix), {}) if known else {}
        return self._files[prefix]

    def put(self, prefix: str, files: dict[str, FileRecord]) -> None:
        """Record the files of ``prefix`` (written by :meth:`save`, if they changed)."""
        if files == self.files(prefix):
            return
        self._files[prefix] = files
        self._summarise(prefix, files)
        self._changed.add(prefix)

    def _summarise(self, prefix: str, files: dict[str, FileRecord]) -> dict[str, Any]:
        """Set the index entry of ``prefix`` from its files' records (no time yet)."""
        tags = sorted(r[2] for r in files.values() if r[2] is not None)
        made = {h for r in files.values() for h in r[3]}
        self._children = None
        self.dirs[prefix] = {
            "digest": listing_digest(files),
            "lo": tags[0] if tags else None,
            "hi": tags[-1] if tags else None,
            "made": len(made),
        }
        return self.dirs[prefix]

    def keep_only(self, prefixes: set[str]) -> None:
        """Forget the sub-folders not listed this run (their files are gone)."""
        for prefix in [p for p in self.dirs if p not in prefixes]:
            del self.dirs[prefix]
            self._children = None
            self._files.pop(prefix, None)
            self._shard(prefix).unlink(missing_ok=True)
            self._changed.add(prefix)

    def save(self) -> None:
        """Atomically write the sub-folders that changed, then the index."""
        if not self._changed and not self._stamped:
            return
        for prefix in sorted(self._changed):
            if prefix in self.dirs:
                write_json(self._shard(prefix), self._files[prefix])
        write_json(self.folder / INDEX_NAME, {"recipe": RECIPE, "dirs": self.dirs})
        self._changed.clear()
        self._stamped = False


def source_state(cube: Path, folder: Path, options: str, remembered: bool = True) -> SourceState:
    """The state of ``folder`` read with ``options`` (how its files are parsed and placed):
    empty when never seen, not ``remembered``, or written for another COG recipe. A
    whole-folder state of an earlier leafcube is split into sub-folders on first use."""
    name = hashlib.sha256(f"{folder.resolve()}\n{options}".encode()).hexdigest()[:32]
    state = SourceState(state_dir(cube) / SOURCES_DIR / name)
    old = state.folder.with_suffix(".json")
    doc = read_json(state.folder / INDEX_NAME, None)
    if doc is None and old.exists():
        whole = read_json(old, {})
        if whole.get("recipe") == RECIPE and remembered:
            by_dir: dict[str, dict[str, FileRecord]] = {}
            for rel, rec in whole.get("files", {}).items():
                prefix, _, fname = rel.rpartition("/")
                by_dir.setdefault(prefix + "/" if prefix else "", {})[fname] = rec
            for prefix, files in by_dir.items():
                state.put(prefix, files)
            state.save()
        old.unlink()
    elif doc is not None and doc.get("recipe") == RECIPE and remembered:
        state.dirs = doc["dirs"]
    return state


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
