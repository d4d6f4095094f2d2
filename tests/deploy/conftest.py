"""Deploy fixtures: nginx + workers, and the published cube on nginx and Apache (TLS h2)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from leafcube.catalogue import load
from leafcube.deploy.tls import self_signed
from tests.conftest import LEAFCUBE, free_port, start_process, stop_process

ROOT = Path(__file__).resolve().parents[2]


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


def publish_to(cube: Path, www: Path, url: str) -> None:
    """``leafcube publish`` the cube into ``www`` for readers at ``url``."""
    cmd = [*LEAFCUBE, "publish", "--cube", str(cube), "--base-url", url, "--to", str(www)]
    subprocess.run([*cmd, "--quiet"], check=True, capture_output=True)


@pytest.fixture(scope="session")
def static_site(demo_cube, tmp_path_factory) -> Iterator[Site]:
    """The cube published with ``leafcube publish`` and served by nginx alone."""
    www = tmp_path_factory.mktemp("www")
    port = free_port()
    publish_to(demo_cube, www, f"https://127.0.0.1:{port}")
    site = deploy(www, tmp_path_factory.mktemp("static-nginx"), "--static-only", port=port)
    site.name = "static"
    yield site
    stop_process(site.proc)


APACHE_MODULES = ("mpm_event", "authz_core", "mime", "alias", "filter", "deflate", "headers",
                  "socache_shmcb", "ssl", "http2")  # fmt: skip
APACHE_MAIN = """
ServerName localhost
Listen 127.0.0.1:{port}
PidFile {out}/apache.pid
DefaultRuntimeDir {out}
ErrorLog {out}/logs/error.log
LogFormat "%h %l %u %t \\"%r\\" %>s %b \\"%{{Referer}}i\\" \\"%{{User-Agent}}i\\"" combined
CustomLog {out}/logs/access.log combined
User www-data
Group www-data
TypesConfig /dev/null
SSLSessionCache shmcb:{out}/ssl_scache(512000)
{modules}
"""


def apache_binary() -> str:
    """Debian's Apache httpd, installed when missing (the recipe's second web server)."""
    found = shutil.which("apache2") or shutil.which("apache2", path="/usr/sbin")
    if not found:
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "apache2"]
        subprocess.run(cmd, check=True, capture_output=True)
        found = shutil.which("apache2", path="/usr/sbin")
    return found


@pytest.fixture(scope="session")
def apache_site(demo_cube, tmp_path_factory) -> Iterator[Site]:
    """The published cube served by Apache with deploy/static/apache-leafcube.conf as is."""
    base = Path(tempfile.mkdtemp(prefix="leafcube-apache-"))
    base.chmod(0o755)  # Apache's workers run unprivileged: the folder must be world-readable
    www, out, port = base / "www", tmp_path_factory.mktemp("apache"), free_port()
    url = f"https://127.0.0.1:{port}"
    publish_to(demo_cube, www, url)
    cert, key = self_signed(out / "tls", ["localhost"])
    (out / "logs").mkdir()
    vhost = (ROOT / "deploy" / "static" / "apache-leafcube.conf").read_text()
    site_values = {
        "*:443": f"127.0.0.1:{port}",
        "/var/www/leaf": str(www),
        "/etc/letsencrypt/live/leaf.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/leaf.example.org/privkey.pem": str(key),
    }
    for old, new in site_values.items():
        assert old in vhost
        vhost = vhost.replace(old, new)
    modules = "\n".join(
        f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so" for m in APACHE_MODULES
    )
    conf = out / "httpd.conf"
    conf.write_text(APACHE_MAIN.format(port=port, out=out, modules=modules) + vhost)
    proc = start_process(
        [apache_binary(), "-f", str(conf), "-DFOREGROUND"], url + "/catalogue.json"
    )
    yield Site("apache", url, www, out, proc)
    stop_process(proc)
    shutil.rmtree(base)


@pytest.fixture(params=["stack", "static_site", "apache_site"])
def site(request) -> Site:
    """Each deployment in turn: nginx + workers, then the published cube on nginx and Apache."""
    return request.getfixturevalue(request.param)
