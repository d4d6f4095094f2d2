"""Reading, validating and atomically writing ``catalogue.json`` and its parts.

The root names each collection's parts with their SHA-256; :func:`save` writes the parts
whose bytes changed, then the root, so a reader never finds a root naming a part that is
not there yet.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
import json
import marshal
import os
import sys
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import orjson

from .errors import CatalogueError
from .models import FORMAT_VERSION, Catalogue, Collection, DateEntry, PartRef
from .parts import PARTS_DIR, choose_partition, group, missing, part_href, with_parts

CATALOGUE_NAME = "catalogue.json"


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of ``catalogue.json`` shipped with the package."""
    return json.loads(files(__package__).joinpath("schema/catalogue.schema.json").read_text())


@cache
def _definition(definition: str | None) -> dict[str, Any]:
    doc = schema()
    if definition is not None:  # one of its $defs, e.g. a part
        doc = {"$defs": doc["$defs"], "$ref": f"#/$defs/{definition}"}
    return doc


@cache
def _validator(definition: str | None) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_definition(definition))


def cache_dir() -> Path:
    """Where leafcube keeps what it makes once per machine: ``$XDG_CACHE_HOME/leafcube``,
    by default ``~/.cache/leafcube``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "leafcube"


@cache
def _compiled(definition: str | None) -> Callable[[Any], Any]:
    # The schema keeps to keywords that mean the same in draft 7, which fastjsonschema
    # compiles ($ref without siblings); tests/catalogue/test_schema.py holds them to agree.
    # (a deep copy: compiling writes into the schema, which jsonschema's validators share)
    doc = copy.deepcopy(_definition(definition))
    doc |= {"$schema": "http://json-schema.org/draft-07/schema#"}
    # Generating and compiling the validator takes about 0.07 s, which every process
    # reading a large root would pay: its bytecode is kept in the cache folder, named by
    # the schema, fastjsonschema's version and the Python that compiled it.
    stamp = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    stamp += f"{fastjsonschema.VERSION} {sys.implementation.cache_tag}".encode()
    name = f"validator-{definition or 'root'}-{hashlib.sha256(stamp).hexdigest()[:16]}.marshal"
    path = cache_dir() / name
    try:
        code = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):  # not cached yet (or unreadable)
        code = compile(fastjsonschema.compile_to_code(doc), f"<{name}>", "exec")
        with contextlib.suppress(OSError):  # no cache folder to write: compile every time
            write_bytes_atomic(path, marshal.dumps(code))
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    # the validator of the whole document is the first function fastjsonschema writes
    return next(v for k, v in namespace.items() if k.startswith("validate_"))


#: Documents larger than this (JSON bytes) are checked by a validator compiled to Python
#: (0.07 s once per machine, then 2 ms per process to load from :func:`cache_dir`), 8x
#: faster than jsonschema on a 50 kB part, 15x on a 10,000-date root; smaller ones by
#: jsonschema, which costs nothing to set up (a home with no cache folder to write pays
#: the compilation in every process). Either way an invalid document is explained by
#: jsonschema.
COMPILED_ABOVE = 8_000


def validate(
    doc: dict[str, Any],
    definition: str | None = None,
    what: str = "catalogue",
    nbytes: int = 0,
) -> None:
    """Raise :class:`CatalogueError` naming the first place ``doc`` breaks the schema (the
    root's, or that of one of its ``$defs`` such as ``part``); ``nbytes`` is the size of
    its JSON, which picks the validator."""
    if nbytes > COMPILED_ABOVE:
        try:
            _compiled(definition)(doc)
            return
        except fastjsonschema.JsonSchemaException:
            pass  # explained below
    error = jsonschema.exceptions.best_match(_validator(definition).iter_errors(doc))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise CatalogueError(f"{what} is not valid at {where}: {error.message}")


def _json(data: bytes | str, what: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CatalogueError(f"{what} is not JSON: {exc}") from None


def parse(data: bytes | str, check: bool = True) -> Catalogue:
    """Parse the root ``catalogue.json`` (its collections hold no dates until their parts
    are loaded; a format 1.0 catalogue holds them all); ``check`` validates it first."""
    doc = _json(data, "catalogue")
    if check:
        validate(doc, nbytes=len(data))
    return Catalogue.from_dict(doc)


def parse_part(
    coll: Collection, ref: PartRef, data: bytes, check: bool = True
) -> dict[str, DateEntry]:
    """The date entries of ``coll``'s part ``ref`` from its file's bytes."""
    what = f"catalogue part {ref.href}"
    doc = _json(data, what)
    if check:
        validate(doc, "part", what, len(data))
    if doc.get("collection") != coll.name or doc.get("part") != ref.key:
        raise CatalogueError(f"{what} holds {doc.get('collection')!r} {doc.get('part')!r}")
    return {k: DateEntry.from_dict(v) for k, v in doc["dates"].items()}


def _root_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p / CATALOGUE_NAME if p.is_dir() else p


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CatalogueError(f"no {what} at {path}: run `leafcube ingest` first") from None


def load_root(path: str | os.PathLike[str], check: bool = True) -> Catalogue:
    """The root alone, from a ``catalogue.json`` file or the cube folder holding it."""
    return parse(_read(_root_path(path), "catalogue"), check)


#: The most part JSON, in bytes, a :class:`PartCache` keeps parsed: 20 months of a national
#: daily collection (1.5 MB a month, so a year's time series stays cached) or 50 years of
#: a national monthly one. Parsed, a part takes about 5 times its JSON in memory (measured
#: 4.6-4.9x), so a full cache holds about 160 MB (docs/catalogue.md).
PART_CACHE_BYTES = 32_000_000


class PartCache:
    """Parsed parts by SHA-256, bounded: once the parts held sum past ``max_bytes`` of JSON
    the least recently used are dropped (a part larger than the bound is kept alone).

    A part changes its hash when it changes, so an entry is never stale: a reader asks for
    the hashes the current root names and gets back what it parsed earlier. The entries
    are shared between readers (treat them as read-only); thread-safe. ``reads``,
    ``hits`` and ``evictions`` count what it was asked and what it did.
    """

    def __init__(self, max_bytes: int = PART_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.reads = self.hits = self.evictions = 0
        self._held: OrderedDict[str, tuple[dict[str, DateEntry], int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, sha256: object) -> bool:
        return sha256 in self._held

    @property
    def nbytes(self) -> int:
        """The JSON bytes of the parts held."""
        return self._bytes

    def get(self, sha256: str) -> dict[str, DateEntry] | None:
        """The entries of the part with that hash, if held (then it is the most recent)."""
        with self._lock:
            held = self._held.get(sha256)
            if held is None:
                return None
            self._held.move_to_end(sha256)
            self.hits += 1
            return held[0]

    def put(self, sha256: str, entries: dict[str, DateEntry], size: int) -> None:
        """Hold a part just read (``size``: its JSON bytes), dropping the oldest past the bound."""
        with self._lock:
            self.reads += 1
            if sha256 in self._held:
                self._bytes -= self._held.pop(sha256)[1]
            self._held[sha256] = (entries, size)
            self._bytes += size
            while self._bytes > self.max_bytes and len(self._held) > 1:
                _, (_, dropped) = self._held.popitem(last=False)
                self._bytes -= dropped
                self.evictions += 1

    def counts(self) -> dict[str, int]:
        """What it holds and has done: parts, bytes, reads, hits, evictions and the bound."""
        return {
            "parts": len(self._held),
            "bytes": self._bytes,
            "max_bytes": self.max_bytes,
            "reads": self.reads,
            "hits": self.hits,
            "evictions": self.evictions,
        }


def read_parts(
    cube: str | os.PathLike[str],
    coll: Collection,
    refs: list[PartRef],
    check: bool = True,
    cache: PartCache | None = None,
) -> Collection:
    """``coll`` with the parts ``refs`` of the cube folder ``cube`` loaded (a copy); parts
    found in ``cache`` by their hash are not read, those read are added to it."""
    root = Path(cube)
    loaded = {}
    for r in missing(coll, refs):
        entries = cache.get(r.sha256) if cache is not None else None
        if entries is None:
            data = _read(root / r.href, "catalogue part")
            entries = parse_part(coll, r, data, check)
            if cache is not None:
                cache.put(r.sha256, entries, len(data))
        loaded[r.key] = entries
    return with_parts(coll, loaded)


def load(
    path: str | os.PathLike[str], check: bool = True, cache: PartCache | None = None
) -> Catalogue:
    """The whole catalogue, every part loaded, from a ``catalogue.json`` file or the cube
    folder holding it (for writers and whole-cube tools; readers load the parts a request
    touches, :func:`read_parts`); parts still in ``cache`` are not read again."""
    p = _root_path(path)
    cat = load_root(p, check)
    for name, coll in cat.collections.items():
        refs = list(coll.parts.values())
        cat.collections[name] = read_parts(p.parent, coll, refs, check, cache)
    return cat


def dumps(cat: Catalogue) -> bytes:
    """The root as indented, key-ordered JSON bytes (stable for diffs and ETags)."""
    return orjson.dumps(cat.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"


def dumps_part(coll: Collection, key: str, dates: list[str]) -> bytes:
    """Part ``key`` of ``coll`` (the entries ``dates``) as compact, key-ordered JSON bytes:
    half the size of indented JSON, and parts are read by programs, not people."""
    doc = {"leafcube": FORMAT_VERSION, "collection": coll.name, "part": key}
    return orjson.dumps(doc | {"dates": coll.dates_dict(dates)}) + b"\n"


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` so readers see the old file or the new one, never a part.

    The bytes go to a temporary file in the same folder, are fsynced, then renamed
    over ``path``; a crash at any moment leaves the previous file intact.
    """
    write_chunks_atomic(path, [data])


def write_chunks_atomic(path: str | os.PathLike[str], chunks: Iterable[bytes | memoryview]) -> None:
    """:func:`write_bytes_atomic` of the bytes ``chunks`` joins, never held at once."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
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


def _plan_parts(coll: Collection, cube: Path, on_disk: dict[str, str]) -> dict[str, bytes]:
    """Index the parts of ``coll`` it holds dates of, and return those to write (href →
    bytes: those whose bytes differ from what the root on disk names, ``on_disk``, href →
    SHA-256); the loaded parts left without dates are dropped, the refs of the parts it
    did not load kept."""
    if coll.partition is None:
        coll.partition = choose_partition(coll.dates.values())
    grouped = group(coll)
    unloaded = [k for k in grouped if k in coll.parts and k not in coll.loaded]
    if unloaded:
        raise CatalogueError(f"parts {unloaded} of {coll.name!r} must be loaded to add to them")
    parts = {k: r for k, r in coll.parts.items() if k not in coll.loaded}
    writes = {}
    for key, keys in grouped.items():
        data = dumps_part(coll, key, keys)
        digest = hashlib.sha256(data).hexdigest()
        ref = PartRef(
            key,
            part_href(coll.name, key),
            digest,
            min(coll.dates[k].start for k in keys),
            max(coll.dates[k].end for k in keys),
            len(keys),
        )
        if on_disk.get(ref.href) != digest or not (cube / ref.href).is_file():
            validate(orjson.loads(data), "part", f"catalogue part {ref.href}", len(data))
            writes[ref.href] = data
        parts[key] = ref
    coll.parts = parts
    coll.loaded = coll.loaded | set(grouped)
    return writes


def _remove_stale_parts(cat: Catalogue, cube: Path) -> None:
    """Delete the part files the root no longer names (after it was written)."""
    folder = cube / PARTS_DIR
    if not folder.is_dir():
        return
    named = {r.href for c in cat.collections.values() for r in c.parts.values()}
    for path in folder.glob("*/*.json"):
        if path.relative_to(cube).as_posix() not in named:
            path.unlink()
    for sub in folder.iterdir():
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()


def save(cat: Catalogue, cube_dir: str | os.PathLike[str]) -> bool:
    """Validate and atomically write the changed parts, then ``cube_dir/catalogue.json``.

    Returns False, writing nothing, when the content equals what is on disk, so a
    re-run that adds nothing leaves the files (and their ETags) untouched. ``updated``
    is stamped only when something changed.
    """
    cube = Path(cube_dir)
    path = cube / CATALOGUE_NAME
    old = orjson.loads(path.read_bytes()) if path.exists() else None
    on_disk = {
        r["href"]: r["sha256"]
        for c in (old or {}).get("collections", {}).values()
        for r in c.get("parts", {}).values()
    }
    writes: dict[str, bytes] = {}
    for coll in cat.collections.values():
        writes |= _plan_parts(coll, cube, on_disk)
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    new = cat.to_dict()
    checked = new | {"updated": stamp}
    validate(checked, nbytes=len(orjson.dumps(checked)))  # an invalid catalogue: nothing written
    for href, data in writes.items():
        write_bytes_atomic(cube / href, data)
    if old is not None:
        old.pop("updated", None)
        new.pop("updated", None)
        if old == new:
            _remove_stale_parts(cat, cube)
            return False
    cat.updated = stamp
    write_bytes_atomic(path, dumps(cat))
    _remove_stale_parts(cat, cube)
    return True
