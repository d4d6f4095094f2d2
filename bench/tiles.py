"""Warm-tile throughput: leafcube vs TiTiler serving the same COG, side by side.

Builds (once) a cube from a synthetic 4,000 x 4,000 px LEAF LAI export (20 m, EPSG:3979,
QC-masked), then serves the ingested COG with ``leafcube serve`` (granian, 1 worker) and
with TiTiler (``titiler.core`` under uvicorn, 1 worker; installed into its own venv from
``bench/requirements-tiles.txt``). Both are pinned to core 0, the load generator to core
1. Every tile is requested once to warm both servers, then 1 and 16 clients run for
``--seconds`` against each in turn (both stay up, so load drift on a shared machine hits
both alike); a ``--soak`` run then samples leafcube's memory at 16 clients.
Tiles: 256 px PNG, WebMercatorQuad z12 inside the data, same colormap and range.

Run: ``.venv/bin/python bench/tiles.py`` (``--seconds 20 --soak 300``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpload
import numpy as np
import rasterio
from rasterio.transform import from_origin

from leafcube.catalogue import load
from leafcube.catalogue.qc import encode
from leafcube.catalogue.roi import transform_bounds
from leafcube.server.tms import TMS

HERE = Path(__file__).parent
OUT = HERE / "out"
PEERS = OUT / "peers-venv"
SERVER_CORE, LOAD_CORE = 0, 1
ORIGIN = (-900_000.0, 694_925.0)  # on the CCRS 20 m grid, inside tile42/43


def peers_venv() -> Path:
    """The venv holding TiTiler and uvicorn (made on first use)."""
    py = PEERS / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    reqs = HERE / "requirements-tiles.txt"
    probe = subprocess.run([str(py), "-c", "import titiler.core, uvicorn"], capture_output=True)
    if probe.returncode:
        subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(reqs)], check=True)
    return PEERS / "bin"


def _field(rng: np.random.Generator, size: int, cell: int) -> np.ndarray:
    """A smooth random field in 0..1 (bilinear upsampling of coarse noise)."""
    coarse = rng.random((size // cell + 2, size // cell + 2))
    idx = np.arange(size) / cell
    i0 = idx.astype(int)
    t = idx - i0
    rows = coarse[i0] * (1 - t)[:, None] + coarse[i0 + 1] * t[:, None]
    return rows[:, i0] * (1 - t) + rows[:, i0 + 1] * t


def make_cube(size: int) -> Path:
    """A one-date cube ingested from a synthetic LAI export and its QC (made once)."""
    cube = OUT / f"tiles-cube-{size}"
    if (cube / "catalogue.json").exists():
        return cube
    from leafcube.ingest.pipeline import ingest

    exports = OUT / f"tiles-exports-{size}"
    exports.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    lai = _field(rng, size, 200) * 0.7 + _field(rng, size, 25) * 0.3
    water = _field(rng, size, 400) > 0.8
    flagged = _field(rng, size, 50) > 0.85
    dn = np.where(water, 0, np.clip(lai * 160, 0, 255)).astype(np.uint8)
    qc = np.where(water, 0, encode(21, input_flag=flagged))
    profile = dict(
        driver="GTiff",
        width=size,
        height=size,
        count=1,
        dtype="uint8",
        crs="EPSG:3979",
        transform=from_origin(*ORIGIN, 20, 20),
        tiled=True,
        compress="deflate",
    )
    for name, data in (("LAI", dn), ("LAI_QC", qc)):
        with rasterio.open(exports / f"tile42_2023_Jul_{name}_20m.tif", "w", **profile) as dst:
            dst.write(data, 1)
    ingest([exports], cube, workers=2, progress=True)
    return cube


def tile_paths(cube: Path) -> tuple[str, str, list[tuple[int, int, int]], str]:
    """The collection, date, the z12 tiles wholly inside the COG, and the COG's path."""
    coll = next(iter(load(cube).collections.values()))
    entry = coll.sorted_dates()[-1]
    tile = next(iter(entry.layers["LAI"].tiles.values()))
    wm = TMS["WebMercatorQuad"]
    x0, y0, x1, y1 = tile.bbox
    inside = []
    for t in wm.tiles(*transform_bounds(tile.bbox, coll.crs, "EPSG:4326"), zooms=[12]):
        bx0, by0, bx1, by1 = transform_bounds(tuple(wm.xy_bounds(t)), "EPSG:3857", coll.crs)
        if x0 <= bx0 and bx1 <= x1 and y0 <= by0 and by1 <= y1:
            inside.append((t.z, t.x, t.y))
    return coll.name, entry.key, inside, str(cube / tile.href)


def warm(name: str, port: int, paths: list[str]) -> None:
    """Request every tile once, so the measured runs are warm."""
    res = httpload.once("127.0.0.1", port, paths)
    if res.errors:
        sys.exit(f"{name}: {res.errors} of {len(paths)} warm-up tiles failed")


def soak(proc, port: int, paths: list[str], seconds: float, clients: int = 16) -> dict:
    """Memory of a server's process tree, sampled every 5 s under ``clients`` for ``seconds``."""
    samples: list[tuple[float, float]] = []
    done = threading.Event()
    t0 = time.monotonic()

    def sample() -> None:
        while not done.wait(5):
            samples.append((round(time.monotonic() - t0), httpload.tree_rss_mb(proc.pid)))

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    res = httpload.load("127.0.0.1", port, paths, clients, seconds)
    done.set()
    th.join()
    after_warm = [m for t, m in samples if t >= 30] or [m for _, m in samples]
    first, last = after_warm[0], after_warm[-1]
    return {
        "seconds": seconds,
        "clients": clients,
        "req_per_s": round(res.rate, 1),
        "rss_mb_at_30s": round(first, 1),
        "rss_mb_end": round(last, 1),
        "rss_mb_max": round(max(after_warm), 1),
        "change_pct": round((last - first) / first * 100, 1),
        "samples": samples,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=4000, help="COG size in pixels a side")
    ap.add_argument("--seconds", type=float, default=20, help="length of each measured run")
    ap.add_argument("--clients", default="1,16", help="concurrent clients, comma-separated")
    ap.add_argument("--soak", type=float, default=300, help="leafcube memory run, s (0 = skip)")
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    peers = peers_venv()
    cube = make_cube(args.size)
    coll, date, tiles, cog = tile_paths(cube)
    print(f"{len(tiles)} tiles (z12) over {cog}", flush=True)
    httpload.pin(LOAD_CORE)
    ports = {"leafcube": 18701, "titiler": 18702}
    paths = {
        "leafcube": [
            f"/api/collections/{coll}/tiles/LAI/{date}/WebMercatorQuad/{z}/{x}/{y}.png"
            for z, x, y in tiles
        ],
        "titiler": [
            f"/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url={cog}&rescale=0,160"
            "&colormap_name=ylgn&resampling=nearest"
            for z, x, y in tiles
        ],
    }
    lc_cmd = [sys.executable, "-m", "leafcube.cli.main", "serve", str(cube),
              "--port", str(ports["leafcube"]), "--workers", "1"]  # fmt: skip
    tt_cmd = [str(peers / "uvicorn"), "titiler_app:app", "--app-dir", str(HERE),
              "--port", str(ports["titiler"]), "--workers", "1", "--no-access-log"]  # fmt: skip
    ready = {
        "leafcube": f"http://127.0.0.1:{ports['leafcube']}/catalogue.json",
        "titiler": f"http://127.0.0.1:{ports['titiler']}/healthz",
    }
    procs = {}
    results: dict = {"tiles": len(tiles), "size": args.size, "seconds": args.seconds}
    try:
        for name, cmd in (("leafcube", lc_cmd), ("titiler", tt_cmd)):
            procs[name] = httpload.start(cmd, ready[name], SERVER_CORE)
            warm(name, ports[name], paths[name])
        # both stay up (idle costs nothing); runs alternate so load drift hits both alike
        for n in clients:
            for name in ("leafcube", "titiler"):
                res = httpload.load("127.0.0.1", ports[name], paths[name], n, args.seconds)
                rss = round(httpload.tree_rss_mb(procs[name].pid), 1)
                row = res.row() | {"server": name, "rss_mb": rss}
                results.setdefault(name, []).append(row)
                print(json.dumps(row), flush=True)
        if args.soak:
            results["soak"] = soak(
                procs["leafcube"], ports["leafcube"], paths["leafcube"], args.soak
            )
            print(json.dumps({k: v for k, v in results["soak"].items() if k != "samples"}))
    finally:
        for proc in procs.values():
            httpload.stop(proc)
    print("\nclients  leafcube tiles/s (p50/p99 ms)   titiler tiles/s (p50/p99 ms)   ratio")
    for a, b in zip(results["leafcube"], results["titiler"], strict=True):
        ratio = a["req_per_s"] / max(b["req_per_s"], 1e-9)
        print(
            f"{a['clients']:>7}  {a['req_per_s']:>8.1f} ({a['p50_ms']:.1f}/{a['p99_ms']:.1f})"
            f"{'':>14}{b['req_per_s']:>8.1f} ({b['p50_ms']:.1f}/{b['p99_ms']:.1f})"
            f"{'':>10}{ratio:.1f}x"
        )
    OUT.mkdir(exist_ok=True)
    (OUT / "tiles.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
