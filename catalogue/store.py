"""Reading, validating and atomically writing ``catalogue.json``."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import orjson

from .errors import CatalogueError
from .models import Catalogue

CATALOGUE_NAME = "catalogue.json"


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of ``catalogue.json`` shipped with the package."""
    return json.loads(files(__package__).joinpath("schema/catalogue.schema.json").read_text())


def validate(doc: dict[str, Any]) -> None:
    """Raise :class:`CatalogueError` naming the first place ``doc`` breaks the schema."""
    validator = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise CatalogueError(f"catalogue is not valid at {where}: {error.message}")


def parse(data: bytes | str, check: bool = True) -> Catalogue:
    """Parse catalogue JSON text; with ``check`` it is validated against the schema first."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CatalogueError(f"catalogue is not JSON: {exc}") from None
    if check:
        validate(doc)
    return Catalogue.from_dict(doc)


def load(path: str | os.PathLike[str], check: bool = True) -> Catalogue:
    """Load a catalogue from a file, or from a cube folder holding ``catalogue.json``."""
    p = Path(path)
    if p.is_dir():
        p = p / CATALOGUE_NAME
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise CatalogueError(f"no catalogue at {p}: run `leafcube ingest` first") from None
    return parse(data, check)


def dumps(cat: Catalogue) -> bytes:
    """The catalogue as indented, key-ordered JSON bytes (stable for diffs and ETags)."""
    return orjson.dumps(cat.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` so readers see the old file or the new one, never a part.

    The bytes go to a temporary file in the same folder, are fsynced, then renamed
    over ``path``; a crash at any moment leaves the previous file intact.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save(cat: Catalogue, cube_dir: str | os.PathLike[str]) -> bool:
    """Validate and atomically write ``cube_dir/catalogue.json``.

    Returns False, writing nothing, when the content equals what is on disk, so a
    re-run that adds nothing leaves the file (and its ETag) untouched. ``updated``
    is stamped only when something changed.
    """
    path = Path(cube_dir) / CATALOGUE_NAME
    if path.exists():
        old = orjson.loads(path.read_bytes())
        new = cat.to_dict()
        old.pop("updated", None)
        new.pop("updated", None)
        if old == new:
            return False
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    validate(cat.to_dict() | {"updated": stamp})  # an invalid catalogue is left unstamped
    cat.updated = stamp
    write_bytes_atomic(path, dumps(cat))
    return True
