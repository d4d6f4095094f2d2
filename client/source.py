"""Where a cube lives, how to reach it, its root catalogue as it is now, and the parts
of it a request touches.

The mode is found by asking: a source whose ``/api/collections`` answers is a leafcube
server; one with only a ``catalogue.json`` is a static cube; a path is a local cube.
The root catalogue is read again only when it changed: a conditional GET (ETag) over
HTTP, a ``stat`` on disk. Parts are fetched only when a request's dates touch them, kept
in a bounded :class:`~leafcube.catalogue.store.PartCache` by SHA-256, and fetched again
only when the root names them with another hash.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from leafcube.catalogue import (
    CATALOGUE_NAME,
    Catalogue,
    CatalogueError,
    Collection,
    DateEntry,
    PartRef,
    load_root,
    parse,
    parse_part,
    read_parts,
)
from leafcube.catalogue.parts import missing, with_parts
from leafcube.catalogue.store import PartCache

from .errors import ClientError
from .http import Fetcher, new_client, untrusted

Mode = Literal["server", "static", "local"]
MODES: tuple[Mode, ...] = ("server", "static", "local")


@dataclass(frozen=True)
class Source:
    """A cube's location and mode.

    ``h2c`` is True for a server known to speak HTTP/2 without TLS (a leafcube server).
    """

    mode: Mode
    base: str
    h2c: bool = False

    @property
    def remote(self) -> bool:
        return self.mode != "local"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` relative to the cube's base."""
        return f"{self.base}/{path.lstrip('/')}"

    def gdal_env(self) -> dict[str, str]:
        """GDAL settings that make /vsicurl/ speak HTTP/2 where the server does."""
        if not self.remote:
            return {}
        if self.base.startswith("https://"):
            return {"GDAL_HTTP_VERSION": "2TLS"}
        return {"GDAL_HTTP_VERSION": "2PRIOR_KNOWLEDGE" if self.h2c else "1.1"}


@dataclass(frozen=True)
class Snapshot:
    """A root catalogue (its collections hold no dates until their parts are loaded) and
    what identifies its version (an ETag, or a file's stat)."""

    catalogue: Catalogue
    version: object


class Unreachable(ClientError):
    """The cube's server did not answer (after retries)."""


def is_url(value: object) -> bool:
    """True for an ``http(s)://`` string."""
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def check_mode(mode: object) -> Mode | None:
    """``mode`` if it is one (or None); ClientError naming the choices otherwise."""
    for m in MODES:
        if mode == m:
            return m
    if mode is None:
        return None
    raise ClientError(f"mode must be one of {list(MODES)}, not {mode!r}")


def base_of(source: str | os.PathLike[str], mode: Mode | None) -> str:
    """The cube's base (URL or folder) from what the user gave, without any I/O."""
    if is_url(source):
        if mode == "local":
            raise ClientError(f"local mode needs a folder, not the URL {source}")
        return str(source).removesuffix(CATALOGUE_NAME).rstrip("/")
    if mode not in (None, "local"):
        raise ClientError(f"{mode} mode needs an http(s) URL, not the path {source!r}")
    path = Path(source)
    return str(path.parent if path.name == CATALOGUE_NAME else path)


async def locate(base: str, mode: Mode | None, timeout: float) -> tuple[Source, httpx.AsyncClient]:
    """The source at ``base`` and the HTTP client (the one connection pool) that speaks
    to it: h2c is tried first on ``http://``, then HTTP/1.1."""
    if not is_url(base):
        path = Path(base)
        if not path.exists():
            raise ClientError(f"no cube at {base}: not a URL, and no such file or folder")
        return Source("local", str(path.parent if path.is_file() else path)), new_client(
            False, timeout
        )
    for h2c in [True, False] if base.startswith("http://") else [False]:
        client = new_client(h2c, timeout)
        try:
            r = await client.get(f"{base}/api/collections", headers={"accept": "application/json"})
        except httpx.TransportError as exc:
            await client.aclose()
            if untrusted(exc):
                raise ClientError(
                    f"cannot reach {base}: {exc} (trust its CA with SSL_CERT_FILE)"
                ) from None
            continue
        server = r.status_code == 200 and r.headers.get("content-type", "").startswith(
            "application/json"
        )
        if server or not h2c:
            if mode == "server" and not server:
                await client.aclose()
                break
            return Source(mode or ("server" if server else "static"), base, h2c=h2c), client
        await client.aclose()  # something that speaks h2c but is not leafcube: use HTTP/1.1
    if mode == "server":
        raise ClientError(f"{base} is not a leafcube server: /api/collections does not answer")
    return Source(mode or "static", base), new_client(False, timeout)


async def read_catalogue(source: Source, fetcher: Fetcher, known: Snapshot | None) -> Snapshot:
    """The root catalogue as it is now (no part read): ``known`` when it has not changed."""
    if not source.remote:
        return await asyncio.to_thread(_read_local, source.base, known)
    headers = {"if-none-match": str(known.version)} if known and known.version else {}
    try:
        r = await fetcher.request("GET", source.url(CATALOGUE_NAME), headers=headers)
    except ClientError as exc:
        raise ClientError(
            f"no leafcube cube at {source.base}: {CATALOGUE_NAME} answered {exc}"
        ) from None
    except httpx.HTTPError as exc:
        raise Unreachable(f"cannot reach {source.base}: {exc}") from None
    if r.status_code == 304 and known is not None:
        return known
    if r.status_code != 200:
        raise ClientError(
            f"no leafcube cube at {source.base}: {CATALOGUE_NAME} answered {r.status_code}"
        )
    try:
        return Snapshot(parse(r.content), r.headers.get("etag"))
    except CatalogueError as exc:
        raise ClientError(f"{source.base}/{CATALOGUE_NAME}: {exc}") from None


async def load_parts(
    source: Source, fetcher: Fetcher, coll: Collection, refs: list[PartRef], cache: PartCache
) -> Collection:
    """``coll`` with the parts ``refs`` loaded (a copy): those ``cache`` holds by SHA-256
    reused, the others read (a local file) or fetched concurrently, and added to it."""
    if not source.remote:
        try:
            return await asyncio.to_thread(read_parts, source.base, coll, refs, True, cache)
        except CatalogueError as exc:
            raise ClientError(str(exc)) from None

    async def one(ref: PartRef) -> tuple[str, dict[str, DateEntry]]:
        held = cache.get(ref.sha256)
        if held is not None:
            return ref.key, held
        try:
            r = await fetcher.request("GET", source.url(ref.href))
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach {source.base}: {exc}") from None
        if r.status_code != 200:
            raise ClientError(f"{source.url(ref.href)} answered {r.status_code}")
        try:
            entries = parse_part(coll, ref, r.content)
        except CatalogueError as exc:
            raise ClientError(f"{source.base}: {exc}") from None
        cache.put(ref.sha256, entries, len(r.content))
        return ref.key, entries

    return with_parts(coll, dict(await asyncio.gather(*(one(p) for p in missing(coll, refs)))))


def _read_local(base: str, known: Snapshot | None) -> Snapshot:
    try:
        st = os.stat(Path(base) / CATALOGUE_NAME)
    except OSError:
        raise ClientError(f"no cube at {base}: it has no {CATALOGUE_NAME}") from None
    version = (st.st_mtime_ns, st.st_size, st.st_ino)
    if known is not None and known.version == version:
        return known
    try:
        return Snapshot(load_root(Path(base)), version)
    except CatalogueError as exc:
        raise ClientError(str(exc)) from None
