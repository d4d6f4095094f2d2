"""Deploy fixtures: the nginx + workers stack and a published static site (TLS h2, 127.0.0.1)."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from leafcube.catalogue import load
from tests.conftest import LEAFCUBE, free_port, start_process, stop_process


@dataclass
class Site:
    """A running deployment: its URL, the folder nginx serves, and its rendered config."""

    name: str
    url: str
    root: Path
    out: Path
    proc: subprocess.Popen

    @property
    def cert(self) -> Path:
        return self.out / "tls" / "cert.pem"

    @property
    def collection(self) -> str:
        return next(iter(load(self.root).collections))

    def curl(self, path: str, *args: str) -> subprocess.CompletedProcess:
        """``curl`` over HTTP/2 + TLS, trusting the site's self-signed certificate."""
        cmd = ["curl", "-sS", "--http2", "--cacert", str(self.cert), *args, self.url + path]
        return subprocess.run(cmd, capture_output=True, check=True)

    def gdal_env(self, **extra: str) -> dict[str, str]:
        """Environment for GDAL's CLI: HTTP/2 over TLS (ALPN), the site's CA, no cache.

        GDAL 3.6 (Debian bookworm) ignores ``GDAL_CURL_CA_BUNDLE`` on its first (HEAD)
        request but honours ``SSL_CERT_FILE``; newer GDALs take either.
        """
        return {
            **os.environ,
            "GDAL_HTTP_VERSION": "2TLS",
            "GDAL_CURL_CA_BUNDLE": str(self.cert),
            "SSL_CERT_FILE": str(self.cert),
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
            "CPL_VSIL_CURL_CACHE_SIZE": "0",
            **extra,
        }


def free_ports(n: int) -> int:
    """The first of ``n`` consecutive free ports on 127.0.0.1."""
    for _ in range(50):
        first = free_port()
        try:
            for p in range(first, first + n):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", p))
            return first
        except OSError:
            continue
    raise RuntimeError(f"no {n} consecutive free ports")


def deploy(
    cube: Path, out: Path, *options: str, port: int | None = None, ready: str = "/catalogue.json"
) -> Site:
    """Run ``leafcube deploy nginx … --run`` and wait until it answers ``ready``."""
    port = port or free_port()
    args = [*LEAFCUBE, "deploy", "nginx", "--cube", str(cube), "--port", str(port)]
    args += ["--out", str(out), *options, "--run"]
    url = f"https://127.0.0.1:{port}"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "deploy.log", "wb") as log:
        proc = start_process(args, url + ready, timeout=90, stdout=log, stderr=subprocess.STDOUT)
    return Site("", url, cube, out, proc)


def start_stack(cube: Path, out: Path) -> Site:
    """nginx in front of two local leafcube workers."""
    site = deploy(
        cube, out, "--workers", "2", "--worker-port", str(free_ports(2)), ready="/api/collections"
    )
    site.name = "stack"
    return site


@pytest.fixture(scope="session")
def stack(demo_cube, tmp_path_factory) -> Iterator[Site]:
    """The production-like stack: nginx (TLS, h2, static files) → 2 leafcube workers."""
    site = start_stack(demo_cube, tmp_path_factory.mktemp("stack"))
    yield site
    stop_process(site.proc)


@pytest.fixture(scope="session")
def static_site(demo_cube, tmp_path_factory) -> Iterator[Site]:
    """The cube published with ``leafcube publish`` and served by nginx alone."""
    www = tmp_path_factory.mktemp("www")
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    cmd = [*LEAFCUBE, "publish", "--cube", str(demo_cube), "--base-url", url, "--to", str(www)]
    subprocess.run([*cmd, "--quiet"], check=True, capture_output=True)
    site = deploy(www, tmp_path_factory.mktemp("static-nginx"), "--static-only", port=port)
    site.name = "static"
    yield site
    stop_process(site.proc)


@pytest.fixture(params=["stack", "static_site"])
def site(request) -> Site:
    """Each deployment in turn: the nginx + workers stack, then the plain static site."""
    return request.getfixturevalue(request.param)
