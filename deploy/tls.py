"""A self-signed TLS certificate for a local or test stack, made with the ``openssl`` command."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path

from leafcube.deploy import DeployError


def _san(names: list[str]) -> str:
    """``subjectAltName`` value: IP entries for addresses, DNS entries for names."""
    entries = []
    for name in dict.fromkeys(names):
        try:
            ipaddress.ip_address(name)
            entries.append(f"IP:{name}")
        except ValueError:
            entries.append(f"DNS:{name}")
    return ",".join(entries)


def self_signed(folder: Path, names: list[str], days: int = 825) -> tuple[Path, Path]:
    """Return ``(cert.pem, key.pem)`` in ``folder``, creating them once (an EC P-256 key).

    The certificate is its own CA, so clients trust it by pointing at ``cert.pem``
    (``curl --cacert``, ``GDAL_CURL_CA_BUNDLE``, ``httpx.Client(verify=...)``).
    """
    cert, key = folder / "cert.pem", folder / "key.pem"
    if cert.exists() and key.exists():
        return cert, key
    openssl = shutil.which("openssl")
    if not openssl:
        raise DeployError("openssl not found: install it, or pass --cert and --key")
    folder.mkdir(parents=True, exist_ok=True)
    names = [*names, "localhost", "127.0.0.1"]
    cmd = [
        openssl, "req", "-x509", "-nodes", "-newkey", "ec",
        "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-keyout", str(key), "-out", str(cert), "-days", str(days),
        "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={_san(names)}",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DeployError(f"openssl could not make a certificate: {result.stderr.strip()}")
    key.chmod(0o600)
    return cert, key
