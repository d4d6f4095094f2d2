"""HTTP/2 over TLS with a self-signed certificate: server and static modes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import certifi
import numpy as np
import pytest

from leafcube.client import Cube
from leafcube.client.http import ssl_context
from tests.conftest import LEAFCUBE, free_port, start_process, stop_process

FIELD = (-107.445, 53.760, -107.405, 53.785)


@pytest.fixture(scope="module")
def tls_url(demo_cube, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc = start_process(
        [*LEAFCUBE, "serve", str(demo_cube), "--host", "127.0.0.1", "--port", str(port)]
        + ["--certfile", str(cert), "--keyfile", str(key)],
        f"https://127.0.0.1:{port}/catalogue.json",
    )
    yield f"https://127.0.0.1:{port}", cert
    stop_process(proc)


def test_server_and_static_over_tls(tls_url, demo_cube, monkeypatch):
    url, cert = tls_url
    with Cube(url) as untrusted, pytest.raises(ValueError, match="certificate"):
        assert untrusted.collections  # not trusted yet
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # httpx
    monkeypatch.setenv("GDAL_CURL_CA_BUNDLE", str(cert))  # GDAL /vsicurl/
    server, static = Cube(url, progress=False), Cube(url, mode="static", progress=False)
    assert server.mode == "server" and static.source.gdal_env() == {"GDAL_HTTP_VERSION": "2TLS"}
    ref = Cube(demo_cube, progress=False).extract(
        "LAI", FIELD, start="2023-06-01", end="2023-08-31"
    )
    for cube in (server, static):
        res = cube.extract("LAI", FIELD, start="2023-06-01", end="2023-08-31")
        assert np.array_equal(res.stack("LAI"), ref.stack("LAI"), equal_nan=True)


def test_the_ca_settings_in_force_are_the_ones_trusted(tmp_path, monkeypatch):
    """SSL_CERT_FILE names the only CA trusted; without it, certifi's bundle."""
    bundle = Path(certifi.where()).read_text()
    first = bundle[: bundle.index("-----END CERTIFICATE-----") + 25] + "\n"
    one = tmp_path / "one-ca.pem"
    one.write_text(first[first.index("-----BEGIN CERTIFICATE-----") :])
    monkeypatch.setenv("SSL_CERT_FILE", str(one))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert len(ssl_context().get_ca_certs()) == 1
    monkeypatch.delenv("SSL_CERT_FILE")
    assert len(ssl_context().get_ca_certs()) > 50
