"""A disk that fills up during an ingest: one clear line and exit status 2 (no traceback),
what landed is kept, and once there is room the same command finishes the job and leaves
no temporary file behind. Run on a real small file system: a tmpfs in a private mount
namespace (``unshare``), so no privilege is needed."""

from __future__ import annotations

import subprocess

from tests.conftest import LEAFCUBE

SCRIPT = """
set -u
mount -t tmpfs -o size=6m tmpfs "$1"
ingest() {{ {leafcube} ingest "$2" --cube "$1/cube" --quiet; echo "rc=$?"; }}
ingest "$1" "$2"
mount -o remount,size=300m tmpfs "$1"
ingest "$1" "$2"
echo "left=$(find "$1/cube/.leafcube/tmp" -type f | wc -l)"
echo "catalogue=$(test -f "$1/cube/catalogue.json" && echo yes)"
"""


def test_a_full_disk_stops_cleanly_and_the_rerun_finishes(demo_exports, tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    script = SCRIPT.format(leafcube=" ".join(LEAFCUBE))
    done = subprocess.run(
        ["unshare", "-Urm", "sh", "-c", script, "sh", str(mnt), str(demo_exports)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    out, err = done.stdout.splitlines(), done.stderr
    assert out[0] == "rc=2", (out, err[-2000:])
    assert "Traceback" not in err
    assert "no space left where the cube is written" in err and "run the same command" in err
    assert out[1] == "rc=0", err[-2000:]
    summary = [ln for ln in err.splitlines() if "COG(s) written" in ln][-1]
    kept = int(summary.split(" written, ")[1].split(" unchanged")[0])
    assert kept > 0, summary  # what the first run wrote was not written again
    assert out[2] == "left=0" and out[3] == "catalogue=yes"
