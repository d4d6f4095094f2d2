"""The cube folder's own files: the private ``.leafcube/`` state folder, the writer's lock,
and JSON written atomically and only when its bytes change (part of the folder format,
shared by ingest, publish, the server and the client)."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from .store import write_bytes_atomic

STATE_DIR = ".leafcube"
#: Seconds a reader may keep a cube's JSON (the catalogue, the views) before it asks
#: again: the ``max-age`` every leafcube web server sends, and how long a published
#: file stays after the catalogue stops naming it.
JSON_MAX_AGE = 60


def state_dir(cube: Path) -> Path:
    """``CUBE/.leafcube``."""
    return cube / STATE_DIR


def tmp_dir(cube: Path) -> Path:
    """Where COGs are written before they are renamed into place."""
    return state_dir(cube) / "tmp"


def holds(path: Path, data: bytes) -> bool:
    """Whether the file holds exactly ``data`` (a file of another size is not read)."""
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except FileNotFoundError:
        return False


def write_if_changed(path: Path, data: bytes) -> bool:
    """Atomically write ``data`` unless the file already holds exactly it; True when written."""
    if holds(path, data):
        return False
    write_bytes_atomic(path, data)
    return True


def read_json(path: Path, default: Any) -> Any:
    """A JSON file's content, or ``default`` when it does not exist."""
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return default


def json_bytes(doc: Any) -> bytes:
    """``doc`` as the indented, key-sorted JSON the cube's views are written in."""
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def write_json(path: Path, doc: Any) -> bool:
    """Write ``doc`` as indented, key-sorted JSON if it changed."""
    return write_if_changed(path, json_bytes(doc))


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
