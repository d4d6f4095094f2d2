"""Shared fixtures: the demo cube, a real server and a plain nginx, all on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

LEAFCUBE = [sys.executable, "-m", "leafcube.cli.main"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def demo_exports(tmp_path_factory) -> Path:
    """The demo's synthetic LEAF exports (GeoTIFFs named as LEAF names them)."""
    from leafcube.ingest.demo import make_exports

    return make_exports(tmp_path_factory.mktemp("exports"))


@pytest.fixture(scope="session")
def demo_cube(demo_exports, tmp_path_factory) -> Path:
    """A cube ingested from the demo exports; tests must treat it as read-only."""
    from leafcube.ingest.pipeline import ingest

    cube = tmp_path_factory.mktemp("cube")
    ingest([demo_exports], cube, workers=2, progress=False)
    return cube


def opened(trace: Path) -> list[str]:
    """The paths a process traced by ``strace -e trace=openat -o TRACE`` opened (the calls
    that succeeded)."""
    out = []
    for line in trace.read_text().splitlines():
        if "openat(" in line and '"' in line and "= -1" not in line:
            out.append(line.split('"')[1])
    return out


def start_process(args: list[str], ready_url: str, timeout: float = 60.0, **kw):
    """Start a server process in its own session and wait until ``ready_url`` answers."""
    proc = subprocess.Popen(args, start_new_session=True, **kw)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{args[:4]} exited with {proc.returncode}")
        try:
            if httpx.get(ready_url, timeout=1, verify=False).status_code < 500:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError(f"{args[:4]} did not answer {ready_url} within {timeout}s")


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a process started by :func:`start_process` and all its children."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def server_url(demo_cube) -> Iterator[str]:
    """A real ``leafcube serve`` of the demo cube on 127.0.0.1 (h2c and HTTP/1.1)."""
    port = free_port()
    proc = start_process(
        [*LEAFCUBE, "serve", str(demo_cube), "--host", "127.0.0.1", "--port", str(port)],
        f"http://127.0.0.1:{port}/catalogue.json",
    )
    yield f"http://127.0.0.1:{port}"
    stop_process(proc)


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

NGINX_CONF = """\
{user}
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ application/json json; image/tiff tif; application/xml vrt; }}
    server {{
        listen 127.0.0.1:{port};
        {site}
    }}
}}
"""
#: What the server block of :data:`NGINX_CONF` does: serve a folder, or proxy a server.
STATIC_SITE = "root {root}; location / {{ }}"
PROXY_SITE = (
    "location / {{ proxy_pass http://127.0.0.1:{upstream}; proxy_http_version 1.1; "
    "proxy_set_header Host $http_host; }}"
)


#: What :func:`start_nginx` asks until nginx answers: logs can tell its lines apart.
READY_PATH = "/catalogue.json?ready"


def start_nginx(
    root: Path, tmp: Path, upstream: int | None = None, port: int | None = None
) -> tuple[subprocess.Popen, str]:
    """Serve ``root`` with a minimal nginx (ranges, HEAD, 404s) on ``port`` (a free one by
    default) of 127.0.0.1, or, given an ``upstream`` port, proxy the server there
    (logging what crosses)."""
    port = port or free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    site = PROXY_SITE.format(upstream=upstream) if upstream else STATIC_SITE.format(root=root)
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port, site=site))
    proc = start_process(
        [NGINX, "-p", str(tmp), "-c", str(conf)], f"http://127.0.0.1:{port}{READY_PATH}"
    )
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def nginx_url(demo_cube, tmp_path_factory) -> Iterator[str]:
    """The demo cube on a plain nginx: the static mode's web server."""
    proc, url = start_nginx(demo_cube, tmp_path_factory.mktemp("nginx"))
    yield url
    stop_process(proc)
