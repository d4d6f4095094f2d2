"""The map viewer's page for ``GET /``: the built ``viewer/dist/index.html`` (package data,
made by ``npm run build`` in ``server/viewer/``), and the ``Accept`` negotiation that picks
it for browsers while API clients keep the JSON landing page."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from starlette.responses import Response

from .static import CACHE_JSON

#: The built viewer: one self-contained HTML page (script and styles inlined).
VIEWER_PAGE = Path(__file__).resolve().parent / "viewer" / "dist" / "index.html"

NOT_BUILT = b"""<!doctype html><meta charset="utf-8"><title>leafcube</title>
<h1>leafcube</h1><p>The map viewer is not built into this installation
(<code>cd server/viewer &amp;&amp; npm ci &amp;&amp; npm run build</code>, or
<code>./dev.sh demo</code>). The data is all here:
<a href="api/collections">api/collections</a>, <a href="catalogue.json">catalogue.json</a>,
<a href="stac/catalog.json">STAC</a>, <a href="docs">API docs</a>.</p>
"""


def _quality(accept: str, media: str) -> float:
    """The q value ``accept`` gives ``media`` (exact type, ``type/*`` or ``*/*``), 0 if none."""
    best, best_rank = 0.0, -1
    kind = media.split("/")[0]
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        name = fields[0].lower()
        rank = 2 if name == media else 1 if name == f"{kind}/*" else 0 if name == "*/*" else -1
        if rank < best_rank or rank < 0:
            continue
        q = 1.0
        for param in fields[1:]:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best, best_rank = q, rank
    return best


def wants_html(accept: str) -> bool:
    """True when ``accept`` names HTML and prefers it to JSON (what browsers send).

    ``*/*`` alone (curl, httpx, requests) stays JSON: HTML must be asked for by name.
    """
    if "text/html" not in accept.lower():
        return False
    return _quality(accept, "text/html") > 0 and _quality(accept, "text/html") >= _quality(
        accept, "application/json"
    )


@lru_cache(maxsize=4)
def _page(mtime_ns: int) -> bytes:
    return VIEWER_PAGE.read_bytes()


def page_bytes() -> bytes:
    """The viewer page, re-read when a new build replaced it; a short note when not built."""
    try:
        return _page(VIEWER_PAGE.stat().st_mtime_ns)
    except OSError:
        return NOT_BUILT


def viewer_response() -> Response:
    """The viewer page as a response that caches must keep apart from the JSON one."""
    headers = {"vary": "Accept", "cache-control": CACHE_JSON}
    return Response(page_bytes(), media_type="text/html; charset=utf-8", headers=headers)
