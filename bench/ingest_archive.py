"""Ingest of a long archive: what a no-op re-run and one new date cost as dates pile up.

LEAF's 500 m daily national products add a date a day for years. This builds synthetic
archives of ``--dates`` daily dates (default 1,000 and 5,000) of tiny exports named as
LEAF names custom windows (``tile1_2010-01-01_2010-01-01_LAI_500m.tif`` and its QC; hard
links of one small pair, so building stays fast), ingests each into a cube, then times
under ``/usr/bin/time`` (wall, CPU, peak RSS of the ``leafcube ingest`` process):

- **no-op**: the same exports again (nothing new);
- **one new date**: the next day's files added;
- **import only**: ``import leafcube.ingest.pipeline`` alone, the floor every run pays
  (Python, GDAL through rasterio, leafcube's ingest modules).

``--before PYTHON`` runs the same with another leafcube install (e.g. git main's venv)
side by side, at the sizes of ``--before-dates`` only (it rescans everything, so it is
slow). Run: ``flock /work/bench.lock nice -n 5 .venv/bin/python bench/ingest_archive.py``.
Needs leafcube and ``/usr/bin/time``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import ingest  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
#: Tiny tiles on the LCC grid LEAF's national products use (500 m pixels).
RES, SIZE, X0, Y0 = 500.0, 32, -2_600_000.0, 3_914_500.0
FIRST = dt.date(2010, 1, 1)


@dataclass
class Run:
    what: str
    dates: int
    leafcube: str
    wall_s: float
    cpu_s: float
    rss_mb: float


def _template(folder: Path) -> dict[str, Path]:
    """One small LAI and QC GeoTIFF (uint8, as LEAF exports them) to hard-link from."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    layers = {"LAI": rng.integers(0, 100, (SIZE, SIZE), dtype=np.uint8)}
    layers["QC"] = np.zeros((SIZE, SIZE), dtype=np.uint8)
    out = {}
    for name, data in layers.items():
        path = folder / f"{name}.tif"
        with rasterio.open(
            path, "w", driver="GTiff", width=SIZE, height=SIZE, count=1, dtype="uint8",
            crs="EPSG:3979", transform=Affine(RES, 0, X0, 0, -RES, Y0),
        ) as dst:  # fmt: skip
            dst.write(data, 1)
        out[name] = path
    return out


def add_dates(exports: Path, template: dict[str, Path], first: int, count: int) -> None:
    """Hard-link the exports of days ``first`` .. ``first + count - 1`` into ``exports``."""
    for i in range(first, first + count):
        day = (FIRST + dt.timedelta(days=i)).isoformat()
        folder = exports / f"tile1_{day[:4]}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, src in template.items():
            os.link(src, folder / f"tile1_{day}_{day}_{name}_500m.tif")


def measure(python: str, what: str, dates: int, exports: Path, cube: Path) -> Run:
    """One ``leafcube ingest`` under ``/usr/bin/time``: wall, user + system, peak RSS."""
    cmd = [python, "-m", "leafcube.cli.main", "ingest", str(exports), "--cube", str(cube)]
    cmd += ["--quiet", "--workers", "2"]
    if what == "import only":  # the floor: Python, GDAL and leafcube's ingest modules loaded
        cmd = [python, "-c", "import leafcube.ingest.pipeline"]
    timed = ingest.measure(cmd)
    label = "main" if python != sys.executable else "this"
    return Run(what, dates, label, timed.wall, timed.cpu, timed.peak_mib)


def archive(python: str, dates: int, work: Path, template: dict[str, Path]) -> list[Run]:
    """Build an archive of ``dates`` days, ingest it, then time a no-op and one new date."""
    exports, cube = work / f"exports-{dates}", work / f"cube-{dates}"
    shutil.rmtree(exports, ignore_errors=True)
    shutil.rmtree(cube, ignore_errors=True)
    add_dates(exports, template, 0, dates)
    runs = [measure(python, "import only", dates, exports, cube)]
    runs.append(measure(python, "first ingest", dates, exports, cube))
    runs.append(measure(python, "no-op", dates, exports, cube))
    add_dates(exports, template, dates, 1)
    runs.append(measure(python, "one new date", dates, exports, cube))
    runs.append(measure(python, "no-op", dates + 1, exports, cube))
    shutil.rmtree(exports)
    shutil.rmtree(cube)
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dates", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--before", help="the python of another leafcube install (git main)")
    ap.add_argument("--before-dates", type=int, nargs="+", default=[1000])
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp one)")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        work = Path(tmp)
        template = _template(work / "template")
        for dates in args.dates:
            if args.before and dates in args.before_dates:
                runs += archive(args.before, dates, work, template)
            runs += archive(sys.executable, dates, work, template)
            done = [asdict(r) for r in runs if r.dates in (dates, dates + 1)]
            print(json.dumps(done), flush=True)
    print(f"{'run':<14}{'dates':>7} {'leafcube':<6}{'wall s':>9}{'cpu s':>8}{'RSS MB':>8}")
    for r in runs:
        print(f"{r.what:<14}{r.dates:>7} {r.leafcube:<6}", end="")
        print(f"{r.wall_s:>9.2f}{r.cpu_s:>8.2f}{r.rss_mb:>8.0f}")
    (OUT / "ingest_archive.json").write_text(json.dumps([asdict(r) for r in runs], indent=2))


if __name__ == "__main__":
    main()
