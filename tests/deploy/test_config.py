"""`leafcube deploy nginx` without --run: what it writes, `nginx -t` on it, and its errors."""

from __future__ import annotations

import socket
import subprocess

from tests.conftest import LEAFCUBE


def deploy(*args: str) -> subprocess.CompletedProcess:
    cmd = [*LEAFCUBE, "deploy", "nginx", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def test_api_and_static_configs_pass_nginx_t(demo_cube, tmp_path):
    api = deploy("--cube", str(demo_cube), "--workers", "3", "--worker-port", "9101",
                 "--out", str(tmp_path / "api"))  # fmt: skip
    assert api.returncode == 0, api.stderr
    site = (tmp_path / "api" / "site.conf").read_text()
    for port in (9101, 9102, 9103):
        assert f"server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" in site
    assert "listen 127.0.0.1:8443 ssl http2;" in site
    assert f"root {demo_cube.resolve()};" in site

    static = deploy("--cube", str(demo_cube), "--static-only", "--out", str(tmp_path / "static"))
    assert static.returncode == 0, static.stderr
    site = (tmp_path / "static" / "site.conf").read_text()
    assert "upstream" not in site and "proxy_pass" not in site
    assert "include" in site and "ssl http2" in site
    # nothing refers to system paths: pid, logs and temp files stay in --out
    main = (tmp_path / "static" / "nginx.conf").read_text()
    assert "/var/" not in main and "/run/" not in main and str(tmp_path / "static") in main


def test_self_signed_certificate_is_made_once_for_the_server_name(demo_cube, tmp_path):
    out = tmp_path / "conf"
    args = ("--cube", str(demo_cube), "--server-name", "cube.test", "--out", str(out))
    assert deploy(*args).returncode == 0
    cert = (out / "tls" / "cert.pem").read_bytes()
    assert deploy(*args).returncode == 0
    assert (out / "tls" / "cert.pem").read_bytes() == cert
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(out / "tls/cert.pem")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "DNS:cube.test" in text and "IP Address:127.0.0.1" in text
    assert (out / "tls" / "key.pem").stat().st_mode & 0o077 == 0


def test_errors_are_one_line(demo_cube, tmp_path):
    cube = str(demo_cube)
    cases = {
        ("--cube", str(tmp_path)): "no catalogue",
        ("--cube", cube, "--cert", str(tmp_path / "c.pem")): "both --cert and --key",
        ("--cube", cube, "--cert", "nope.pem", "--key", "nope.key"): "no such file",
        ("--cube", cube, "--workers", "0"): "--workers must be",
        ("--cube", cube, "--nginx", str(tmp_path / "nginx")): "is not an executable",
    }
    for args, message in cases.items():
        out = deploy(*args, "--out", str(tmp_path / "out"))
        assert out.returncode == 2, args
        assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = deploy("--cube", cube, "--port", port, "--out", str(tmp_path / "out"), "--run")
    assert busy.returncode == 2 and f"port {port} on 127.0.0.1 is in use" in busy.stderr
    exclusive = deploy("--cube", cube, "--workers", "3", "--static-only", "--out", str(tmp_path))
    assert exclusive.returncode == 2 and "not allowed with" in exclusive.stderr
