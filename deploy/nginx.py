"""Render leafcube's nginx configuration from the templates shipped in the package.

One renderer serves every deployment — the loopback tests, `leafcube deploy nginx`,
and the docker-compose stack — so the configuration they run is the same text.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from leafcube.deploy import DeployError

#: Rendered files, in the order nginx reads them.
CONF_FILES = ("nginx.conf", "site.conf", "maps.conf", "tls.conf", "cube.conf")

_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


@dataclass(frozen=True)
class Site:
    """What an nginx front for one cube needs to know."""

    cube: Path
    cert: Path
    key: Path
    listen: str = "127.0.0.1:8443"
    upstreams: tuple[str, ...] = ()
    server_name: str = "_"
    access_log: str = "logs/access.log"

    @property
    def static_only(self) -> bool:
        """No API workers: the cube is served as plain files."""
        return not self.upstreams


def template(name: str) -> str:
    """The text of one template in ``leafcube/deploy/templates/nginx``."""
    return files("leafcube.deploy").joinpath("templates", "nginx", name).read_text()


def fill(text: str, values: dict[str, str]) -> str:
    """Replace every ``${name}`` in ``text``; an unknown name is a bug, so it raises."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def user_line(cube: Path) -> str:
    """The ``user`` directive: only meaningful when nginx starts as root.

    Started by root, nginx's workers would run as ``nobody`` and could not read a cube
    in a private folder; they run as the cube folder's owner instead.
    """
    if os.geteuid() != 0:
        return "# not started as root: nginx workers run as the current user"
    owner = pwd.getpwuid(cube.stat().st_uid).pw_name
    return f"user {owner};"


def upstream_lines(upstreams: tuple[str, ...]) -> str:
    """``server`` lines of the upstream block; a failed worker is skipped for 5 s."""
    return "\n".join(f"    server {u} max_fails=1 fail_timeout=5s;" for u in upstreams)


def render(site: Site, out: Path) -> Path:
    """Write the configuration for ``site`` into ``out``; returns the main ``nginx.conf``.

    ``out`` also becomes nginx's prefix: logs and temp folders are created there.
    """
    out = out.resolve()
    for sub in ("logs", "tmp"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    access_log = site.access_log
    if access_log not in ("off", "/dev/stdout") and not os.path.isabs(access_log):
        access_log = str(out / access_log)
    values = {
        "prefix": str(out),
        "conf_dir": str(out),
        "user_line": user_line(site.cube),
        "access_log": access_log if access_log == "off" else f"{access_log} combined",
        "listen": site.listen,
        "server_name": site.server_name,
        "cert": str(site.cert.resolve()),
        "key": str(site.key.resolve()),
        "cube": str(site.cube.resolve()),
        "upstream_servers": upstream_lines(site.upstreams),
    }
    sources = {
        "nginx.conf": "nginx.conf",
        "site.conf": "static-site.conf" if site.static_only else "api-site.conf",
        "maps.conf": "maps.conf",
        "tls.conf": "tls.conf",
        "cube.conf": "cube.conf",
    }
    for target, source in sources.items():
        (out / target).write_text(fill(template(source), values))
    return out / "nginx.conf"


def nginx_binary(path: str | None = None) -> str:
    """The nginx executable: ``path``, else ``nginx`` on PATH, else Debian's /usr/sbin/nginx."""
    if path:
        if not shutil.which(path):
            raise DeployError(f"--nginx {path} is not an executable")
        return path
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise DeployError("nginx not found: install it (Debian: apt-get install nginx-light)")
    return found


def nginx_command(conf: Path, nginx: str | None = None) -> list[str]:
    """The command line that runs nginx in the foreground on a rendered configuration."""
    return [nginx_binary(nginx), "-e", "stderr", "-p", str(conf.parent), "-c", str(conf)]


def check(conf: Path, nginx: str | None = None) -> None:
    """Run ``nginx -t`` on a rendered configuration; raise with nginx's own message if invalid."""
    result = subprocess.run(
        [*nginx_command(conf, nginx), "-t", "-q"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise DeployError(f"nginx rejects {conf}: {result.stderr.strip()}")
