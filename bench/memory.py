"""Worker memory before and after work: 10,000 small extracts, then one large one, then idle.

Issue 16 item 5 measured a worker at 1.45 GB, 3.1 GB after ~10k small extracts and ~5 GB
after one large one, and never coming back. This runs one ``leafcube serve`` worker over
the 48-month bench cube (``bench/extract.py``) twice, side by side: with its periodic heap
trim (the default) and with it off (``LEAFCUBE_TRIM_EVERY_S=0``), and reports the worker's
RSS and its C heap (``GET /api/memory``) at each step.

Run: ``cd bench && ../.venv/bin/python memory.py [--small 10000] [--concurrency 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time

import httpx
from extract import NATIVE, bench_cube, free_port, start, stop
from httpload import tree_rss_mb

COLLECTION = "leaf-s2-20m-monthly"
API = f"/api/collections/{COLLECTION}"
#: The bench cube's extent (EPSG:3979, both tiles).
EXTENT = (-806_000.0, 602_920.0, -794_000.0, 614_920.0)
LAYERS = ["LAI", "fCOVER", "fAPAR", "Albedo"]
#: The large extract's budget: 4 layers x 48 dates of the whole extent is 276 MB of float32.
LARGE_MB = 400


def small_query(rng: random.Random, dates: list[str]) -> dict[str, str]:
    """1 km² (50 x 50 px), 1-2 layers, 1-12 dates, at a random place and time."""
    x = rng.uniform(EXTENT[0], EXTENT[2] - 1000)
    y = rng.uniform(EXTENT[1], EXTENT[3] - 1000)
    i = rng.randrange(len(dates))
    return {
        "layers": ",".join(rng.sample(LAYERS, rng.randint(1, 2))),
        "start": dates[i],
        "end": dates[min(len(dates) - 1, i + rng.randrange(12))],
        "bbox": f"{x:.0f},{y:.0f},{x + 1000:.0f},{y + 1000:.0f}",
        "bbox-crs": NATIVE,
        "format": "npy",
    }


async def run_small(url: str, n: int, concurrency: int, dates: list[str]) -> None:
    rng = random.Random(1)
    queries = [small_query(rng, dates) for _ in range(n)]
    async with httpx.AsyncClient(base_url=url, http2=True, http1=False, timeout=120) as c:

        async def worker(mine: list[dict[str, str]]) -> None:
            for q in mine:
                (await c.get(f"{API}/subset", params=q)).raise_for_status()

        await asyncio.gather(*(worker(queries[k::concurrency]) for k in range(concurrency)))


def large(url: str, dates: list[str]) -> None:
    q = {
        "layers": ",".join(LAYERS),
        "start": dates[0],
        "end": dates[-1],
        "bbox": ",".join(f"{v:.0f}" for v in EXTENT),
        "bbox-crs": NATIVE,
        "format": "npy",
    }
    httpx.get(f"{url}{API}/subset", params=q, timeout=300).raise_for_status()


def snapshot(url: str, proc: subprocess.Popen) -> dict:
    m = httpx.get(f"{url}/api/memory", timeout=30).json()
    return {"tree_mb": round(tree_rss_mb(proc.pid)), "worker_mb": m["rss_mb"], **m["heap"]}


def one(trim: bool, args: argparse.Namespace, dates: list[str]) -> list[tuple[str, dict]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    os.environ["LEAFCUBE_TRIM_EVERY_S"] = "10" if trim else "0"  # the worker inherits it
    cmd = [sys.executable, "-m", "leafcube.cli.main", "serve", str(args.cube)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--max-request-mb", str(LARGE_MB)]
    proc = start(cmd, f"{url}/catalogue.json")
    try:
        steps = [("start", snapshot(url, proc))]
        asyncio.run(run_small(url, args.small, args.concurrency, dates))
        steps.append((f"after {args.small:,} small", snapshot(url, proc)))
        large(url, dates)
        steps.append(("after one large", snapshot(url, proc)))
        time.sleep(args.idle)  # what idling gives back (two trims when trimming)
        steps.append((f"{args.idle:g} s idle", snapshot(url, proc)))
        return steps
    finally:
        stop(proc)


def _cell(m: dict) -> str:
    return f"{m['worker_mb']:,.0f} ({m['in_use_mb']:,.0f} / {m['free_mb']:,.0f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", type=int, default=10_000, help="small extracts (default 10,000)")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    ap.add_argument("--idle", type=float, default=25.0, help="seconds idle at the end")
    args = ap.parse_args(argv)
    args.cube = bench_cube()
    from leafcube.catalogue import load

    dates = sorted(load(args.cube).collections[COLLECTION].dates)
    runs = {trim: one(trim, args, dates) for trim in (False, True)}
    print(f"\n{args.small:,} small extracts ({args.concurrency} in flight), one large one "
          f"(4 layers x {len(dates)} dates of the whole extent), then {args.idle:g} s idle; "
          "worker RSS (C heap in use / free) in MB\n")  # fmt: skip
    print("| step | trim off | trim every 10 s (default) |")
    print("|---|---|---|")
    for (step, off), (_, on) in zip(runs[False], runs[True], strict=True):
        print(f"| {step} | {_cell(off)} | {_cell(on)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
