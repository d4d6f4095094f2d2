"""Soak: 32 clients for 30 minutes against `leafcube deploy nginx` with 2 workers.

It answers one question: does a worker's memory stay flat once warm, whatever it has
served? One ``leafcube deploy nginx --run`` stack on 127.0.0.1 (nginx over TLS and
HTTP/2 in front of two ``leafcube serve`` workers) serves the 48-month bench cube of
``bench/extract.py``. ``--clients`` HTTP/2 clients (one connection each) send, in a
closed loop, a fixed mix of what users ask for: ROI subsets (1–9 km², 1–2 layers, 1–12
dates, every format), point time series over every date, XYZ map tiles, COG byte
ranges (nginx alone), catalogue, TileJSON and WMTS documents; and once a minute, a
large subset (the whole cube area, 12 dates: ~17 MB). Every ``--every`` seconds it
samples each worker's resident memory (the ``leafcube serve`` process and its granian
worker). After ``--warmup`` minutes the caches are full; from then on every worker's
RSS must be flat: every sample, and the median of each 5-minute window (the *trend*),
within ±10 % of the first window's median. The reference is that median, not the one
sample at the end of the warm-up: samples swing with the large subsets in flight (each
up to the worker's admission budget), and one sample may catch a low or a high. Any 5xx
or failed request is counted and reported.
``--report`` prints the table of the last run's ``bench/out/soak.json`` again.

Run: ``.venv/bin/python bench/soak.py [--minutes 30] [--clients 32]``; results in
``bench/out/soak.json`` and as a markdown table on stdout (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from extract import NATIVE, OUT, bench_cube
from httpload import tree_rss_mb

from leafcube.deploy.tls import self_signed

COLLECTION = "leaf-s2-20m-monthly"
#: The bench cube's extent (EPSG:3979, both tiles) and its layers with physical values.
EXTENT = (-806_000.0, 602_920.0, -794_000.0, 614_920.0)
LAYERS = ["LAI", "fCOVER", "fAPAR", "Albedo"]
FORMATS = ["dn", "npy", "tif", "nc"]
#: Request kinds and their weights in the mix.
MIX = {"subset": 40, "timeseries": 15, "tile": 25, "range": 10, "document": 10}
API = f"/api/collections/{COLLECTION}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mix:
    """The request mix over the cube's dates and extent, from one seeded generator."""

    def __init__(self, dates: list[str], cogs: list[tuple[str, int]], seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.dates, self.cogs = dates, cogs
        self.kinds = list(MIX)
        self.weights = list(MIX.values())

    def _box(self, side: float) -> str:
        x0, y0, x1, y1 = EXTENT
        x = self.rng.uniform(x0, x1 - side)
        y = self.rng.uniform(y0, y1 - side)
        return f"{x:.0f},{y:.0f},{x + side:.0f},{y + side:.0f}"

    def _span(self, most: int) -> tuple[str, str]:
        i = self.rng.randrange(len(self.dates))
        return self.dates[i], self.dates[min(len(self.dates) - 1, i + self.rng.randrange(most))]

    def large(self) -> tuple[str, str, dict[str, str]]:
        start, end = self.dates[0], self.dates[11]
        box = ",".join(f"{v:.0f}" for v in EXTENT)
        q = f"layers=LAI&start={start}&end={end}&bbox={box}&bbox-crs={NATIVE}&format=npy"
        return "large", f"{API}/subset?{q}", {}

    def next(self) -> tuple[str, str, dict[str, str]]:
        """(kind, path, headers) of the next request."""
        kind = self.rng.choices(self.kinds, self.weights)[0]
        rng = self.rng
        if kind == "subset":
            start, end = self._span(12)
            layers = ",".join(rng.sample(LAYERS, rng.randint(1, 2)))
            box = self._box(rng.choice([1_000.0, 2_000.0, 3_000.0]))
            fmt = rng.choice(FORMATS)
            q = f"layers={layers}&start={start}&end={end}&bbox={box}&bbox-crs={NATIVE}"
            return kind, f"{API}/subset?{q}&format={fmt}", {}
        if kind == "timeseries":
            lon, lat = rng.uniform(-107.47, -107.37), rng.uniform(53.77, 53.83)
            layers = ",".join(rng.sample(LAYERS, rng.randint(1, 3)))
            q = f"layers={layers}&lon={lon:.5f}&lat={lat:.5f}"
            return kind, f"{API}/timeseries?{q}", {}
        if kind == "tile":
            z = rng.choice([10, 11, 12])  # the cube's ~12 km at zooms 10-12: 2-9 tiles
            # Web Mercator tiles over the cube (53.75-53.86 N, 107.5-107.3 W)
            x = int((-107.42 + 180) / 360 * 2**z) + rng.randint(0, 1)
            y = int(2**z * 0.32203) + rng.randint(0, 1)
            layer, date = rng.choice(LAYERS), rng.choice(self.dates)
            return kind, f"{API}/tiles/{layer}/{date}/WebMercatorQuad/{z}/{x}/{y}.png", {}
        if kind == "range":
            href, size = rng.choice(self.cogs)
            start = rng.randrange(0, max(1, size - 16384))
            return kind, "/" + href, {"Range": f"bytes={start}-{start + 16383}"}
        doc = rng.choice(
            ["/catalogue.json", f"{API}/tilejson.json?layer=LAI", f"{API}/WMTSCapabilities.xml"]
        )
        return "document", doc, {}


def worker_pids(run_dir: Path) -> dict[int, int]:
    """Port → pid of each ``leafcube serve`` the stack started."""
    return {
        int(p.stem.split("-")[1]): int(p.read_text()) for p in sorted(run_dir.glob("worker-*.pid"))
    }


async def _wait(client: httpx.AsyncClient, proc: subprocess.Popen) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            sys.exit(f"the stack exited with {proc.returncode}")
        try:
            if (await client.get(f"{API}/tilejson.json?layer=LAI")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    sys.exit("the stack did not answer")


async def _memory(client: httpx.AsyncClient, port: int) -> dict | None:
    """What the worker on ``port`` says it holds (``GET /api/memory``), or None."""
    try:
        return (await client.get(f"http://127.0.0.1:{port}/api/memory")).json()
    except (httpx.HTTPError, ValueError):
        return None


async def soak(args: argparse.Namespace, base: str, cert: Path, run_dir: Path, stack) -> dict:
    from leafcube.catalogue import load

    coll = load(args.cube).collections[COLLECTION]
    entries = coll.sorted_dates()
    dates = [e.key for e in entries]
    cogs = [
        (t.href, (args.cube / t.href).stat().st_size)
        for e in entries[:12]
        for f in e.layers.values()
        for t in f.tiles.values()
    ]
    mix = Mix(dates, cogs)
    counts: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    latencies: list[float] = []
    samples: list[dict] = []
    deadline = time.monotonic() + args.minutes * 60
    limits = httpx.Limits(max_connections=1)
    direct = httpx.AsyncClient(timeout=30)  # each worker's /api/memory, past nginx
    clients = [
        httpx.AsyncClient(base_url=base, http2=True, verify=str(cert), timeout=120, limits=limits)
        for _ in range(args.clients)
    ]
    try:
        await _wait(clients[0], stack)
        pids = worker_pids(run_dir)

        async def one(client: httpx.AsyncClient, kind: str, path: str, headers: dict) -> None:
            t = time.perf_counter()
            try:
                r = await client.get(path, headers=headers)
                await r.aread()
                ok = r.status_code < 500 and (r.status_code < 400 or kind == "tile")
                if not ok:
                    failures[f"{kind} {r.status_code}"] += 1
            except httpx.HTTPError as exc:
                failures[f"{kind} {type(exc).__name__}"] += 1
            counts[kind] += 1
            latencies.append(time.perf_counter() - t)

        async def user(client: httpx.AsyncClient) -> None:
            while time.monotonic() < deadline:
                await one(client, *mix.next())

        async def large(client: httpx.AsyncClient) -> None:
            while time.monotonic() < deadline:
                await one(client, *mix.large())
                await asyncio.sleep(60)  # a pace, not a synchronisation

        async def sampler() -> None:
            t0 = time.monotonic()
            while time.monotonic() < deadline:
                rss = {port: round(tree_rss_mb(pid)) for port, pid in pids.items()}
                samples.append(
                    {
                        "t": round(time.monotonic() - t0),
                        "requests": sum(counts.values()),
                        "failed": sum(failures.values()),
                        "rss_mb": rss,
                        "memory": {port: await _memory(direct, port) for port in pids},
                    }
                )
                print(json.dumps(samples[-1]), flush=True)
                await asyncio.sleep(args.every)

        tasks = [user(c) for c in clients[1:]] + [large(clients[0]), sampler()]
        await asyncio.gather(*tasks)
    finally:
        for c in [*clients, direct]:
            await c.aclose()
    return {
        "counts": dict(counts),
        "failures": dict(failures),
        "samples": samples,
        "p50_ms": round(statistics.median(latencies) * 1e3, 1),
        "p99_ms": round(sorted(latencies)[int(len(latencies) * 0.99)] * 1e3, 1),
    }


#: Seconds of one window whose median RSS the trend compares.
WINDOW_S = 300.0


def window_medians(samples: list[dict], port: str, start_s: float) -> list[float]:
    """The median RSS of ``port`` in each :data:`WINDOW_S` window from ``start_s`` on."""
    windows: dict[int, list[float]] = {}
    for s in samples:
        if s["t"] >= start_s:
            windows.setdefault(int((s["t"] - start_s) // WINDOW_S), []).append(s["rss_mb"][port])
    return [statistics.median(v) for _, v in sorted(windows.items())]


def verdict(result: dict, warmup_s: float) -> list[dict]:
    """Per worker: RSS at the end of the warm-up, the first window's median, the samples'
    min/max/last after and their drift from it, and the trend: each window's median
    against the first one's."""
    rows = []
    samples = result["samples"]
    for port in samples[0]["rss_mb"]:
        warm = [s for s in samples if s["t"] >= warmup_s]
        ref = warm[0]["rss_mb"][port]
        after = [s["rss_mb"][port] for s in warm]
        lo, hi = min(after), max(after)
        medians = window_medians(samples, port, warmup_s)
        base = medians[0]
        trend = max(abs(m - base) for m in medians) / base
        drift = max(hi - base, base - lo) / base
        rows.append(
            {
                "worker": port,
                "start_mb": samples[0]["rss_mb"][port],
                "warm_mb": ref,
                "min_mb": lo,
                "max_mb": hi,
                "last_mb": after[-1],
                "drift_pct": round(100 * drift, 1),
                "medians_mb": [round(m) for m in medians],
                "trend_pct": round(100 * trend, 1),
                "flat": drift <= 0.10 and trend <= 0.10,
            }
        )
    return rows


def table(result: dict, rows: list[dict], args: argparse.Namespace) -> str:
    lines = [
        f"{args.clients} clients × {args.minutes} min, warm-up {args.warmup} min; "
        f"{sum(result['counts'].values()):,} requests "
        f"({', '.join(f'{k} {v:,}' for k, v in sorted(result['counts'].items()))}); "
        f"failed {sum(result['failures'].values())} {result['failures'] or ''}; "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms",
        "",
        "| worker | RSS at start | at end of warm-up | min / max after | last | 5-min medians "
        "| samples' drift | trend | flat (±10 %) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| :{r['worker']} | {r['start_mb']} MB | {r['warm_mb']} MB | {r['min_mb']} / "
            f"{r['max_mb']} MB | {r['last_mb']} MB | "
            f"{', '.join(map(str, r['medians_mb']))} MB | {r['drift_pct']} % | "
            f"{r['trend_pct']} % | "
            f"{'yes' if r['flat'] else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="soak length (default 30)")
    ap.add_argument("--warmup", type=float, default=5.0, help="minutes before memory must be flat")
    ap.add_argument("--clients", type=int, default=32, help="HTTP/2 clients (default 32)")
    ap.add_argument("--every", type=float, default=10.0, help="seconds between RSS samples")
    ap.add_argument("--cube", type=Path, help="cube folder (default: the extract bench's)")
    ap.add_argument("--report", action="store_true", help="print the last run's table again")
    args = ap.parse_args(argv)
    if args.report:
        return report(OUT / "soak.json")
    if args.warmup >= args.minutes:
        ap.error("--warmup must be shorter than --minutes")
    args.cube = args.cube or bench_cube()
    port, worker_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="leafcube-soak-") as tmp:
        out = Path(tmp)
        cert, key = self_signed(out / "tls", ["localhost"])
        cmd = [
            sys.executable,
            "-m",
            "leafcube.cli.main",
            "deploy",
            "nginx",
            "--cube",
            str(args.cube),
            "--workers",
            "2",
            "--port",
            str(port),
            "--worker-port",
            str(worker_port),
            "--out",
            str(out),
            "--access-log",
            "off",
            "--cert",
            str(cert),
            "--key",
            str(key),
            "--run",
        ]
        stack = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, start_new_session=True)
        try:
            result = asyncio.run(soak(args, f"https://127.0.0.1:{port}", cert, out / "run", stack))
        finally:
            stack.send_signal(signal.SIGINT)
            try:
                stack.wait(30)
            except subprocess.TimeoutExpired:
                subprocess.run(["kill", "-9", f"-{stack.pid}"], check=False)
                stack.wait()
    saved = {"args": {k: str(v) for k, v in vars(args).items()}, **result}
    OUT.mkdir(exist_ok=True)
    (OUT / "soak.json").write_text(json.dumps(saved, indent=1))
    return report(OUT / "soak.json")


def report(path: Path) -> int:
    """Print the table of a saved run; 0 when every worker is flat and nothing failed."""
    if not path.is_file():
        print(f"soak.py: no saved run at {path}: run the soak first", file=sys.stderr)
        return 2
    result = json.loads(path.read_text())
    saved = result.pop("args")
    args = argparse.Namespace(**{k: float(saved[k]) for k in ("minutes", "warmup")})
    args.clients = int(saved["clients"])
    result.pop("workers", None)  # the verdict of an older run: made again below
    rows = verdict(result, args.warmup * 60)
    print(table(result, rows, args))
    return 0 if all(r["flat"] for r in rows) and not result["failures"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
