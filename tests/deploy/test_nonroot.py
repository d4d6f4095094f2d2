"""The rendered nginx configuration needs no root: nginx runs on it as a plain user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from leafcube.deploy.nginx import nginx_command
from tests.conftest import LEAFCUBE, free_port, start_process, stop_process
from tests.deploy.conftest import publish_to


def uid_of(pid: int) -> int:
    """The real uid of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def test_nginx_runs_as_an_unprivileged_user(demo_cube):
    # as root, drop to `nobody`; anyone else already is a plain user
    root = os.geteuid() == 0
    user = pwd.getpwnam("nobody") if root else pwd.getpwuid(os.geteuid())
    run_as = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
    base = Path(tempfile.mkdtemp(prefix="leafcube-nonroot-"))
    try:
        base.chmod(0o755)  # the published folder must be readable by that user
        www, out, port = base / "www", base / "nginx", free_port()
        publish_to(demo_cube, www, f"https://127.0.0.1:{port}")
        cmd = [*LEAFCUBE, "deploy", "nginx", "--cube", str(www), "--static-only"]
        subprocess.run([*cmd, "--port", str(port), "--out", str(out)], check=True)
        for path in (out, *out.rglob("*")):
            os.chown(path, user.pw_uid, user.pw_gid)
        proc = start_process(
            [*(run_as if root else []), *nginx_command(out / "nginx.conf")],
            f"https://127.0.0.1:{port}/catalogue.json",
        )
        try:
            assert uid_of(int((out / "nginx.pid").read_text())) == user.pw_uid
            got = subprocess.run(
                ["curl", "-sS", "--http2", "--cacert", str(out / "tls/cert.pem"), "-o", "/dev/null",
                 "-w", "%{http_version} %{http_code}", f"https://127.0.0.1:{port}/catalogue.json"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            assert got == "2 200"
            assert (out / "logs" / "access.log").stat().st_size > 0  # its own logs, not /var/log
        finally:
            stop_process(proc)
    finally:
        shutil.rmtree(base)
