"""The static mirror: every file of the cube folder at its relative path, as a plain web
server would serve it (RFC 9110 ranges, validators and conditional requests).

Only regular files inside the folder are reachable: dot-segments, hidden names (the
private ``.leafcube/``), a trailing slash after a file, and symlinks that lead out of the
folder or into a hidden part of it all answer 404.

The mirror is ASGI middleware in front of FastAPI: a byte range is what GDAL and QGIS send
most, and answering it before routing, dependency injection and response objects costs a
fraction of a routed request (``bench/static.py``).
"""

from __future__ import annotations

import mimetypes
import os
import secrets
import stat
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import anyio.to_thread
import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from leafcube.catalogue.folder import JSON_MAX_AGE

from .head import is_api_path
from .ranges import Unsatisfiable, parse_range

COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
_TYPES = {
    ".tif": COG_TYPE,
    ".tiff": COG_TYPE,
    ".vrt": "application/xml",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".nc": "application/x-netcdf",
}
#: JSON views change on every ingest: revalidate (cheap with ETag); data files rarely do.
CACHE_JSON = f"public, max-age={JSON_MAX_AGE}, must-revalidate"
CACHE_DATA = "public, max-age=604800"
#: Bodies up to this size are read at once; larger ones are streamed in chunks.
CHUNK = 1 << 20
_NOT_FOUND = orjson.dumps({"detail": "no such file in the cube"})
#: The request headers the mirror reads.
_CONDITIONS = frozenset({b"range", b"if-none-match", b"if-modified-since", b"if-range"})


@dataclass
class Answer:
    """What the mirror sends: a status, headers, and a body given whole or as chunks."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: Callable[[], Generator[bytes]] | None = None
    #: the open file ``chunks`` reads, closed once the answer is sent
    fd: int | None = None


@dataclass
class Found:
    """A file the mirror may serve: its resolved path, its status and a descriptor open
    for reading on the very inode that was checked (the caller closes it)."""

    path: str
    st: os.stat_result
    fd: int


def resolve(root: Path, url_path: str) -> Found | None:
    """The regular file inside ``root`` (a resolved path) that ``url_path`` names, or None.

    The path is checked twice: as asked (no hidden or dot segment, no trailing slash: a
    file is not a folder) and once symlinks are resolved (still inside ``root``, and
    still no hidden component, so a link cannot lead into ``.leafcube/``). The kernel
    resolves it once (``O_PATH``, which opens nothing); the file is then read through that
    same descriptor, so no link swapped in after the check can be followed.
    """
    if url_path.endswith("/"):
        return None
    parts = url_path.split("/")
    if any(_hidden(p) for p in parts if p):
        return None
    parts = [p for p in parts if p]
    if not parts:
        return None
    base = str(root)
    try:
        handle = os.open(os.path.join(base, *parts), os.O_PATH | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        real = os.readlink(f"/proc/self/fd/{handle}")
        if not real.startswith(base + os.sep):
            return None
        if any(_hidden(p) for p in real[len(base) + 1 :].split(os.sep)):
            return None
        st = os.fstat(handle)
        if not stat.S_ISREG(st.st_mode):
            return None
        return Found(real, st, os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_CLOEXEC))
    except OSError:
        return None
    finally:
        os.close(handle)


def _hidden(segment: str) -> bool:
    """A path segment never served: hidden or dot-segment, or one with a backslash or NUL."""
    return segment.startswith(".") or "\\" in segment or "\x00" in segment


def content_type(path: str) -> str:
    """The media type a plain web server would send for ``path``."""
    known = _TYPES.get(os.path.splitext(path)[1].lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path)
    return guessed or "application/octet-stream"


def _etag(st: os.stat_result) -> str:
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def etag_matches(header: str, etag: str) -> bool:
    """If-None-Match (weak comparison, RFC 9110 §13.1.2): ``*`` or a listed tag is ``etag``."""
    tags = [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]
    return "*" in tags or etag in tags


def _not_modified(conditions: Mapping[str, str], etag: str, mtime: int) -> bool:
    """RFC 9110 §13.1.2-3: If-None-Match wins; If-Modified-Since only without it."""
    inm = conditions.get("if-none-match")
    if inm is not None:
        return etag_matches(inm, etag)
    ims = conditions.get("if-modified-since")
    if ims is None:
        return False
    try:
        return mtime <= int(parsedate_to_datetime(ims).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return False


def _range_applies(conditions: Mapping[str, str], etag: str, last_modified: str) -> bool:
    """If-Range: ranges apply only while the representation is unchanged (strong match)."""
    cond = conditions.get("if-range")
    if cond is None:
        return True
    cond = cond.strip()
    if cond.startswith('"'):
        return cond == etag
    return cond == last_modified


def _stream(fd: int, first: int, length: int) -> Generator[bytes]:
    pos, end = first, first + length
    while pos < end:
        data = os.pread(fd, min(CHUNK, end - pos), pos)
        if not data:
            return
        pos += len(data)
        yield data


def _body(found: Found, first: int, length: int, headers: dict[str, str], status: int) -> Answer:
    """The bytes ``first`` to ``first + length`` of the file: read now when small (and the
    file closed), streamed otherwise (the answer then owns the descriptor)."""
    headers["content-length"] = str(length)
    if length <= CHUNK:
        try:
            return Answer(status, headers, os.pread(found.fd, length, first))
        finally:
            os.close(found.fd)
    return Answer(status, headers, chunks=lambda: _stream(found.fd, first, length), fd=found.fd)


def not_found(method: str) -> Answer:
    """404, with a JSON body on GET and none on HEAD (GDAL probes side-cars this way)."""
    if method == "HEAD":
        return Answer(404, {"content-length": "0"})
    headers = {"content-type": "application/json", "content-length": str(len(_NOT_FOUND))}
    return Answer(404, headers, _NOT_FOUND)


def answer_file(root: Path, method: str, url_path: str, conditions: Mapping[str, str]) -> Answer:
    """Answer a GET or HEAD for ``url_path`` exactly as a range-capable web server would;
    ``conditions`` holds the request's ``range`` and ``if-*`` headers (lower-case names)."""
    found = resolve(root, url_path)
    if found is None:
        return not_found(method)
    size = found.st.st_size
    etag = _etag(found.st)
    last_modified = formatdate(found.st.st_mtime, usegmt=True)
    ctype = content_type(found.path)
    headers = {
        "accept-ranges": "bytes",
        "etag": etag,
        "last-modified": last_modified,
        "cache-control": CACHE_JSON if found.path.endswith(".json") else CACHE_DATA,
    }
    if _not_modified(conditions, etag, int(found.st.st_mtime)):
        os.close(found.fd)
        return Answer(304, headers)
    if method == "HEAD":
        os.close(found.fd)
        headers["content-type"] = ctype
        headers["content-length"] = str(size)
        return Answer(200, headers)
    header = conditions.get("range")
    ranges = None
    if header is not None and _range_applies(conditions, etag, last_modified):
        try:
            ranges = parse_range(header, size)
        except Unsatisfiable:
            os.close(found.fd)
            headers["content-range"] = f"bytes */{size}"
            headers["content-length"] = "0"
            return Answer(416, headers)
    if ranges is None:
        headers["content-type"] = ctype
        return _body(found, 0, size, headers, 200)
    if len(ranges) == 1:
        first, last = ranges[0]
        headers["content-type"] = ctype
        headers["content-range"] = f"bytes {first}-{last}/{size}"
        return _body(found, first, last - first + 1, headers, 206)
    return _multipart(found, ctype, ranges, headers)


def _multipart(
    found: Found, ctype: str, ranges: list[tuple[int, int]], headers: dict[str, str]
) -> Answer:
    """A ``multipart/byteranges`` answer (RFC 9110 §14.6) for several ranges, streamed from
    the file in ``CHUNK`` pieces off the event loop: its memory is one chunk whatever the
    ranges, and its length is known before the first byte."""
    size = found.st.st_size
    boundary = secrets.token_hex(16)
    heads = [
        f"\r\n--{boundary}\r\ncontent-type: {ctype}\r\n"
        f"content-range: bytes {first}-{last}/{size}\r\n\r\n".encode()
        for first, last in ranges
    ]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = sum(map(len, heads)) + sum(b - a + 1 for a, b in ranges) + len(tail)

    def parts() -> Generator[bytes]:
        for head, (first, last) in zip(heads, ranges, strict=True):
            yield head
            yield from _stream(found.fd, first, last - first + 1)
        yield tail

    headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
    headers["content-length"] = str(length)
    return Answer(206, headers, chunks=parts, fd=found.fd)


async def send_answer(answer: Answer, send: Send) -> None:
    """Send ``answer`` over ASGI; chunks are read on a worker thread, one at a time, and
    the file the answer owns is closed however the sending ends."""
    try:
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [(k.encode(), v.encode("latin-1")) for k, v in answer.headers.items()],
            }
        )
        if answer.chunks is None:
            await send({"type": "http.response.body", "body": answer.body})
            return
        chunks = answer.chunks()
        while (chunk := await anyio.to_thread.run_sync(next, chunks, None)) is not None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        if answer.fd is not None:
            os.close(answer.fd)


class StaticMirror:
    """ASGI middleware: GET and HEAD of every path that is not the API's are answered from
    the cube folder at ``root``; everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp, root: Path) -> None:
        self.app = app
        self.root = root

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method")
        if scope["type"] != "http" or method not in ("GET", "HEAD") or is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        conditions = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope["headers"]
            if k in _CONDITIONS
        }
        await send_answer(answer_file(self.root, method, scope["path"], conditions), send)


#: The mirror in OpenAPI (it answers before FastAPI's routes, so it has none of its own).
OPENAPI_PATH = {
    method: {
        "tags": ["static"],
        "operationId": f"{method}_file",
        "summary": f"{method.upper()} any file of the cube folder, as a plain web server serves it",
        "description": (
            "RFC 9110 byte ranges (single, suffix, multiple as multipart/byteranges, 416), "
            "If-Range, strong ETag, Last-Modified, 304 on If-None-Match/If-Modified-Since. "
            "Hidden paths and anything outside the folder answer 404."
        ),
        "parameters": [
            {
                "name": "path",
                "in": "path",
                "required": True,
                "description": "a path inside the cube",
                "schema": {"type": "string"},
            }
        ],
        "responses": {
            "200": {"description": "the file", "content": {"*/*": {}}},
            "206": {"description": "the ranges asked for", "content": {"*/*": {}}},
            "304": {"description": "not modified"},
            "404": {"description": "no such file in the cube"},
            "416": {"description": "no range asked for lies in the file"},
        },
    }
    for method in ("get", "head")
}
