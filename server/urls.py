"""The base URL a client used, also behind a proxy (X-Forwarded-Proto/Host/Prefix)."""

from __future__ import annotations

import re

from starlette.requests import Request

_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~\-]+)*$")


def _first(request: Request, name: str) -> str:
    return request.headers.get(name, "").split(",")[0].strip()


def base_url(request: Request) -> str:
    """``scheme://host[/prefix]`` as the client sees this server, without a trailing slash.

    Forwarded values that are not a plain scheme, host or path are ignored, so a
    forged header cannot inject markup into the documents built from it.
    """
    proto = _first(request, "x-forwarded-proto").lower()
    if proto not in ("http", "https"):
        proto = request.url.scheme
    host = _first(request, "x-forwarded-host")
    if not _HOST.match(host):
        host = request.headers.get("host", "")
        if not _HOST.match(host):
            host = request.url.netloc
    prefix = _first(request, "x-forwarded-prefix").rstrip("/")
    if not _PREFIX.match(prefix):
        prefix = ""
    return f"{proto}://{host}{prefix}"
