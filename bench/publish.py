"""Publishing a cube, first into an empty folder (every view rendered for a new
``--base-url``) and then again (the no-op re-run): before vs after.

The cube is ``bench/catalogue.py``'s cached daily cube of ``--dates`` dates (built there
with ``--build-only`` if missing). Each peer runs ``leafcube publish`` into an empty
folder of its own, then the same command again, each in a fresh process under
``/usr/bin/time``: **before** is the code of ``--before``, **after** this checkout.
Reported: wall and CPU seconds, peak RSS and its ratio, for both runs; the two
destinations' views are checked byte-identical.
Run: ``.venv/bin/python bench/publish.py [--dates 1000 10000] [--before REV]``; results
also in ``bench/out/publish.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.timeseries import before_tree  # noqa: E402

OUT = HERE / "out"
WORK = OUT / "publish"
#: The commit before publish walked the cube with ``os.scandir`` and plain strings
#: (516bd2f: before it rendered its views a year at a time).
BEFORE = "c09788b"
BASE = "https://leaf.example.org/cube"
VIEWS = ("stac", "gomez")


def cube_of(dates: int) -> Path:
    """``bench/catalogue.py``'s cube of ``dates`` dates, built if not cached."""
    cube = OUT / f"catalogue-{dates}" / "cube"
    if not (cube / "catalogue.json").is_file():
        cmd = [sys.executable, str(HERE / "catalogue.py"), "--sizes", str(dates), "--build-only"]
        subprocess.run(cmd, check=True)
    return cube


def publish(peer: str, cube: Path, dest: Path) -> dict[str, float]:
    """One publish of ``cube`` into ``dest`` by ``peer`` (a PYTHONPATH tree, or "" for this
    checkout): wall and CPU seconds, peak RSS in MB."""
    env = {**os.environ, "PYTHONPATH": peer} if peer else dict(os.environ)
    cmd = ["/usr/bin/time", "-f", "%e %U %S %M", sys.executable, "-m", "leafcube.cli.main"]
    cmd += ["publish", "--cube", str(cube), "--to", str(dest), "--base-url", BASE, "--quiet"]
    done = subprocess.run(cmd, env=env, cwd="/", capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"publish failed: {done.stderr[-800:]}")
    wall, user, system, kb = done.stderr.strip().splitlines()[-1].split()
    return {"wall_s": float(wall), "cpu_s": float(user) + float(system), "rss_mb": int(kb) / 1024}


def view_bytes(dest: Path) -> dict[str, bytes]:
    """Every view file under ``dest``, by path."""
    return {
        str(p.relative_to(dest)): p.read_bytes()
        for top in VIEWS
        for p in (dest / top).rglob("*")
        if p.is_file()
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dates", type=int, nargs="+", default=[1000], help="cube sizes")
    ap.add_argument("--before", default=BEFORE, help="git revision of the 'before' peer")
    args = ap.parse_args(argv)
    peers = {"before": str(before_tree(args.before, WORK)), "after": ""}
    rows = []
    for dates in args.dates:
        cube = cube_of(dates)
        got: dict[str, dict[str, dict[str, float]]] = {}
        for name, tree in peers.items():
            dest = WORK / f"{name}-{dates}"
            shutil.rmtree(dest, ignore_errors=True)
            got[name] = {"first": publish(tree, cube, dest), "noop": publish(tree, cube, dest)}
        views = [view_bytes(WORK / f"{name}-{dates}") for name in peers]
        if views[0] != views[1]:
            raise SystemExit(f"{dates} dates: the peers' views differ")
        for name in peers:
            shutil.rmtree(WORK / f"{name}-{dates}")
        rows.append({"dates": dates, "views": len(views[1]), **got})
        for run in ("first", "noop"):
            b, a = got["before"][run], got["after"][run]
            print(
                f"{dates:>7} dates, {len(views[1])} views (identical), {run}: "
                f"wall {b['wall_s']:.1f} → {a['wall_s']:.1f} s, "
                f"CPU {b['cpu_s']:.1f} → {a['cpu_s']:.1f} s, "
                f"peak RSS {b['rss_mb']:.0f} → {a['rss_mb']:.0f} MB "
                f"({a['rss_mb'] / b['rss_mb']:.2f}×)",
                flush=True,
            )
    (OUT / "publish.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
