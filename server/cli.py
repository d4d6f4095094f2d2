"""``leafcube serve CUBE_DIR``: run the app under granian (h2c + HTTP/1.1, or h2 over TLS)."""

from __future__ import annotations

import argparse
import os
import resource
import socket
from pathlib import Path

from .config import (
    DEFAULT_MAX_READS,
    DEFAULT_MAX_REQUEST_MB,
    DEFAULT_READ_DEADLINE_S,
    Settings,
)

APP = "leafcube.server.app:create_app"
#: GDAL block cache per worker (MB) unless GDAL_CACHEMAX is set: warm tiles need far less.
#: Not more: freed 512 KB blocks fragment glibc's heap, and a 256 MB cache held ~1.7 GB
#: where 128 MB holds ~0.9 GB (bench/soak.py, docs/benchmarks.md).
GDAL_CACHE_MB = 128
#: Milliseconds an HTTP/1.1 client has to send its request's headers.
HEADER_TIMEOUT_MS = 10_000
#: Concurrent streams of one HTTP/2 connection, as nginx's ``http2_max_concurrent_streams``.
MAX_STREAMS = 128
#: Requests a worker takes at once (granian's backpressure; its default is 1,024): each
#: waiting one costs a few kB, and slow clients must not fill the worker before the
#: body timeout of :mod:`.transport` drops them.
MAX_REQUESTS = 8_192


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``leafcube serve``."""
    p = subparsers.add_parser(
        "serve",
        help="serve a cube over HTTP/2",
        description=(
            "Serve a cube folder: its files (byte ranges), tiles, WMTS, subsets and time "
            "series. HTTP/2 (prior knowledge) and HTTP/1.1 share the plain port; with "
            "--certfile/--keyfile it serves h2 over TLS (ALPN) instead."
        ),
    )
    p.add_argument("cube", type=Path, metavar="CUBE_DIR", help="folder made by `leafcube ingest`")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--certfile", type=Path, help="TLS certificate (PEM) for https and h2")
    p.add_argument("--keyfile", type=Path, help="TLS private key (PEM)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--max-request-mb",
        type=float,
        default=DEFAULT_MAX_REQUEST_MB,
        help=f"pixel budget of one subset or time series, MB of float32 "
        f"(default {DEFAULT_MAX_REQUEST_MB:g}, Earth Engine's)",
    )
    p.add_argument(
        "--max-reads",
        type=int,
        default=DEFAULT_MAX_READS,
        help=f"(layer, date) pairs one subset or time series may read "
        f"(default {DEFAULT_MAX_READS:,}); more is a 413",
    )
    p.add_argument(
        "--read-deadline",
        type=float,
        default=DEFAULT_READ_DEADLINE_S,
        metavar="SECONDS",
        help=f"seconds a request's reads may take, queued behind others included "
        f"(default {DEFAULT_READ_DEADLINE_S:g}); then a 503 with Retry-After",
    )
    p.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    if not args.cube.is_dir():
        raise FileNotFoundError(f"{args.cube} is not a folder (make one with `leafcube ingest`)")
    if (args.certfile is None) != (args.keyfile is None):
        raise ValueError("give both --certfile and --keyfile, or neither")
    for f in (args.certfile, args.keyfile):
        if f is not None and not f.is_file():
            raise FileNotFoundError(f"{f} does not exist")
    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
    if not 0 < args.port < 65536:
        raise ValueError("--port must be 1-65535")
    if args.max_request_mb <= 0:
        raise ValueError("--max-request-mb must be positive")
    if args.max_reads < 1:
        raise ValueError("--max-reads must be at least 1")
    if not 0 < args.read_deadline < float("inf"):
        raise ValueError("--read-deadline must be a positive number of seconds")
    try:
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as exc:
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None


def _lift_open_files_limit() -> None:
    """Each worker keeps hundreds of COGs open (read and tile threads): lift the soft
    open-files limit to the hard one (capped at 65,536), as nginx's workers do."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 65_536 if hard == resource.RLIM_INFINITY else min(hard, 65_536)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def run(args: argparse.Namespace) -> int:
    """Check the arguments, then serve until interrupted."""
    _check(args)
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings, HTTP2Settings
    from granian.log import LogLevels
    from granian.server import Server

    settings = Settings(
        args.cube.resolve(),
        int(args.max_request_mb * 1e6),
        args.max_reads,
        args.read_deadline,
    )
    os.environ.update(settings.to_env())
    # GDAL's block cache defaults to 5 % of RAM per process; bound it per worker
    os.environ.setdefault("GDAL_CACHEMAX", str(GDAL_CACHE_MB))
    _lift_open_files_limit()
    tls = args.certfile is not None
    scheme = "https" if tls else "http"
    print(f"leafcube: serving {settings.cube_dir} on {scheme}://{args.host}:{args.port}/")
    Server(
        APP,
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        http=HTTPModes.auto,
        factory=True,
        ssl_cert=args.certfile.resolve() if tls else None,
        ssl_key=args.keyfile.resolve() if tls else None,
        log_level=LogLevels.warning,
        http1_settings=HTTP1Settings(header_read_timeout=HEADER_TIMEOUT_MS),
        # nginx's stream limit; pings find peers that are gone (a dead peer holds streams)
        http2_settings=HTTP2Settings(
            max_concurrent_streams=MAX_STREAMS, keep_alive_interval=30_000, keep_alive_timeout=20
        ),
        backpressure=MAX_REQUESTS,
        # a worker that dies (killed, out of memory) is replaced, the others serve meanwhile
        respawn_failed_workers=True,
        respawn_interval=0.5,
    ).serve()
    return 0
