"""Item 3 of issue 13: no file outside the cube (nor its private ``.leafcube/``) leaves the
server — through the nginx configuration, `leafcube publish` (to a folder or over rsync)
or `leafcube serve` — whatever symlinks the cube folder holds.

Before the fix, nginx (running as root here) served /etc/shadow through a link to /etc,
publish copied what out-of-cube links point to, and `leafcube serve` served a link
into ``.leafcube/``.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import LEAFCUBE, stop_process
from tests.deploy.conftest import Site, deploy, start_stack
from tests.hardening.conftest import TRAPS, start_worker
from tests.server.conftest import SECRET

BASE = "https://data.example.org/leaf"
FAKE_SSH = '#!/bin/sh\nshift\nexec "$@"\n'  # rsync's "remote" shell: the remote side runs here


def secrets_of(cube: Path) -> list[bytes]:
    """Contents that must never be sent: the planted secret, and files behind /etc."""
    shadow = Path("/etc/shadow").read_bytes() if os.access("/etc/shadow", os.R_OK) else b""
    ledger = min((cube / ".leafcube" / "ledger").rglob("*.json")).read_bytes()[:64]
    return [s for s in (SECRET, Path("/etc/passwd").read_bytes()[:64], shadow[:64], ledger) if s]


def assert_nothing_leaks(client: httpx.Client, cube: Path) -> None:
    """Every trap is a 404 whose body holds none of the secrets; the cube itself is served."""
    for path in TRAPS:
        for method in ("GET", "HEAD"):
            r = client.request(method, path)
            assert r.status_code == 404, f"{method} {path}: {r.status_code}"
            assert not any(s in r.content for s in secrets_of(cube)), path
    assert client.get("/catalogue.json").content == (cube / "catalogue.json").read_bytes()


@pytest.fixture(scope="module", params=["static", "stack"])
def nginx_site(request, trap_cube, tmp_path_factory) -> Iterator[Site]:
    """The real nginx of `leafcube deploy nginx` over the trap cube: alone, then with workers."""
    out = tmp_path_factory.mktemp(f"nginx-{request.param}")
    if request.param == "static":
        site = deploy(trap_cube, out, "--static-only")
    else:
        site = start_stack(trap_cube, out)
    yield site
    stop_process(site.proc)


def tls_client(site: Site) -> httpx.Client:
    """HTTP/2 over TLS, trusting the site's self-signed certificate."""
    ctx = ssl.create_default_context(cafile=str(site.cert))
    return httpx.Client(base_url=site.url, verify=ctx, http2=True, timeout=30)


def test_nginx_follows_no_symlink(nginx_site, trap_cube):
    assert os.path.islink(trap_cube / "etc") and (trap_cube / "etc" / "passwd").is_file()
    with tls_client(nginx_site) as client:
        assert_nothing_leaks(client, trap_cube)
        assert client.get("/alias.json").status_code == 404  # no symlink at all, even within
        # item 10's edges, on nginx too: a trailing slash after a file, an empty range set
        assert client.get("/catalogue.json/").status_code == 404
        r = client.get("/catalogue.json", headers={"range": "bytes="})
        assert r.status_code == 200 and r.content == (trap_cube / "catalogue.json").read_bytes()


def test_leafcube_serve_resolves_then_checks(trap_cube):
    worker = start_worker(trap_cube)
    try:
        with httpx.Client(base_url=worker.url, timeout=30) as client:
            assert_nothing_leaks(client, trap_cube)
            # a link within the cube to a visible file is that file, as before
            alias = client.get("/alias.json")
            assert alias.status_code == 200
            assert alias.content == (trap_cube / "catalogue.json").read_bytes()
    finally:
        stop_process(worker.proc)


@pytest.fixture(scope="module")
def fake_ssh(tmp_path_factory) -> str:
    """A remote shell for rsync that runs the "remote" rsync on this machine."""
    script = tmp_path_factory.mktemp("ssh") / "ssh"
    script.write_text(FAKE_SSH)
    script.chmod(0o755)
    return str(script)


def publish(cube: Path, to: str, fake_ssh: str) -> subprocess.CompletedProcess:
    """``leafcube publish`` of ``cube`` to a folder or ``host:folder`` (bounded in time)."""
    cmd = [*LEAFCUBE, "publish", "--cube", str(cube), "--base-url", BASE, "--to", to, "--quiet"]
    env = {**os.environ, "RSYNC_RSH": fake_ssh}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)


def destination(tmp_path: Path, mode: str) -> tuple[Path, str]:
    """The publish target as a folder and as the ``--to`` argument for ``mode``."""
    www = tmp_path / "www"
    return www, (f"localhost:{www}" if mode == "rsync" else str(www))


@pytest.mark.parametrize("mode", ["folder", "rsync"])
def test_publish_refuses_links_out_of_the_cube(trap_cube, fake_ssh, tmp_path, mode):
    www, to = destination(tmp_path, mode)
    out = publish(trap_cube, to, fake_ssh)
    assert out.returncode == 2, out.stderr
    assert "symlinks that lead out of the cube" in out.stderr and "Traceback" not in out.stderr
    for link in ("leak.txt", "leakdir", "etc", "state.txt", "state"):
        assert f"{link} -> " in out.stderr
    published = [p for p in www.rglob("*") if p.is_file()] if www.exists() else []
    assert published == []  # refused before anything was copied


@pytest.mark.parametrize("mode", ["folder", "rsync"])
def test_publish_copies_links_within_the_cube_as_files(demo_cube, fake_ssh, tmp_path, mode):
    cube = tmp_path / "cube"
    shutil.copytree(demo_cube, cube, symlinks=True)
    (cube / "alias.json").symlink_to("catalogue.json")
    www, to = destination(tmp_path, mode)
    out = publish(cube, to, fake_ssh)
    assert out.returncode == 0, out.stderr
    assert not (www / "alias.json").is_symlink()
    assert (www / "alias.json").read_bytes() == (cube / "catalogue.json").read_bytes()
    assert not [p for p in www.rglob("*") if p.is_symlink()]
