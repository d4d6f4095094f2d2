"""Catalogue at scale (issue 15): cubes of 120 to 100,000 daily dates, what a reader and an
ingest pay for their size, beside the figures of format 1.0 (every date in catalogue.json).

Each size is a daily 500 m collection (one-day custom windows, so monthly parts) of one
tile, every layer of a current LEAF export
(``tile42_2000/tile42_2000-01-01_2000-01-01_LAI_500m.tif`` …, 64² px, masked = 0, no
nodata, as Earth Engine writes them). Only :data:`DISTINCT` dates
are written; the others are hard links of them under their own names. The cube is built by
``leafcube ingest`` itself, with one shortcut: a COG whose sources are the same inodes as an
already written COG's is hard-linked from it instead of encoded again (the bytes would be
identical: a COG holds no date), so 100,000 dates do not cost 700,000 encodings. Cubes are
cached in ``bench/out/catalogue/`` and reused by later runs.

Measured per size, each client run cold in a fresh process, median of ``--repeat``:

- root ``catalogue.json`` size, the parts' count and largest size, STAC bytes and files;
- ``Cube(url)`` + a 1-date extract of the newest date (LAI, 16² px) in local mode (the
  folder), static mode (a minimal nginx) and server mode (``leafcube serve``);
- the server's time to ready and RSS (process tree) after ready and after the extracts;
- on a hard-linked copy of the cube: ``leafcube ingest`` of every export plus one new date
  (wall, peak RSS from ``/usr/bin/time``), then the same run again (the no-op re-run);
  on another copy, the new date's folder alone (a producer's monthly run), then again;
  on a third, the first two with ``--trust-folder-times`` (after one unmeasured run
  with it over the exports records the folders' times).
  ``--skip-ingest`` leaves these out.

Run: ``flock /work/bench.lock nice -n 5 .venv/bin/python bench/catalogue.py --sizes 120 1000
[--repeat 3] [--build-only] [--skip-ingest] [--out DIR]``; results also go to
``OUT/catalogue.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.httpload import tree_rss_mb  # noqa: E402
from bench.ingest import LEAFCUBE, Run, measure  # noqa: E402
from bench.lazy import free_port  # noqa: E402
from leafcube.catalogue import load_root  # noqa: E402
from leafcube.catalogue.query import date_count  # noqa: E402
from leafcube.ingest import pipeline  # noqa: E402
from leafcube.ingest.cog import Job, Written  # noqa: E402
from leafcube.ingest.demo import current_layers, landscape  # noqa: E402
from leafcube.ingest.mask import MaskFiles  # noqa: E402
from tests.conftest import start_nginx, start_process, stop_process  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
SIZES = (120, 1_000, 10_000, 100_000)
#: Dates whose exports are written; every other date hard-links one of them (12 demo
#: months, so an inode has at most 100,000 / 12 links, under ext4's 65,000).
DISTINCT = 12
FIRST = dt.date(2000, 1, 1)
TILE, RES, SIDE = "tile42", 500.0, 64
#: Top-left corner on the 500 m lattice (whole multiples of the scale, as Earth Engine).
X0, Y0 = -806_000.0, 615_000.0
LAYERS = ("LAI", "fCOVER", "fAPAR", "Albedo", "QC", "Date", "Partition")
#: What a producer passing the whole download folder may add (docs/ingest.md).
TRUST = "--trust-folder-times"
COLLECTION = "leaf-500m-custom"
#: 16 x 16 px in the middle of the square (EPSG:3979), on the lattice.
BBOX = (X0 + 24 * RES, Y0 - 40 * RES, X0 + 40 * RES, Y0 - 24 * RES)
MODES = ("local", "static", "server")
#: Issue 15's figures of format 1.0, before the partitioned catalogue (2 tiles, 14 layers).
BEFORE: dict[int, dict[str, str]] = {
    120: {"root": "0.95 MB", "stac": "2.2 MB, 124 files", "open": "0.22", "ready": "0.95"},
    1_000: {"root": "7.8 MB", "stac": "18 MB, 1,004 files", "open": "1.43", "ready": "1.1"},
    10_000: {
        "root": "77.5 MB",
        "stac": "181 MB, 10,005 files",
        "open": "14.8",
        "ready": "2.5",
        "ingest": "48 (~1 GB)",
        "noop": "30 (~1 GB)",
    },
}

PEER = r"""
import json, sys, time
import numpy as np
url, mode, day, x0, y0, x1, y1 = sys.argv[1:]
from leafcube.client import Cube
t0, c0 = time.perf_counter(), time.process_time()
cube = Cube(url, mode, progress=False)
cube.collections
t_open = time.perf_counter() - t0
res = cube.extract("LAI", tuple(map(float, (x0, y0, x1, y1))), start=day, end=day,
                   roi_crs="EPSG:3979")
t_total, cpu = time.perf_counter() - t0, time.process_time() - c0
a = res.stack("LAI")
cube.close()
print(json.dumps({"open": t_open, "total": t_total, "cpu": cpu, "dates": len(res.dates),
                  "valid": int(np.isfinite(a).sum()), "sum": float(np.nansum(a))}))
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def day(i: int) -> dt.date:
    return FIRST + dt.timedelta(days=i)


def write_tif(path: Path, data: np.ndarray) -> None:
    """One layer as Earth Engine exports it: deflate GeoTIFF, no nodata, on the lattice."""
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=SIDE,
        height=SIDE,
        count=1,
        dtype=data.dtype,
        crs="EPSG:3979",
        transform=Affine(RES, 0.0, X0, 0.0, -RES, Y0),
        compress="deflate",
    ) as dst:
        dst.write(data, 1)


def export_path(folder: Path, i: int, layer: str) -> Path:
    """LEAF's current name of a one-day window's layer, in its tile-and-year Drive folder."""
    d = day(i)
    return folder / f"{TILE}_{d.year}" / f"{TILE}_{d}_{d}_{layer}_500m.tif"


def write_date(folder: Path, i: int) -> None:
    """Every layer of date ``i``: a demo month's current export, sampled to 64² px."""
    layers = current_layers(2024, i % DISTINCT + 1)
    layers["Partition"] = landscape().cover
    for name in LAYERS:
        path = export_path(folder, i, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_tif(path, np.ascontiguousarray(layers[name][: 9 * SIDE : 9, : 9 * SIDE : 9]))


def write_exports(folder: Path, dates: int) -> None:
    """Exports of ``dates`` days from :data:`FIRST`: the first :data:`DISTINCT` written,
    the rest hard links of them."""
    for i in range(dates):
        if i < DISTINCT:
            write_date(folder, i)
            continue
        for name in LAYERS:
            dst = export_path(folder, i, name)
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.link(export_path(folder, i % DISTINCT, name), dst)


@contextlib.contextmanager
def linked_duplicates() -> Iterator[None]:
    """Within ``leafcube ingest``: a COG whose sources are the inodes of one already written
    is hard-linked from it (the same bytes), and the ledger is saved every minute, not
    every 2 s (a 700,000-record ledger takes seconds to write)."""
    built: dict[tuple, Written] = {}
    lock = threading.Lock()
    real, every = pipeline.build_cog, pipeline.SAVE_EVERY_S

    def build(job: Job, cube: Path, masks: MaskFiles) -> Written:
        key = (job.spec.name, *(os.stat(p).st_ino for p in job.sources))
        with lock:
            done = built.get(key)
        if done is None:
            written = real(job, cube, masks)
            with lock:
                built[key] = written
            return written
        target = cube / job.href
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        os.link(cube / done.href, target)
        return Written(job.href, done.bbox, done.shape, done.source)

    pipeline.build_cog, pipeline.SAVE_EVERY_S = build, 60.0
    try:
        yield
    finally:
        pipeline.build_cog, pipeline.SAVE_EVERY_S = real, every


def build(out: Path, dates: int) -> Path:
    """The cached folder of a size (``exports/``, ``new/`` with the next day, ``cube/``)."""
    root = out / f"catalogue-{dates}"
    if (root / "built.json").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    log(f"{dates:,} dates: writing exports")
    t0 = time.perf_counter()
    write_exports(root / "exports", dates)
    write_date(root / "new", dates)
    log(f"{dates:,} dates: ingest")
    t1 = time.perf_counter()
    with linked_duplicates():
        report = pipeline.ingest([root / "exports"], root / "cube", workers=2, progress=False)
    if not report.ok:
        raise RuntimeError(f"ingest failed: {report.failures[:3]}")
    t2 = time.perf_counter()
    doc = {"exports_s": round(t1 - t0, 1), "ingest_s": round(t2 - t1, 1)}
    (root / "built.json").write_text(json.dumps(doc))
    log(f"{dates:,} dates: built in {t2 - t0:.0f} s")
    return root


def folder_size(folder: Path) -> tuple[int, int]:
    """Bytes and files under ``folder``."""
    sizes = [p.stat().st_size for p in folder.rglob("*") if p.is_file()]
    return sum(sizes), len(sizes)


@dataclass
class Row:
    """The figures of one size."""

    dates: int
    build_s: float
    root_bytes: int
    parts: int
    largest_part_bytes: int
    parts_bytes: int
    stac_bytes: int
    stac_files: int
    open_s: dict[str, float]
    total_s: dict[str, float]
    cpu_s: dict[str, float]
    server_ready_s: float
    server_rss_ready_mb: float
    server_rss_after_mb: float
    ingest: IngestRuns | None
    pixels: int
    lai_sum: float


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process and its descendants so far."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            todo += map(int, Path(f"/proc/{p}/task/{p}/children").read_text().split())
        except (OSError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def peer(url: str, mode: str, newest: str, server: int | None) -> dict:
    """One cold ``Cube(url)`` + 1-date extract in a fresh process; its CPU seconds include
    the ``server`` process tree's during the run."""
    cmd = [sys.executable, "-c", PEER, url, mode, newest, *map(str, BBOX)]
    before = tree_cpu_s(server) if server else 0.0
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} extract failed: {done.stderr[-800:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["cpu"] += tree_cpu_s(server) - before if server else 0.0
    return out


def extracts(
    url: str, mode: str, newest: str, repeat: int, server: int | None = None
) -> list[dict]:
    """``repeat`` cold runs of one mode, checked to find one date with data."""
    runs = [peer(url, mode, newest, server) for _ in range(repeat)]
    for r in runs:
        if r["dates"] != 1 or r["valid"] == 0:
            raise RuntimeError(f"{mode}: expected one date with data, got {r}")
    return runs


def measure_size(out: Path, dates: int, repeat: int, with_ingest: bool = True) -> Row:
    """Every figure of one size (the cube built or taken from the cache); the ingest runs
    unless ``with_ingest`` is False."""
    root = build(out, dates)
    cube = root / "cube"
    built = json.loads((root / "built.json").read_text())
    coll = load_root(cube).collections[COLLECTION]
    parts = [cube / ref.href for ref in coll.parts.values()]
    stac = folder_size(cube / "stac")
    newest = day(dates - 1).isoformat()
    runs: dict[str, list[dict]] = {"local": extracts(str(cube), "local", newest, repeat)}
    with tempfile.TemporaryDirectory(prefix="leafcube-bench-catalogue-") as tmp:
        proc, url = start_nginx(cube, Path(tmp))
        try:
            runs["static"] = extracts(url, "static", newest, repeat)
        finally:
            stop_process(proc)
    port = free_port()
    t0 = time.perf_counter()
    proc = start_process(
        [*LEAFCUBE[:-1], "serve", str(cube), "--host", "127.0.0.1", "--port", str(port)],
        f"http://127.0.0.1:{port}/catalogue.json",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = time.perf_counter() - t0
        rss_ready = tree_rss_mb(proc.pid)
        api = f"http://127.0.0.1:{port}"
        runs["server"] = extracts(api, "server", newest, repeat, proc.pid)
        rss_after = tree_rss_mb(proc.pid)
    finally:
        stop_process(proc)
    answers = {(r["valid"], round(r["sum"], 3)) for rs in runs.values() for r in rs}
    if len(answers) != 1:
        raise RuntimeError(f"the modes disagree: {answers}")
    ((pixels, lai_sum),) = answers
    return Row(
        dates=dates,
        build_s=built["exports_s"] + built["ingest_s"],
        root_bytes=(cube / "catalogue.json").stat().st_size,
        parts=len(parts),
        largest_part_bytes=max(p.stat().st_size for p in parts),
        parts_bytes=sum(p.stat().st_size for p in parts),
        stac_bytes=stac[0],
        stac_files=stac[1],
        open_s={m: statistics.median(r["open"] for r in runs[m]) for m in MODES},
        total_s={m: statistics.median(r["total"] for r in runs[m]) for m in MODES},
        cpu_s={m: statistics.median(r["cpu"] for r in runs[m]) for m in MODES},
        server_ready_s=ready,
        server_rss_ready_mb=rss_ready,
        server_rss_after_mb=rss_after,
        ingest=ingest_runs(root) if with_ingest else None,
        pixels=pixels,
        lai_sum=lai_sum,
    )


@dataclass
class IngestRuns:
    """The ingest figures of one size: the whole archive listed plus the new day, the same
    run again (the no-op), the new day's folder alone (a producer's monthly run), again,
    and the first two with ``--trust-folder-times``."""

    whole: Run
    noop: Run
    alone: Run
    alone_noop: Run
    trusted: Run
    trusted_noop: Run
    dates_after: int


def ingest_runs(root: Path) -> IngestRuns:
    """On hard-linked copies of the cube (ingest replaces files by rename, so the cached
    cube stays as it was), each first brought to this leafcube's state by an unmeasured
    no-op run (an earlier leafcube's whole-folder source state is split then), and for
    the trusting runs then by one with ``--trust-folder-times``, which records the
    folders' times."""
    runs = []
    exports, new = str(root / "exports"), str(root / "new")
    for sources, trust in (([exports, new], []), ([new], []), ([exports, new], [TRUST])):
        scratch = root / "scratch"
        shutil.rmtree(scratch, ignore_errors=True)
        subprocess.run(["cp", "-al", str(root / "cube"), str(scratch)], check=True)
        try:
            for settle in ([], trust) if trust else ([],):
                cmd = [*LEAFCUBE, exports, "--cube", str(scratch), "--quiet", *settle]
                subprocess.run(cmd, check=True, capture_output=True)
            cmd = [*LEAFCUBE, *sources, "--cube", str(scratch), "--quiet", *trust]
            runs += [measure(cmd), measure(cmd)]
            after = date_count(load_root(scratch).collections[COLLECTION])
        finally:
            shutil.rmtree(scratch)
    return IngestRuns(*runs, dates_after=after)


def mb(n: float) -> str:
    """Bytes as kB below 1 MB, else MB."""
    if n < 1e6:
        return f"{n / 1e3:.1f} kB"
    return f"{n / 1e6:.2f} MB" if n < 1e7 else f"{n / 1e6:.0f} MB"


def run(r: Run) -> str:
    """An ingest run as wall / CPU seconds (peak MB): CPU is what load disturbs least."""
    return f"{r.wall:.1f} / {r.cpu:.1f} ({r.peak_mib:.0f})"


def runs(r: IngestRuns | None) -> str:
    """The four ingest cells of a row."""
    if r is None:
        return " | ".join(["not run"] * 6)
    cells = (r.whole, r.noop, r.alone, r.alone_noop, r.trusted, r.trusted_noop)
    return " | ".join(run(x) for x in cells)


def table(rows: Iterable[Row]) -> str:
    """The markdown table: this run's figures, and issue 15's before them."""
    head = (
        "| dates | | root catalogue.json | parts (largest) | STAC | `Cube(url)` s, local / "
        "static / server | `Cube(url)` + 1-date extract s | its CPU s (+ server's) | server "
        "ready s | server RSS ready → after extract MB | ingest of every export + 1 new date s, "
        "wall / CPU (peak MB) | its no-op re-run | ingest of the new date's folder alone | its "
        "no-op re-run | every export + 1 new date, `--trust-folder-times` | its no-op re-run |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        before = BEFORE.get(r.dates)
        if before:
            lines.append(
                f"| {r.dates:,} | format 1.0 | {before['root']} | – | {before['stac']} | "
                f"{before['open']} | – | – | {before['ready']} | – | "
                f"{before.get('ingest', '–')} | {before.get('noop', '–')} | – | – | – | – |"
            )
        opened = " / ".join(f"{r.open_s[m]:.2f}" for m in MODES)
        total = " / ".join(f"{r.total_s[m]:.2f}" for m in MODES)
        cpu = " / ".join(f"{r.cpu_s[m]:.2f}" for m in MODES)
        lines.append(
            f"| {r.dates:,} | this run | {mb(r.root_bytes)} | {r.parts:,} "
            f"({mb(r.largest_part_bytes)}) | {mb(r.stac_bytes)}, {r.stac_files:,} files | "
            f"{opened} | {total} | {cpu} | {r.server_ready_s:.2f} | {r.server_rss_ready_mb:.0f} → "
            f"{r.server_rss_after_mb:.0f} | {runs(r.ingest)} |"
        )
    return head + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[120, 1_000], help=f"of {SIZES}")
    ap.add_argument("--repeat", type=int, default=3, help="cold client runs per mode")
    ap.add_argument("--build-only", action="store_true", help="build (or reuse) the cubes")
    ap.add_argument(
        "--skip-ingest", action="store_true", help="no ingest runs (minutes from 10,000 dates)"
    )
    ap.add_argument("--out", type=Path, default=OUT, help="where cubes and results go")
    args = ap.parse_args(argv)
    if min(args.sizes) < 1 or args.repeat < 1:
        ap.error("--sizes and --repeat must be positive")
    if not Path("/usr/bin/time").exists():
        sys.exit("bench/catalogue.py needs /usr/bin/time (apt install time)")
    args.out = args.out.resolve()  # nginx and the peers run elsewhere: absolute paths
    args.out.mkdir(parents=True, exist_ok=True)
    if args.build_only:
        for n in args.sizes:
            build(args.out, n)
        return 0
    rows = []
    for n in args.sizes:
        rows.append(measure_size(args.out, n, args.repeat, not args.skip_ingest))
        log(f"{n:,} dates measured")
    print(table(rows))
    doc = [asdict(r) for r in rows]
    (args.out / "catalogue.json").write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
