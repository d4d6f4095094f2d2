"""Large areas: a 10,000 km² extract under the default budget, and a small request's
wait beside a large extract, before vs after (side by side).

The cube: one month of LAI over 5,000 x 5,000 pixels of tile43 (100 x 100 km at 20 m),
written as Earth Engine exports LEAF's 2023 code (uint8 DNs, no nodata, 0 where masked),
ingested by ``leafcube ingest``, then its month hard-linked as ``--dates`` daily dates
(every date a distinct file to GDAL; 16 by default: the extract holds 100 MB a date in
the client). Two peers, each a ``leafcube serve`` worker on
127.0.0.1 with its own client:

- **before**: the code of ``--before`` (a git revision; default: main before this work),
  extracted with ``git archive`` and run through ``PYTHONPATH``;
- **after**: this working tree.

Figures per peer:

1. *default budget*: ``Cube.extract`` of the whole 10,000 km² on one date from a server
   with the default pixel budget (48 MB): its time, or the error;
2. *fairness*: with the budget raised to allow it (``--max-request-mb 200``), one client
   extracts the whole area over every date while one user times small subsets (64 x 64
   px, one date) in a row, then 16 users do: the lone user's p50/p99 and the 16 users'
   requests a second, beside the same probes on the idle server.

Run: ``flock /work/bench.lock nice -n 5 .venv/bin/python bench/largearea.py`` (results in
``bench/out/largearea.json``; the cube is built once in ``bench/out/largearea/``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
WORK = OUT / "largearea"
#: main before this bench's changes (client split by area, reader parts, fair lanes).
BEFORE = "9afce35"
#: Pixels a side of the large area: 100 km at 20 m.
SIZE = 5000
#: Top-left corner of the area: tile43's west edge, on Earth Engine's 20 m lattice.
X0, Y0 = -800_000.0, 614_920.0
RES = 20.0
#: The probes' box: 64 x 64 pixels inside the area (EPSG:3979).
PROBE = (X0 + 20_000.0, Y0 - 21_280.0, X0 + 21_280.0, Y0 - 20_000.0)
NATIVE = "EPSG:3979"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def area() -> tuple[float, float, float, float]:
    """The whole large area's box (EPSG:3979)."""
    return (X0, Y0 - SIZE * RES, X0 + SIZE * RES, Y0)


def write_exports(folder: Path, size: int = SIZE) -> Path:
    """August 2023's LAI and QC of a ``size`` x ``size`` region of tile43 as Earth Engine
    exports LEAF's 2023 code: uint8 DNs (LAI x 20), no nodata value, 0 where masked (lakes,
    flagged invalid in QC's bit 2, and the region's cut-off corner), on the 20 m lattice."""
    import rasterio
    from affine import Affine

    rng = np.random.default_rng(16)
    cell = 50
    coarse = rng.random((size // cell + 2, size // cell + 2)).astype(np.float32)
    t = np.arange(size, dtype=np.float32) / cell
    i, f = t.astype(int), t - t.astype(int)
    rows = coarse[i] * (1 - f)[:, None] + coarse[i + 1] * f[:, None]
    field = rows[:, i] * (1 - f)[None, :] + rows[:, i + 1] * f[None, :]
    lai = 6.0 * field + rng.random((size, size), dtype=np.float32) * 0.5
    dn = np.clip(np.round(lai * 20), 1, 255).astype(np.uint8)
    lake = field < 0.12
    dn[lake] = 0
    qc = np.where(lake, 4, 0).astype(np.uint8)
    yy, xx = np.ogrid[:size, :size]
    outside = xx + yy < size // 8  # outside the region's polygon
    dn[outside] = qc[outside] = 0
    folder.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": 1,
        "dtype": "uint8",
        "crs": NATIVE,
        "transform": Affine(RES, 0.0, X0, 0.0, -RES, Y0),
        "compress": "deflate",
    }
    for name, data in (("LAI", dn), ("QC", qc)):
        with rasterio.open(folder / f"tile43_2023_Aug_{name}_20m.tif", "w", **profile) as dst:
            dst.write(data, 1)
    return folder


def large_cube(work: Path, dates: int, size: int = SIZE) -> tuple[Path, str]:
    """The large cube of ``dates`` daily dates in ``work`` (built once): exports, their
    ingest, then the month linked as each date."""
    from bench.timeseries import many_date_cube
    from leafcube.catalogue import load
    from leafcube.ingest.pipeline import ingest

    month, cube = work / "month", work / f"cube-{dates}"
    if not (month / "catalogue.json").exists():
        log(f"writing and ingesting {size} x {size} px of LAI (once)")
        ingest([write_exports(work / "exports", size)], month, workers=1, progress=False)
    if (cube / "catalogue.json").exists():
        return cube, next(iter(load(cube).collections))
    return cube, many_date_cube(month, cube, dates)


#: Run by each peer's own Python: its client extracts the area (``args``: url, first and
#: last date, bbox), printing the seconds it took, the shape, the valid pixels and their
#: sum (the same in both peers), or the error.
EXTRACT = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from leafcube.client import Cube
    url, start, end, *bbox = sys.argv[1:]
    t = time.perf_counter()
    try:
        with Cube(url, progress=False) as cube:
            res = cube.extract("LAI", tuple(map(float, bbox)), start=start, end=end,
                               roi_crs="EPSG:3979")
        arrays = list(res["LAI"].values())
        out = {"s": time.perf_counter() - t, "dates": len(res.dates), "shape": res.shape,
               "valid": sum(int(a.count()) for a in arrays),
               "sum": sum(float(a.sum(dtype=np.float64)) for a in arrays if a.count())}
    except Exception as exc:
        out = {"s": time.perf_counter() - t, "error": f"{type(exc).__name__}: {exc}"[:300]}
    print(json.dumps(out))
    """
)


def run_extract(env: dict, url: str, start: str, end: str) -> dict:
    """The peer's client extracting the whole area over ``[start, end]``."""
    args = [sys.executable, "-c", EXTRACT, url, start, end, *map(repr, area())]
    done = subprocess.run(args, env=env, capture_output=True, text=True, cwd="/", check=False)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": done.stderr[-500:]}


def subset_params(bbox: tuple[float, float, float, float], key: str) -> dict[str, str]:
    """The subset request of LAI over ``bbox`` (EPSG:3979) on date ``key``, as npy."""
    return {
        "layers": "LAI",
        "bbox": ",".join(repr(v) for v in bbox),
        "bbox-crs": NATIVE,
        "start": key,
        "end": key,
        "format": "npy",
    }


def probes(url: str, coll: str, keys: list[str], users: int, until: threading.Event) -> dict:
    """``users`` clients each timing small subsets in a row (dates in turn) until ``until``
    is set: p50/p99 in ms and requests a second."""
    import httpx

    api = f"{url}/api/collections/{coll}/subset"
    lock = threading.Lock()
    took: list[float] = []
    errors = [0]

    def user(i: int) -> None:
        with httpx.Client(timeout=120) as client:
            n = i
            while not until.is_set():
                t = time.perf_counter()
                r = client.get(api, params=subset_params(PROBE, keys[n % len(keys)]))
                with lock:
                    took.append(time.perf_counter() - t)
                    errors[0] += r.status_code != 200
                n += users

    t0 = time.perf_counter()
    threads = [threading.Thread(target=user, args=(i,)) for i in range(users)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seconds = time.perf_counter() - t0
    ms = np.array(took) * 1e3
    return {
        "users": users,
        "requests": len(took),
        "errors": errors[0],
        "per_s": len(took) / seconds,
        "p50_ms": float(np.percentile(ms, 50)) if len(ms) else None,
        "p99_ms": float(np.percentile(ms, 99)) if len(ms) else None,
    }


def timed(url: str, coll: str, keys: list[str], users: int, seconds: float) -> dict:
    """:func:`probes` for ``seconds`` on an otherwise idle server."""
    until = threading.Event()
    threading.Timer(seconds, until.set).start()
    return probes(url, coll, keys, users, until)


def beside_extract(env: dict, url: str, coll: str, keys: list[str], users: int) -> dict:
    """:func:`probes` while the peer's client extracts the whole area over every date."""
    until = threading.Event()
    result: dict = {}

    def big() -> None:
        result.update(run_extract(env, url, keys[0], keys[-1]))
        until.set()

    th = threading.Thread(target=big)
    th.start()
    out = probes(url, coll, keys, users, until)
    th.join()
    return {**out, "extract": result}


def serve(cube: Path, env: dict, budget_mb: float | None):
    from tests.conftest import LEAFCUBE, free_port, start_process

    port = free_port()
    args = [*LEAFCUBE, "serve", str(cube), "--host", "127.0.0.1", "--port", str(port)]
    if budget_mb is not None:
        args += ["--max-request-mb", str(budget_mb)]
    url = f"http://127.0.0.1:{port}"
    proc = start_process(args, f"{url}/catalogue.json", env=env, stdout=subprocess.DEVNULL, cwd="/")
    return proc, url


def run_peer(name: str, pythonpath: str, args: argparse.Namespace) -> dict:
    from leafcube.catalogue import load
    from tests.conftest import stop_process

    many, coll = large_cube(WORK, args.dates)
    keys = [e.key for e in next(iter(load(many).collections.values())).sorted_dates()]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out: dict = {}
    proc, url = serve(many, env, None)
    try:
        out["default_budget"] = run_extract(env, url, keys[0], keys[0])
        log(f"{name}: 10,000 km² x 1 date, default budget: {out['default_budget']}")
    finally:
        stop_process(proc)
    proc, url = serve(many, env, 200.0)
    try:
        for users in (1, 16):
            idle = timed(url, coll, keys, users, args.seconds)
            busy = beside_extract(env, url, coll, keys, users)
            out[f"users_{users}"] = {"idle": idle, "beside_extract": busy}
            log(f"{name}: {users} users idle {idle}; beside the extract {busy}")
    finally:
        stop_process(proc)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default=BEFORE, help="git revision of the before peer")
    ap.add_argument("--dates", type=int, default=16, help="dates of the large extract")
    ap.add_argument("--seconds", type=float, default=5.0, help="idle probing time")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from bench.timeseries import before_tree

    peers = {"before": str(before_tree(args.before, WORK)), "after": ""}
    results = {name: run_peer(name, path, args) for name, path in peers.items()}
    OUT.mkdir(exist_ok=True)
    (OUT / "largearea.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
