"""Time series over many dates, and a small request's wait beside large ones: before vs after.

A cube of 1,000 daily dates at the demo landscape's two tiles (each date hard links one
demo month's COGs, so it builds in seconds and every date is a distinct file to GDAL),
built by each peer's own code (so in its own catalogue format and COG blocks).
Two peers, each one ``leafcube serve`` worker on 127.0.0.1, side by side:

- **before**: the code of ``--before`` (a git revision; default: the commit before the
  reader's tickets and small-window cache), extracted with ``git archive`` and run
  through ``PYTHONPATH``;
- **after**: this working tree.

For 120, 260 and 1,000 dates of one layer at a point on the tiles' seam (two COGs a
date) it times the first request and the median of ``--repeat`` warm ones, and reports
the per-date cost and the worker's resident memory (VmRSS after, VmHWM peak). Then
*fairness*: ``--big`` clients each ask for every layer over 500 dates at a point of
their own (never read before, so cold), while one client times 1-date requests in a
row; it reports the probe's p50/p99 and how long the large requests took.
Run: ``.venv/bin/python bench/timeseries.py [--repeat 5] [--big 4]``; results go to
``bench/out/timeseries.json``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
WORK = OUT / "timeseries"
#: The commit before this bench's changes to the reader and the data endpoints.
BEFORE = "1220657"
DATE_COUNTS = (120, 260, 1000)
#: On the seam of tile42 and tile43: every date reads both COGs.
POINT = (-107.42, 53.80)
BIG_DATES = 500
PACKAGES = ("catalogue", "cli", "client", "deploy", "ingest", "reader", "retrieval", "server")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _link(src: Path, dst: Path) -> None:
    """Hard link ``src`` at ``dst`` (a copy across file systems)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def many_date_cube(src: Path, dst: Path, dates: int) -> str:
    """A cube at ``dst`` of ``dates`` daily periods from 2000-01-01, each a hard-linked
    copy of one of ``src``'s months in turn (its COGs and mosaics at the date's own
    paths; files shared by all dates, like Partition, stay shared). Returns the
    collection's name."""
    from leafcube.catalogue import LayerFiles, TileFile, load, save

    cat = load(src)
    coll = next(iter(cat.collections.values()))
    months = coll.sorted_dates()
    linked: set[str] = set()

    def moved(href: str, old: str, new: str) -> str:
        out = href.replace(f"/{old}/", f"/{new}/")
        folder = (src / href).parent
        if out not in linked:  # the whole folder: mosaics name their overview VRTs
            for f in folder.iterdir():
                if f.is_file():
                    _link(f, dst / Path(out).parent / f.name)
            linked.update(str(Path(out).parent / f.name) for f in folder.iterdir())
        return out

    entries = {}
    for i in range(dates):
        day = (dt.date(2000, 1, 1) + dt.timedelta(days=i)).isoformat()
        month = months[i % len(months)]
        entry = copy.deepcopy(month)
        entry.start = entry.end = dt.date.fromisoformat(day)
        entry.layers = {
            name: LayerFiles(
                moved(lf.mosaic, month.key, day),
                {
                    t: TileFile(moved(tf.href, month.key, day), tf.bbox, tf.shape, tf.source)
                    for t, tf in lf.tiles.items()
                },
            )
            for name, lf in month.layers.items()
        }
        entries[day] = entry
    coll.dates = entries
    save(cat, dst)
    return coll.name


def bench_cube(work: Path) -> tuple[Path, str]:
    """The demo cube (ingested once) and its 1,000-date copy, in ``work``, written by the
    code this process imports (a peer's cube is in its own catalogue format)."""
    from leafcube.catalogue import load
    from leafcube.ingest.demo import make_exports
    from leafcube.ingest.pipeline import ingest

    demo, cube = work / "demo", work / "cube"
    if not (demo / "catalogue.json").exists():
        log(f"building the demo cube in {work} (once)")
        ingest([make_exports(work / "exports")], demo, workers=2, progress=False)
    if (cube / "catalogue.json").exists():
        coll = next(iter(load(cube).collections.values()))
        if len(coll.dates) == max(DATE_COUNTS):
            return cube, coll.name
        shutil.rmtree(cube)
    log(f"linking {max(DATE_COUNTS)} dates")
    return cube, many_date_cube(demo, cube, max(DATE_COUNTS))


def peer_cube(work: Path, pythonpath: str | None) -> tuple[Path, str]:
    """:func:`bench_cube` for a peer: in this process for this tree, else in a process
    running the peer's code (``pythonpath``), so each peer reads a cube its own ingest
    wrote."""
    if pythonpath is None:
        return bench_cube(work)
    env = {**os.environ, "PYTHONPATH": pythonpath, "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, __file__, "--build-cube", str(work)]
    done = subprocess.run(cmd, env=env, cwd="/", capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the peer's cube failed: {done.stderr[-800:]}")
    name = done.stdout.strip().splitlines()[-1]
    return work / "cube", name


def before_tree(rev: str, work: Path) -> Path:
    """The packages of ``rev`` laid out as ``leafcube/`` in ``work`` for ``PYTHONPATH``
    (extracted once): the code a "before" peer runs."""
    root = work / f"before-{rev}"
    if not (root / "leafcube" / "reader").exists():
        (root / "leafcube").mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", rev, *PACKAGES], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(root / "leafcube")], input=archive, check=True)
    return root


def worker_memory_mb(pid: int) -> tuple[float, float]:
    """VmRSS and VmHWM of the server's largest process (its worker), in MB."""
    sys.path.insert(0, str(ROOT))
    from tests.hardening.conftest import _status_kb, process_tree

    pids = process_tree(pid)
    return (
        max(_status_kb(p, "VmRSS") for p in pids) / 1024,
        max(_status_kb(p, "VmHWM") for p in pids) / 1024,
    )


def series_params(coll_dates: list[str], n: int, layers: str, point: tuple[float, float]) -> dict:
    return {
        "layers": layers,
        "lon": str(point[0]),
        "lat": str(point[1]),
        "start": coll_dates[-n],
        "end": coll_dates[-1],
    }


def run_peer(name: str, cube: Path, coll: str, pythonpath: str | None, args) -> dict:
    """Time series and fairness figures of one peer's ``leafcube serve``."""
    import httpx

    from leafcube.catalogue import load
    from tests.conftest import LEAFCUBE, free_port, start_process, stop_process

    keys = [e.key for e in next(iter(load(cube).collections.values())).sorted_dates()]
    layers = list(next(iter(load(cube).collections.values())).layers)
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    url = f"http://127.0.0.1:{port}"
    serve = [*LEAFCUBE, "serve", str(cube), "--host", "127.0.0.1", "--port", str(port)]
    proc = start_process(
        serve, f"{url}/catalogue.json", env=env, stdout=subprocess.DEVNULL, cwd="/"
    )
    api = f"{url}/api/collections/{coll}/timeseries"
    out: dict = {"series": {}}
    try:
        with httpx.Client(timeout=600) as client:
            for n in DATE_COUNTS:
                params = series_params(keys, n, "LAI", POINT)
                times = []
                for _ in range(1 + args.repeat):
                    t = time.perf_counter()
                    r = client.get(api, params=params)
                    times.append(time.perf_counter() - t)
                    assert r.status_code == 200 and len(r.json()["dates"]) == n, r.text[:200]
                warm = statistics.median(times[1:])
                cell = {"first_s": times[0], "warm_s": warm, "per_date_ms": warm / n * 1e3}
                out["series"][n] = cell
                log(f"{name}: {n} dates first {times[0]:.3f} s, warm {warm:.3f} s")
            out["rss_mb"], out["hwm_mb"] = worker_memory_mb(proc.pid)
            out["fairness"] = fairness(client, api, keys, layers, args.big)
            log(f"{name}: fairness {out['fairness']}")
    finally:
        stop_process(proc)
    return out


def fairness(client, api: str, keys: list[str], layers: list[str], big: int) -> dict:
    """A 1-date probe's latency while ``big`` clients ask for every layer over
    :data:`BIG_DATES` dates, each at a point of its own."""
    import httpx

    started = threading.Barrier(big + 1)
    big_times: list[float] = []

    def large(i: int) -> None:
        point = (POINT[0] - 0.01 * (i + 1), POINT[1] + 0.005 * (i + 1))
        params = series_params(keys, BIG_DATES, ",".join(layers), point)
        with httpx.Client(timeout=600) as c:
            started.wait()
            t = time.perf_counter()
            r = c.get(api, params=params)
            big_times.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text[:200]

    threads = [threading.Thread(target=large, args=(i,)) for i in range(big)]
    for th in threads:
        th.start()
    started.wait()
    probes = []
    probe = series_params(keys, 1, "LAI", POINT)
    while any(th.is_alive() for th in threads):
        t = time.perf_counter()
        assert client.get(api, params=probe).status_code == 200
        probes.append(time.perf_counter() - t)
    for th in threads:
        th.join()
    probes.sort()
    return {
        "probes": len(probes),
        "probe_p50_ms": probes[len(probes) // 2] * 1e3,
        "probe_p99_ms": probes[min(len(probes) - 1, int(len(probes) * 0.99))] * 1e3,
        "probe_max_ms": probes[-1] * 1e3,
        "big_requests": big,
        "big_reads_each": BIG_DATES * len(layers),
        "big_s_max": max(big_times),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="warm requests per cell (median)")
    ap.add_argument("--big", type=int, default=4, help="large concurrent requests")
    ap.add_argument("--before", default=BEFORE, help="git revision of the 'before' peer")
    ap.add_argument("--build-cube", type=Path, help=argparse.SUPPRESS)  # (see peer_cube)
    args = ap.parse_args(argv)
    if args.build_cube:
        print(bench_cube(args.build_cube)[1])
        return 0
    sys.path.insert(0, str(ROOT))
    WORK.mkdir(parents=True, exist_ok=True)
    peers = {"before": str(before_tree(args.before, WORK)), "after": None}
    results = {}
    for name, path in peers.items():
        cube, coll = peer_cube(WORK / f"{name}-cube" if path else WORK, path)
        results[name] = run_peer(name, cube, coll, path, args)
    b, a = results["before"], results["after"]
    print(f"{'dates':>6} {'before warm':>12} {'after warm':>11} {'ratio':>6} "
          f"{'before first':>13} {'after first':>12}")  # fmt: skip
    for n in DATE_COUNTS:
        sb, sa = b["series"][n], a["series"][n]
        print(f"{n:>6} {sb['warm_s']:>10.3f} s {sa['warm_s']:>9.3f} s "
              f"{sb['warm_s'] / sa['warm_s']:>5.1f}x {sb['first_s']:>11.3f} s "
              f"{sa['first_s']:>10.3f} s")  # fmt: skip
    for name, r in results.items():
        f = r["fairness"]
        print(f"{name}: worker RSS {r['rss_mb']:.0f} MB (peak {r['hwm_mb']:.0f} MB); probe "
              f"p50 {f['probe_p50_ms']:.0f} ms, p99 {f['probe_p99_ms']:.0f} ms over "
              f"{f['probes']} probes while {f['big_requests']} x {f['big_reads_each']} reads "
              f"ran ({f['big_s_max']:.1f} s)")  # fmt: skip
    (OUT / "timeseries.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
