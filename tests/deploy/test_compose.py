"""docker-compose.yml and its Dockerfile, checked without docker (none runs here).

The compose file parses; everything it builds, mounts or runs exists; and its nginx
service renders, with `leafcube deploy nginx`, the same configuration the loopback
stack runs, which `nginx -t` accepts.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from leafcube.cli.main import build_parser
from leafcube.deploy.nginx import CONF_FILES
from tests.conftest import LEAFCUBE

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
_VAR = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` forms."""

    def one(m: re.Match) -> str:
        name, op, arg = m.groups()
        if env.get(name):
            return env[name]
        if op == "?":
            raise ValueError(arg)
        return arg or ""

    return _VAR.sub(one, text)


@pytest.fixture
def compose(demo_exports) -> dict:
    return yaml.safe_load(interpolate(COMPOSE.read_text(), {"LEAF_EXPORTS": str(demo_exports)}))


def test_compose_parses_and_needs_the_exports_folder():
    with pytest.raises(ValueError, match="LEAF_EXPORTS"):
        interpolate(COMPOSE.read_text(), {})
    doc = yaml.safe_load(COMPOSE.read_text())
    assert set(doc["services"]) == {"ingest", "worker", "nginx"}
    assert doc["services"]["ingest"]["restart"] == "no"  # one-shot
    # scaled with --scale: no fixed container name, no published port on workers
    assert "container_name" not in doc["services"]["worker"]
    assert "ports" not in doc["services"]["worker"]


def test_everything_it_builds_mounts_and_runs_exists(compose):
    named = set(compose["volumes"])
    for name, svc in compose["services"].items():
        build = svc["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).is_file(), name
        for volume in svc.get("volumes", []):
            source, target = volume.split(":")[:2]
            assert target.startswith("/")
            assert source in named or Path(source).is_dir(), f"{name}: {source}"
        argv = svc["command"]
        assert argv[0] == "leafcube"
        build_parser(argv[1:]).parse_args(argv[1:])  # a real sub-command with valid options
        for dep in svc.get("depends_on", {}):
            assert dep in compose["services"]
    cube_mounts = {v for s in compose["services"].values() for v in s["volumes"] if "/cube" in v}
    assert cube_mounts == {"cube:/cube", "cube:/cube:ro"}  # one shared volume, read-only to readers


def test_dockerfile_copies_every_package_and_installs_debian_nginx():
    dockerfile = (ROOT / "deploy" / "docker" / "Dockerfile").read_text()
    assert re.search(r"^FROM \S+bookworm\b", dockerfile, re.M)
    assert "nginx-light" in dockerfile and "openssl" in dockerfile
    copied = set()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            sources = line.split()[1:-1]
            for src in sources:
                assert (ROOT / src).exists(), src
                copied.add(src.rstrip("/"))
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = set(pyproject["tool"]["setuptools"]["package-dir"].values())
    assert folders <= copied, f"not copied into the image: {folders - copied}"
    # the image serves: it installs the server extra, not the client-only base
    assert re.search(r"pip install .*/src\[server\]", dockerfile)


def test_nginx_service_renders_the_loopback_config(compose, stack, demo_cube, tmp_path):
    argv = list(compose["services"]["nginx"]["command"][1:])
    assert argv[-1] == "--run"
    argv = argv[:-1]  # render and `nginx -t` only
    swap = {"/cube": str(demo_cube), "/home/leafcube/nginx": str(tmp_path / "nginx")}
    argv = [swap.get(a, a) for a in argv]
    # the container resolves `worker` to every worker; here a name that resolves
    argv[argv.index("--upstream") + 1] = "localhost:8000"
    argv[argv.index("--port") + 1] = "18443"
    out = subprocess.run([*LEAFCUBE, *argv], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr  # includes `nginx -t`
    rendered = tmp_path / "nginx"
    assert set(CONF_FILES) <= {p.name for p in rendered.iterdir()}
    for name in ("cube.conf", "maps.conf", "tls.conf"):
        mine = (rendered / name).read_text().replace(str(rendered), "OUT")
        theirs = (stack.out / name).read_text().replace(str(stack.out), "OUT")
        assert mine == theirs, name
    site = (rendered / "site.conf").read_text()
    assert "listen 0.0.0.0:18443 ssl http2;" in site
    assert "server localhost:8000 max_fails=1 fail_timeout=5s;" in site
    assert "proxy_next_upstream error timeout http_502 http_503 http_504;" in site
    differs = {"listen", "server", "server_name", "root", "include"}
    loop = (stack.out / "site.conf").read_text()

    def shape(text: str) -> list[str]:
        return [ln for ln in text.splitlines() if ln.split()[:1] and ln.split()[0] not in differs]

    assert shape(site) == shape(loop)
