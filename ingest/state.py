"""The cube's private state under ``CUBE/.leafcube/``: ledger, settings, lock, temp files.

The ledger records every COG ingest wrote and the fingerprint of what it was made
from, so a re-run skips unchanged sources and the catalogue can be rebuilt from it
after a crash. Dot-folders are never served.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from leafcube.catalogue import write_bytes_atomic

STATE_DIR = ".leafcube"
LEDGER_NAME = "ledger.json"
SETTINGS_NAME = "settings.json"
#: Bump when the COG recipe changes, so a re-run rewrites every COG.
RECIPE = "cog-2"


def state_dir(cube: Path) -> Path:
    """``CUBE/.leafcube``."""
    return cube / STATE_DIR


def tmp_dir(cube: Path) -> Path:
    """Where COGs are written before they are renamed into place."""
    return state_dir(cube) / "tmp"


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically write ``data`` unless the file already holds exactly it; True when written."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_bytes_atomic(path, data)
    return True


def read_json(path: Path, default: Any) -> Any:
    """A JSON file's content, or ``default`` when it does not exist."""
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return default


def write_json(path: Path, doc: Any) -> bool:
    """Write ``doc`` as indented, key-sorted JSON if it changed."""
    return write_if_changed(
        path, orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    )


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


@contextmanager
def locked(cube: Path) -> Iterator[None]:
    """Hold the cube's ingest lock; a second ``leafcube ingest`` of the same cube fails fast.

    Temp files (left by a killed run, or made by this one) are removed once the
    lock is ours and again before it is released.
    """
    sdir = state_dir(cube)
    sdir.mkdir(parents=True, exist_ok=True)
    fd = os.open(sdir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"{cube}: another leafcube ingest is writing this cube") from None
        shutil.rmtree(tmp_dir(cube), ignore_errors=True)
        yield
        shutil.rmtree(tmp_dir(cube), ignore_errors=True)
    finally:
        os.close(fd)


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
