"""Property-based fuzzing of every documented operation: no input may cause a 5xx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_openapi_fuzz_has_no_server_errors(served, tmp_path):
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        f'"path.collection" = "{served.collection}"\n'
        '"path.layer" = "LAI"\n'
        '"path.date" = "2023-05-01"\n'
        '"path.tms_id" = "WebMercatorQuad"\n'
        '"query.layers" = "LAI"\n'
    )
    cli = Path(sys.executable).with_name("schemathesis")
    out = subprocess.run(
        [
            str(cli),
            "--config-file",
            str(config),
            "run",
            f"{served.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "60",
            "--max-time",
            "90",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout[-4000:]
    assert "passed" in out.stdout
