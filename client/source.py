"""Where a cube lives and how to reach it: a leafcube server, a plain web server or a folder.

The mode is found by asking: a source whose ``/api/collections`` answers is a leafcube
server; one with only a ``catalogue.json`` is a static cube; a path is a local cube.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from leafcube.catalogue import CATALOGUE_NAME, Catalogue, CatalogueError, load, parse

from .errors import ClientError
from .http import client_kwargs, error_message

Mode = Literal["server", "static", "local"]
MODES: tuple[str, ...] = ("server", "static", "local")


@dataclass(frozen=True)
class Source:
    """A cube's location, its mode and its catalogue.

    ``h2c`` is True for a server known to speak HTTP/2 without TLS (a leafcube server).
    """

    mode: Mode
    base: str
    catalogue: Catalogue
    h2c: bool = False

    @property
    def remote(self) -> bool:
        return self.mode != "local"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` relative to the cube's base."""
        return f"{self.base}/{path.lstrip('/')}"

    def gdal_env(self) -> dict[str, str]:
        """GDAL settings that make /vsicurl/ speak HTTP/2 where the server does."""
        if self.base.startswith("https://"):
            return {"GDAL_HTTP_VERSION": "2TLS"}
        return {"GDAL_HTTP_VERSION": "2PRIOR_KNOWLEDGE" if self.h2c else "1.1"}


def is_url(value: object) -> bool:
    """True for an ``http(s)://`` string."""
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def open_source(source: str | os.PathLike[str], mode: Mode | None = None) -> Source:
    """Find out what ``source`` is and load its catalogue; ``mode`` forces one."""
    if mode is not None and mode not in MODES:
        raise ClientError(f"mode must be one of {list(MODES)}, not {mode!r}")
    if not is_url(source):
        if mode not in (None, "local"):
            raise ClientError(f"{mode} mode needs an http(s) URL, not the path {source!r}")
        path = Path(source)
        if not path.exists():
            raise ClientError(f"no cube at {path}: not a URL, and no such file or folder")
        try:
            cat = load(path)
        except CatalogueError as exc:
            raise ClientError(str(exc)) from None
        return Source("local", str(path.parent if path.is_file() else path), cat)
    if mode == "local":
        raise ClientError(f"local mode needs a folder, not the URL {source}")
    return _open_url(str(source).removesuffix(CATALOGUE_NAME).rstrip("/"), mode)


def _probe_api(base: str, h2c: bool) -> bool:
    """True when ``base`` answers ``/api/collections`` with JSON, like a leafcube server."""
    with httpx.Client(**client_kwargs(h2c, 15.0)) as client:
        r = client.get(f"{base}/api/collections", headers={"accept": "application/json"})
    return r.status_code == 200 and r.headers.get("content-type", "").startswith("application/json")


def _open_url(base: str, mode: Mode | None) -> Source:
    server, h2c = False, False
    attempts = [True, False] if base.startswith("http://") else [False]
    for try_h2c in attempts:
        try:
            server = _probe_api(base, try_h2c)
        except httpx.TransportError:
            continue
        h2c = try_h2c and server
        break
    if mode == "server" and not server:
        raise ClientError(f"{base} is not a leafcube server: /api/collections does not answer")
    try:
        with httpx.Client(**client_kwargs(h2c, 30.0)) as client:
            r = client.get(f"{base}/{CATALOGUE_NAME}")
    except httpx.HTTPError as exc:
        raise ClientError(f"cannot reach {base}: {exc}") from None
    if r.status_code != 200:
        raise ClientError(
            f"no leafcube cube at {base}: {CATALOGUE_NAME} answered "
            f"{r.status_code} ({error_message(r)})"
        )
    try:
        cat = parse(r.content)
    except CatalogueError as exc:
        raise ClientError(f"{base}/{CATALOGUE_NAME}: {exc}") from None
    chosen: Mode = mode or ("server" if server else "static")
    return Source(chosen, base, cat, h2c=h2c)
