"""Finished reads freed, before and after: what a worker still holds once concurrent large
subsets are done.

Before commit 0cef585, a batch of reads and each of its futures held each other (a done
``concurrent.futures.Future`` keeps its callbacks), so a finished subset's arrays waited
for Python's cyclic garbage collector, which runs by counts of objects, not bytes. Two
peers run side by side, each one ``leafcube serve`` worker over the 48-month bench cube
(``bench/extract.py``): **before** (``--before``, extracted with ``git archive`` and run
through ``PYTHONPATH``) and **after** (this checkout). Each gets ``--rounds`` rounds of
``--concurrent`` subsets in flight at once (one layer, 12 dates, the whole extent, npy,
~17 MB each); after each round the worker's C heap in use and RSS (``GET /api/memory``)
are sampled, and its peak RSS at the end.

Run: ``cd bench && ../.venv/bin/python finished.py [--before 57d01f6] [--concurrent 32]
[--rounds 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import httpx
from extract import NATIVE, OUT, bench_cube, free_port, start, stop
from memory import API, EXTENT
from timeseries import before_tree, worker_memory_mb

#: main before the fix.
BEFORE = "57d01f6"


async def round_of(url: str, n: int, dates: list[str]) -> None:
    """``n`` subsets of the whole extent at once, each its own 12 dates, read to the end."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as c:

        async def one(i: int) -> None:
            start_at = (i * 12) % (len(dates) - 11)
            q = {
                "layers": "LAI",
                "start": dates[start_at],
                "end": dates[start_at + 11],
                "bbox": ",".join(f"{v:.0f}" for v in EXTENT),
                "bbox-crs": NATIVE,
                "format": "npy",
            }
            (await c.get(f"{API}/subset", params=q)).raise_for_status()

        await asyncio.gather(*(one(i) for i in range(n)))


def peer(pythonpath: str, args: argparse.Namespace, dates: list[str]) -> list[str]:
    """The table cells of one peer: heap in use / RSS after each round, then peak RSS."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "leafcube.cli.main", "serve", str(args.cube)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    saved = os.environ.copy()
    if pythonpath:
        os.environ["PYTHONPATH"] = pythonpath  # the worker inherits it
    try:
        proc = start(cmd, f"{url}/catalogue.json")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        cells = []
        for _ in range(args.rounds):
            asyncio.run(round_of(url, args.concurrent, dates))
            m = httpx.get(f"{url}/api/memory", timeout=30).json()
            cells.append(f"{m['heap']['in_use_mb']:,.0f} / {m['rss_mb']:,.0f}")
        cells.append(f"{worker_memory_mb(proc.pid)[1]:,.0f}")
        return cells
    finally:
        stop(proc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default=BEFORE, help=f"git revision of the before peer ({BEFORE})")
    ap.add_argument("--concurrent", type=int, default=32, help="subsets in flight (default 32)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of them (default 3)")
    args = ap.parse_args(argv)
    if args.concurrent < 1 or args.rounds < 1:
        ap.error("--concurrent and --rounds must be at least 1")
    args.cube = bench_cube()
    from leafcube.catalogue import load

    dates = sorted(next(iter(load(args.cube).collections.values())).dates)
    work = OUT / "finished"
    rows = {
        "before": peer(str(before_tree(args.before, work)), args, dates),
        "after": peer("", args, dates),
    }
    head = [f"after round {i + 1}: in use / RSS MB" for i in range(args.rounds)]
    print(f"{args.concurrent} subsets at once (LAI, 12 dates, whole extent, npy) per round\n")
    print("| peer | " + " | ".join(head) + " | peak RSS MB |")
    print("|---" * (len(head) + 2) + "|")
    for name, cells in rows.items():
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
