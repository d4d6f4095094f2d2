"""The static mirror: every file of the cube folder at its relative path, as a plain web
server would serve it (RFC 9110 ranges, validators and conditional requests).

Only regular files inside the folder are reachable: dot-segments, hidden names (the
private ``.leafcube/``), a trailing slash after a file, and symlinks that lead out of the
folder or into a hidden part of it all answer 404.
"""

from __future__ import annotations

import mimetypes
import os
import secrets
import stat
from collections.abc import Iterator
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from .ranges import Unsatisfiable, parse_range
from .responses import JSONResponse

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
CACHE_JSON = "public, max-age=60, must-revalidate"
CACHE_DATA = "public, max-age=604800"
#: Bodies up to this size are read at once; larger ones are streamed in chunks.
CHUNK = 1 << 20


def _not_found(request: Request) -> Response:
    """404, with a JSON body on GET and none on HEAD (GDAL probes side-cars this way)."""
    if request.method == "HEAD":
        return Response(status_code=404)
    return JSONResponse({"detail": "no such file in the cube"}, status_code=404)


def resolve(root: Path, url_path: str) -> tuple[Path, os.stat_result] | None:
    """The regular file inside ``root`` that ``url_path`` names, or None.

    The path is checked twice: as asked (no hidden or dot segment, no trailing slash: a
    file is not a folder) and once symlinks are resolved (still inside ``root``, and
    still no hidden component, so a link cannot lead into ``.leafcube/``).
    """
    if url_path.endswith("/"):
        return None
    parts = url_path.split("/")
    if any(_hidden(p) for p in parts if p):
        return None
    parts = [p for p in parts if p]
    if not parts:
        return None
    base = os.path.realpath(root)
    real = os.path.realpath(os.path.join(base, *parts))
    if not real.startswith(base + os.sep):
        return None
    if any(_hidden(p) for p in Path(real[len(base) + 1 :]).parts):
        return None
    try:
        st = os.stat(real)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return Path(real), st


def _hidden(segment: str) -> bool:
    """A path segment never served: hidden or dot-segment, or one with a backslash or NUL."""
    return segment.startswith(".") or "\\" in segment or "\x00" in segment


def content_type(path: Path) -> str:
    """The media type a plain web server would send for ``path``."""
    known = _TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def _etag(st: os.stat_result) -> str:
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"'


def etag_matches(header: str, etag: str) -> bool:
    """If-None-Match (weak comparison, RFC 9110 §13.1.2): ``*`` or a listed tag is ``etag``."""
    tags = [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]
    return "*" in tags or etag in tags


def _not_modified(request: Request, etag: str, mtime: int) -> bool:
    """RFC 9110 §13.1.2-3: If-None-Match wins; If-Modified-Since only without it."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        return etag_matches(inm, etag)
    ims = request.headers.get("if-modified-since")
    if ims is None:
        return False
    try:
        return mtime <= int(parsedate_to_datetime(ims).timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):
        return False


def _range_applies(request: Request, etag: str, last_modified: str) -> bool:
    """If-Range: ranges apply only while the representation is unchanged (strong match)."""
    cond = request.headers.get("if-range")
    if cond is None:
        return True
    cond = cond.strip()
    if cond.startswith('"'):
        return cond == etag
    return cond == last_modified


def _read(path: Path, first: int, length: int) -> bytes:
    with open(path, "rb") as fh:
        return os.pread(fh.fileno(), length, first)


def _stream(path: Path, first: int, length: int) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        pos, end = first, first + length
        while pos < end:
            data = os.pread(fh.fileno(), min(CHUNK, end - pos), pos)
            if not data:
                return
            pos += len(data)
            yield data


def _body(path: Path, first: int, length: int, headers: dict[str, str], status: int) -> Response:
    headers["content-length"] = str(length)
    if length <= CHUNK:
        return Response(_read(path, first, length), status_code=status, headers=headers)
    return StreamingResponse(_stream(path, first, length), status_code=status, headers=headers)


def serve_file(request: Request, root: Path, url_path: str) -> Response:
    """Answer a GET or HEAD for ``url_path`` exactly as a range-capable web server would."""
    found = resolve(root, url_path)
    if found is None:
        return _not_found(request)
    path, st = found
    size = st.st_size
    etag = _etag(st)
    last_modified = formatdate(st.st_mtime, usegmt=True)
    ctype = content_type(path)
    headers = {
        "accept-ranges": "bytes",
        "etag": etag,
        "last-modified": last_modified,
        "cache-control": CACHE_JSON if path.suffix == ".json" else CACHE_DATA,
    }
    if _not_modified(request, etag, int(st.st_mtime)):
        return Response(status_code=304, headers=headers)
    head = request.method == "HEAD"
    header = request.headers.get("range")
    ranges = None
    if header is not None and not head and _range_applies(request, etag, last_modified):
        try:
            ranges = parse_range(header, size)
        except Unsatisfiable:
            headers["content-range"] = f"bytes */{size}"
            return Response(status_code=416, headers=headers)
    if head:
        headers["content-type"] = ctype
        headers["content-length"] = str(size)
        return Response(status_code=200, headers=headers)
    if ranges is None:
        headers["content-type"] = ctype
        return _body(path, 0, size, headers, 200)
    if len(ranges) == 1:
        first, last = ranges[0]
        headers["content-type"] = ctype
        headers["content-range"] = f"bytes {first}-{last}/{size}"
        return _body(path, first, last - first + 1, headers, 206)
    return _multipart(path, size, ctype, ranges, headers)


def _multipart(
    path: Path, size: int, ctype: str, ranges: list[tuple[int, int]], headers: dict[str, str]
) -> Response:
    """A ``multipart/byteranges`` answer (RFC 9110 §14.6) for several ranges, streamed from
    the file in ``CHUNK`` pieces off the event loop: its memory is one chunk whatever the
    ranges, and its length is known before the first byte."""
    boundary = secrets.token_hex(16)
    heads = [
        f"\r\n--{boundary}\r\ncontent-type: {ctype}\r\n"
        f"content-range: bytes {first}-{last}/{size}\r\n\r\n".encode()
        for first, last in ranges
    ]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = sum(map(len, heads)) + sum(b - a + 1 for a, b in ranges) + len(tail)

    def parts() -> Iterator[bytes]:
        for head, (first, last) in zip(heads, ranges, strict=True):
            yield head
            yield from _stream(path, first, last - first + 1)
        yield tail

    headers["content-type"] = f"multipart/byteranges; boundary={boundary}"
    headers["content-length"] = str(length)
    return StreamingResponse(parts(), status_code=206, headers=headers)
