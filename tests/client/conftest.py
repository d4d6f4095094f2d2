"""Client fixtures: the demo cube behind a real nginx (a plain static web server)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port, start_process, stop_process

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
        root {root};
        location / {{ }}
    }}
}}
"""


def start_nginx(root: Path, tmp: Path) -> tuple[subprocess.Popen, str]:
    """Serve ``root`` with a minimal nginx (ranges, HEAD, 404s) on a free 127.0.0.1 port."""
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port, root=root))
    proc = start_process(
        [NGINX, "-p", str(tmp), "-c", str(conf)], f"http://127.0.0.1:{port}/catalogue.json"
    )
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def nginx_url(demo_cube, tmp_path_factory) -> Iterator[str]:
    """The demo cube on a plain nginx: the static mode's web server."""
    proc, url = start_nginx(demo_cube, tmp_path_factory.mktemp("nginx"))
    yield url
    stop_process(proc)
