"""The cron example: its crontab is well formed and its script ingests, then publishes."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson

from leafcube.catalogue import load

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "cron" / "leafcube-update.sh"


def test_crontab_runs_the_script_with_every_setting():
    lines = [ln for ln in (ROOT / "deploy/cron/leafcube.cron").read_text().splitlines() if ln]
    settings = dict(ln.split("=", 1) for ln in lines if not ln.startswith("#") and "=" in ln)
    jobs = [ln.split() for ln in lines if ln[0].isdigit() or ln[0] == "*"]
    assert len(jobs) == 1 and len(jobs[0]) >= 7  # 5 time fields, a user, the command
    assert jobs[0][6].endswith("deploy/cron/leafcube-update.sh")
    required = {"LEAF_EXPORTS", "LEAFCUBE_CUBE", "LEAFCUBE_WWW", "LEAFCUBE_BASE_URL"}
    assert required <= set(settings)
    assert os.access(SCRIPT, os.X_OK)
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0


def run_script(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT)], env={**os.environ, **env}, capture_output=True, text=True, check=False
    )


def test_script_ingests_then_publishes(demo_cube, demo_exports, tmp_path):
    cube = tmp_path / "cube"
    shutil.copytree(demo_cube, cube)  # with its ledger: the exports are already in
    env = {
        "LEAF_EXPORTS": str(demo_exports),
        "LEAFCUBE_CUBE": str(cube),
        "LEAFCUBE_WWW": str(tmp_path / "www"),
        "LEAFCUBE_BASE_URL": "https://data.example.org/leaf",
        "LEAFCUBE": str(Path(sys.executable).with_name("leafcube")),
        "LEAFCUBE_LOCK": str(tmp_path / "update.lock"),
    }
    first = run_script(env)
    assert first.returncode == 0, first.stderr
    assert "ingest" in first.stdout and "publish" in first.stdout
    assert load(tmp_path / "www").collections.keys() == load(cube).collections.keys()
    assert "0 COG(s) written" in first.stderr

    again = run_script(env)
    assert again.returncode == 0 and "is up to date" in again.stdout

    trusting = run_script({**env, "LEAFCUBE_INGEST_OPTIONS": "--workers 2 --trust-folder-times"})
    assert trusting.returncode == 0 and "0 COG(s) written" in trusting.stderr
    (index,) = (cube / ".leafcube" / "sources").glob("*/index.json")
    assert all("ctime" in d for d in orjson.loads(index.read_bytes())["dirs"].values())
    bad = run_script({**env, "LEAFCUBE_INGEST_OPTIONS": "--no-such-option"})
    assert bad.returncode != 0 and "--no-such-option" in bad.stderr
    assert "is up to date" in bad.stdout  # publish still runs

    with open(tmp_path / "update.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        skipped = run_script(env)
    assert skipped.returncode == 0 and "still going; skipping" in skipped.stdout

    missing = run_script({k: v for k, v in env.items() if k != "LEAFCUBE_WWW"})
    assert missing.returncode != 0 and "LEAFCUBE_WWW" in missing.stderr
