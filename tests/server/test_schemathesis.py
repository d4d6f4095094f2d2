"""Property-based fuzzing of every documented operation: no input may cause a 5xx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_openapi_fuzz_has_no_server_errors(served, tmp_path, start_server):
    # a 1 MB pixel budget keeps random ROIs cheap, so the run covers more inputs in its time
    small = start_server(served.cube, "--max-request-mb", "1")
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
            f"{small.url}/openapi.json",
            "--checks",
            "not_a_server_error",
            *("--max-examples", "5", "--seed", "1", "--generation-database", "none"),
            *("--phases", "examples,coverage,fuzzing", "--max-time", "40"),
            *("--request-timeout", "60"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stdout[-4000:]
    assert "passed" in out.stdout
