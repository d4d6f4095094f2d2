"""Property-based fuzzing of every documented operation with all of schemathesis's
checks: no 5xx, every status and body as documented, valid requests accepted.

Requests valid by the schema may still name data the cube does not hold (a date range
with no date, an ROI off the grid, over the pixel budget): those are the 400, 404, 413
and 416 that ``positive_data_acceptance`` is told to expect. STAC search's body may not
hold both ``bbox`` and ``intersects`` (STAC API's rule, which its JSON Schema cannot say):
422 there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_openapi_fuzz_all_checks(served, tmp_path, start_server):
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
        "[checks.positive_data_acceptance]\n"
        'expected-statuses = ["2XX", "304", "400", "404", "413", "416"]\n'
        "[[operations]]\n"
        'include-path = "/api/stac/search"\n'
        'include-method = "POST"\n'
        "[operations.checks.positive_data_acceptance]\n"
        'expected-statuses = ["2XX", "400", "422"]\n'
    )
    cli = Path(sys.executable).with_name("schemathesis")
    out = subprocess.run(
        [
            str(cli),
            "--config-file",
            str(config),
            "run",
            f"{small.url}/openapi.json",
            *("--checks", "all"),
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
