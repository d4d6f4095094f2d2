"""Ingest benchmark: ``leafcube ingest`` vs ``gdal_translate -of COG``, side by side.

One run makes its own inputs (LEAF-named, GEE-like stripped GeoTIFFs of a smooth,
noisy landscape) and times, with each peer's peak memory (max RSS of the process,
from ``wait4``):

- **one large layer** (20,000 x 20,000 uint8 by default, a QC layer so both write the
  same single-band COG): ``leafcube ingest`` vs ``gdal_translate -of COG`` with GDAL's
  defaults and with leafcube's creation options (ZSTD level 1, 512 px blocks);
- **a masked product** of the same size, as LEAF v2022 exports it (LAI with its
  ``LAI_QC``, the mask from QC alone), next to ``gdal_translate`` of the same LAI without
  a mask (GDAL cannot make one);
- **a current LEAF export** of the same size (``tile42_2024/``: LAI, QC without sensor
  bits and Date as day of year, whose mask needs every layer) against ``gdal_translate``
  of the three files one after another;
- **memory at several sizes** (10,000 and 20,000 a side by default) to show it is flat;
- **a batch** of several files: ``leafcube ingest --workers 2`` vs a sequential
  ``gdal_translate`` loop;
- **compression** choices on one realistic layer (size and time).

Each measurement is repeated (``--repeat``, peers interleaved) and the fastest run is
kept, with its CPU time (user + system): the machine is shared, and CPU time is what
contention disturbs least. Run: ``.venv/bin/python bench/ingest.py`` (``--size``,
``--sizes``, ``--batch N``, ``--batch-size``, ``--repeat``). Needs leafcube, Debian's
``gdal-bin`` and ``/usr/bin/time``.
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.windows import Window

from leafcube.catalogue.qc import encode

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
LEAFCUBE = [sys.executable, "-m", "leafcube.cli.main", "ingest"]
#: Near tile42's upper-left corner, on Earth Engine's lattice (whole multiples of 20 m).
X0, Y0, RES = -1_700_000.0, 1_214_920.0, 20.0
CHUNK = 1024
TIME = "/usr/bin/time"
OURS = ["-co", "COMPRESS=ZSTD", "-co", "LEVEL=1", "-co", "BLOCKSIZE=512"]
LAI = ["-co", "PREDICTOR=YES", "-co", "RESAMPLING=AVERAGE"]  # leafcube's continuous layers


def write_layer(path: Path, size: int, kind: str, seed: int = 0) -> Path:
    """A LEAF-like stripped GeoTIFF (deflate, as Earth Engine exports) written in chunks."""
    rng = np.random.default_rng(seed)
    cell = 97
    coarse = rng.standard_normal((size // cell + 2, size // cell + 2))
    cols = np.arange(size) / cell
    ci = cols.astype(int)
    cf = cols - ci
    profile = dict(
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype="uint16" if kind == "Date" else "uint8",
        crs="EPSG:3979",
        transform=Affine(RES, 0.0, X0, 0.0, -RES, Y0),
        compress="deflate",
        tiled=False,
        blockysize=8,
        BIGTIFF="IF_SAFER",
    )
    with rasterio.open(path, "w", **profile) as dst:
        for r0 in range(0, size, CHUNK):
            n = min(CHUNK, size - r0)
            t = np.arange(r0, r0 + n) / cell
            ri = t.astype(int)
            rf = (t - ri)[:, None]
            rows = coarse[ri] * (1 - rf) + coarse[ri + 1] * rf
            field = rows[:, ci] * (1 - cf) + rows[:, ci + 1] * cf
            cloud = field > 1.0  # the same clouds in every layer of one seed
            if kind == "LAI":
                lai = np.clip(2.5 + 1.5 * field + rng.normal(0, 0.2, field.shape), 0, 12)
                data = np.where(cloud, 0, np.round(lai * 20)).astype(np.uint8)
            elif kind == "Date":  # zero-based day of year in August
                data = np.where(cloud, 0, 212 + rng.integers(0, 31, field.shape))
                data = data.astype(np.uint16)
            else:  # QC: v2022 with sensor codes, current (kind "QC0") without
                sensor = 0 if kind == "QC0" else np.where(rng.random(field.shape) < 0.1, 8, 21)
                flags = rng.random(field.shape) < 0.02
                data = encode(sensor, flags, False, cloud)
            dst.write(data, 1, window=Window(0, r0, size, n))
    return path


@dataclass
class Run:
    """The fastest of several runs of one command."""

    wall: float
    cpu: float
    peak_mib: float


def measure(cmd: list[str]) -> Run:
    """Run ``cmd`` under ``/usr/bin/time``: wall and CPU seconds, peak RSS.

    (``wait4`` from this process would report the Python parent's RSS at fork time.)
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [TIME, "-f", "%U %S %M", "-o", out.name, *cmd],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{cmd[:4]} failed: {proc.stderr.decode()[-500:]}")
        user, system, kb = out.read().split()[-3:]
    return Run(wall, float(user) + float(system), int(kb) / 1024)


def best(runs: list[Run]) -> Run:
    """The fastest run; its peak memory is the largest seen (memory is not noise)."""
    fastest = min(runs, key=lambda r: r.wall)
    return Run(fastest.wall, min(r.cpu for r in runs), max(r.peak_mib for r in runs))


def gdal_cog(src: Path, dst: Path, *options: str) -> list[str]:
    """``gdal_translate -of COG`` with creation options."""
    return ["gdal_translate", "-q", "-of", "COG", *options, str(src), str(dst)]


def bench_single(work: Path, size: int, repeat: int) -> dict[str, Run]:
    """One QC layer (and one masked LAI) of ``size`` a side: leafcube vs gdal_translate."""
    src = work / f"src{size}"
    src.mkdir()
    qc = write_layer(src / "tile42_2022_Aug_LAI_QC_20m.tif", size, "QC", 1)
    lai = write_layer(src / "tile42_2022_Aug_LAI_20m.tif", size, "LAI", 1)
    current = src / "tile42_2024"
    current.mkdir()
    now = [
        write_layer(current / f"tile42_Aug_{kind.rstrip('0')}_20m.tif", size, kind, 1)
        for kind in ("LAI", "QC0", "Date")
    ]
    three = " && ".join(
        " ".join(gdal_cog(f, work / f"n{i}.tif", *OURS, *(LAI if i == 0 else ())))
        for i, f in enumerate(now)
    )
    runs: dict[str, list[Run]] = {}
    for i in range(repeat):
        cube = work / f"cube{size}-{i}"
        for name, cmd in (
            ("leafcube", [*LEAFCUBE, str(qc), "--cube", str(cube), "--quiet"]),
            ("leafcube, LAI + QC mask", [*LEAFCUBE, str(lai), "--cube", str(cube), "--quiet"]),
            ("gdal_translate defaults", gdal_cog(qc, work / "g.tif")),
            ("gdal_translate same options", gdal_cog(qc, work / "g.tif", *OURS)),
            ("gdal_translate, LAI, no mask", gdal_cog(lai, work / "g.tif", *OURS, *LAI)),
            (
                "leafcube, current LAI+QC+Date",
                [*LEAFCUBE, str(current), "--cube", str(cube), "--quiet"],
            ),
            ("gdal_translate, the 3, no mask", ["bash", "-c", three]),
        ):
            runs.setdefault(name, []).append(measure(cmd))
        shutil.rmtree(cube)
    shutil.rmtree(src)
    return {name: best(r) for name, r in runs.items()}


def bench_batch(work: Path, count: int, size: int, repeat: int) -> dict[str, Run]:
    """``count`` layers of ``size`` a side: leafcube --workers 2 vs sequential gdal_translate."""
    src = work / "batch"
    src.mkdir()
    files = [
        write_layer(
            src / f"tile42_2023_{calendar.month_abbr[i % 12 + 1]}_LAI_QC_20m.tif",
            size,
            "QC",
            10 + i,
        )
        for i in range(count)
    ]
    script = " && ".join(
        " ".join(gdal_cog(f, work / f"b{i}.tif", *OURS)) for i, f in enumerate(files)
    )
    runs: dict[str, list[Run]] = {}
    for i in range(repeat):
        cube = work / f"batch-cube-{i}"
        cmd = [*LEAFCUBE, str(src), "--cube", str(cube), "--workers", "2", "--quiet"]
        runs.setdefault("leafcube --workers 2", []).append(measure(cmd))
        runs.setdefault("gdal_translate, one after another", []).append(
            measure(["bash", "-c", script])
        )
        shutil.rmtree(cube)
    return {name: best(r) for name, r in runs.items()}


def bench_compression(work: Path) -> list[dict]:
    """Size and time of each compression choice on one realistic LAI and QC layer."""
    rows = []
    for kind in ("LAI", "QC"):
        src = write_layer(work / f"c_{kind}.tif", 6000, kind, 3)
        for comp, level, pred in (
            ("LZW", None, "NO"),
            ("DEFLATE", "6", "NO"),
            ("DEFLATE", "6", "YES"),
            ("ZSTD", "1", "NO"),
            ("ZSTD", "1", "YES"),
            ("ZSTD", "9", "YES"),
        ):
            opts = {"COMPRESS": comp, "PREDICTOR": pred, "BLOCKSIZE": "512", "NUM_THREADS": "1"}
            if level:
                opts["LEVEL"] = level
            t0 = time.process_time()
            with rasterio.Env(GDAL_CACHEMAX=256 * 2**20):
                rasterio.shutil.copy(str(src), str(work / "c.tif"), driver="COG", **opts)
            rows.append(
                {
                    "layer": kind,
                    "compress": comp,
                    "level": level or "-",
                    "predictor": pred,
                    "cpu_s": round(time.process_time() - t0, 2),
                    "mib": round((work / "c.tif").stat().st_size / 2**20, 2),
                }
            )
    return rows


def _table(title: str, runs: dict[str, Run]) -> None:
    print(f"\n{title}")
    print(f"  {'peer':<34} {'wall s':>7} {'CPU s':>7} {'peak MiB':>9} {'wall vs leafcube':>17}")
    base = next(iter(runs.values())).wall
    for name, r in runs.items():
        print(f"  {name:<34} {r.wall:7.1f} {r.cpu:7.1f} {r.peak_mib:9.0f} {r.wall / base:16.2f}x")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=20_000, help="side of the large layer")
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000], help="more sides (memory)")
    ap.add_argument("--batch", type=int, default=6, help="files in the batch")
    ap.add_argument("--batch-size", type=int, default=6_000, help="side of each batch file")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    args = ap.parse_args()
    if shutil.which("gdal_translate") is None or not Path(TIME).exists():
        sys.exit(
            "bench/ingest.py needs gdal_translate and /usr/bin/time (apt install gdal-bin time)"
        )
    work = Path(tempfile.mkdtemp(prefix="leafcube-bench-ingest-"))
    try:
        sizes = sorted({*args.sizes, args.size})
        single = {s: bench_single(work, s, args.repeat) for s in sizes}
        batch = bench_batch(work, args.batch, args.batch_size, args.repeat)
        comp = bench_compression(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    gdal = subprocess.run(["gdal_translate", "--version"], capture_output=True, text=True)
    print(
        f"{os.cpu_count()} CPUs; system {gdal.stdout.strip()}; "
        f"leafcube's GDAL {rasterio.__gdal_version__}"
    )
    for size, runs in single.items():
        _table(f"one {size:,} x {size:,} uint8 layer (QC; stripped deflate input)", runs)
    _table(f"batch of {args.batch} layers of {args.batch_size:,}²", batch)
    print("\ncompression of a 6,000² layer (one thread)")
    for c in comp:
        print(
            f"  {c['layer']:<4} {c['compress']:<8} level {c['level']:>2} "
            f"predictor {c['predictor']:<3} {c['cpu_s']:6.2f} CPU s {c['mib']:7.2f} MiB"
        )
    OUT.mkdir(exist_ok=True)
    doc = {
        "single": {s: {k: asdict(v) for k, v in r.items()} for s, r in single.items()},
        "batch": {k: asdict(v) for k, v in batch.items()},
        "compression": comp,
    }
    (OUT / "ingest.json").write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
