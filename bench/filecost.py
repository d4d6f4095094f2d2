"""Per-file fixed cost and static-mode bytes: 1 km² × 120 dates and a 120-date point
series per client mode, side by side, over cubes written with 512 and 256 px blocks.

One run builds (once, in ``bench/out/filecost/``) a 4,096² current LEAF export (LAI, QC,
Date; ``bench/lazy.py``'s generator) ingested twice by leafcube's own ingest, with
``COG_OPTIONS["BLOCKSIZE"]`` 512 and 256, each date linked into a cube of 120 daily
dates (``bench/timeseries.py``'s way: every date its own files). A plain nginx serves
both cubes (static mode; its access log's ``$bytes_sent`` is what static mode moved) and
one ``leafcube serve --workers 1`` per cube sits behind an nginx proxy (what server mode
moved). Each case is a fresh Python process timing its first call (cold: every COG opened
and read) and its second (warm); imports and the catalogue are not counted. Cases:

- **modes**: local, static, server × block size × (1 km² of LAI over 120 dates, LAI at
  the tile's centre over 120 dates);
- **GDAL settings** (static): ``GDAL_INGESTED_BYTES_AT_OPEN`` 16/64 KiB and unset
  (shipped: 32 KiB), ``GDAL_HTTP_MERGE_CONSECUTIVE_RANGES`` and ``GDAL_HTTP_MULTIPLEX`` off;
- **per COG opened**: open + one-pixel read of each date's tile COG, and of its date
  mosaic VRT instead (rasterio, the reader's settings), local and over HTTP;
- **large reads** (server side, in-process, local files, one date): a 2,048² window and
  32 WebMercatorQuad z12–z13 tiles (the server's own renderer).

Every mode's values are checked equal to the local read's. Run:
``flock /work/bench.lock nice -n 5 .venv/bin/python bench/filecost.py``; results also in
``bench/out/filecost/filecost.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.ingest import RES, X0, Y0  # noqa: E402
from bench.lazy import wait_for  # noqa: E402
from bench.timeseries import many_date_cube  # noqa: E402
from tests.conftest import NGINX  # noqa: E402
from tests.conftest import NGINX_CONF as PLAIN_NGINX_CONF  # noqa: E402

OUT = HERE / "out" / "filecost"
DATES = 120
BLOCKS = (512, 256)
NATIVE = "EPSG:3979"
#: Pixels a side of the bench's one LEAF tile (a real one is 45,000: blocks, not the
#: tile's size, set what a small read costs).
SIZE = 4096
#: The tile's centre (EPSG:3979), and 1 km² (50² px) 2 km south-east of it, pixel-aligned:
#: inside one block of either size, as most small reads are.
CENTRE = (X0 + SIZE // 2 * RES, Y0 - SIZE // 2 * RES)
AREA = (CENTRE[0] + 2000.0, CENTRE[1] - 3000.0, CENTRE[0] + 3000.0, CENTRE[1] - 2000.0)
#: The point series' pixel: the centre's south-east neighbour, at its middle.
POINT = (CENTRE[0] + RES / 2, CENTRE[1] - RES / 2)
#: tests/conftest.py's nginx, its log giving each request's method, URI, status, bytes
#: sent and Range.
NGINX_CONF = PLAIN_NGINX_CONF.replace(
    "access_log {tmp}/access.log;",
    "log_format sent '$request_method $request_uri $status $bytes_sent $http_range';"
    "\n    access_log {tmp}/access.log sent;",
)
#: The request a case sends between its cold and warm calls (and the bench after it):
#: where the access log is split.
MARK = "/mark"

RUNNER = r"""
import json, sys, time
import numpy as np
import httpx
cfg = json.loads(sys.argv[1])
from leafcube.reader.read import HTTP_ENV
for k, v in cfg["env"].items():
    if v is None:
        HTTP_ENV.pop(k, None)
    else:
        HTTP_ENV[k] = v
from leafcube.client import Cube
cube = Cube(cfg["url"], mode=cfg["mode"], progress=False)
assert cube.mode == cfg["mode"]  # the catalogue is read before the clock

def call():
    if cfg["task"] == "area":
        res = cube.extract(["LAI"], tuple(cfg["area"]), qc="data", roi_crs=cfg["crs"])
        return [res["LAI"][k].filled(np.nan).tolist() for k in sorted(res["LAI"])]
    df = cube.timeseries(["LAI"], point=tuple(cfg["point"]), qc="data")
    return df.sort_values("date")["mean"].fillna(-1.0).tolist()

times, cpu = [], []
for i in range(2):
    t, c = time.perf_counter(), time.process_time()
    values = call()
    times.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
    if cfg["mark"]:
        httpx.get(cfg["mark"] + f"?{i}")
print(json.dumps({"cold": times[0], "warm": times[1], "cold_cpu": cpu[0], "warm_cpu": cpu[1],
                  "values": values}))
"""

OPENER = r"""
import json, sys, time
import rasterio
from rasterio.windows import Window
from leafcube.reader.read import HTTP_ENV
cfg = json.loads(sys.argv[1])
opens, reads = [], []
env = {k: v for k, v in {**HTTP_ENV, **cfg["env"]}.items() if v is not None}
with rasterio.Env(**env):
    for path, col, row in cfg["files"]:
        t = time.perf_counter()
        ds = rasterio.open(path)
        t1 = time.perf_counter()
        ds.read(1, window=Window(col, row, 1, 1))
        ds.read_masks(1, window=Window(col, row, 1, 1))
        t2 = time.perf_counter()
        ds.close()
        opens.append(t1 - t)
        reads.append(t2 - t1)
print(json.dumps({"open": sum(opens), "read": sum(reads), "n": len(opens)}))
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the cubes ------------------------------------------------------------------------------


def ingest_with_blocks(sources: list[Path], cube: Path, block: int) -> None:
    """``leafcube ingest`` of ``sources`` into ``cube``, its COGs in ``block`` px blocks."""
    from leafcube.ingest import cog
    from leafcube.ingest.pipeline import ingest

    shipped = cog.COG_OPTIONS["BLOCKSIZE"]
    cog.COG_OPTIONS["BLOCKSIZE"] = str(block)
    try:
        report = ingest(sources, cube, workers=2, progress=False)
        assert report.ok, report.failures
    finally:
        cog.COG_OPTIONS["BLOCKSIZE"] = shipped


def build() -> dict[int, Path]:
    """The 120-date cubes per block size (made once): a 4,096² current LEAF export
    ingested with each block size, its date linked 120 times."""
    from bench.lazy import make_exports

    src = OUT / "exports" / "tile42_2024"
    if not src.exists():
        make_exports(OUT / "exports", SIZE, 1)
    cubes = {}
    for block in BLOCKS:
        one, cube = OUT / f"one-{block}", OUT / f"cube-{block}"
        if not (one / "catalogue.json").exists():
            log(f"ingesting the {SIZE}² export with {block} px blocks")
            ingest_with_blocks([src], one, block)
        if not (cube / "catalogue.json").exists():
            many_date_cube(one, cube, DATES)
        cubes[block] = cube
    return cubes


# -- servers ----------------------------------------------------------------------------------


class Nginx:
    """A minimal nginx (a folder, or a proxy to ``upstream``) whose log counts bytes sent."""

    def __init__(self, site: str, tmp: Path) -> None:
        import httpx

        self.tmp, self.port = tmp, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "access.log"
        user = "user root;" if os.geteuid() == 0 else ""
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=self.port, site=site))
        self.proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(conf)])
        wait_for(self.url + MARK, self.proc, any_status=True)
        httpx.get(self.url + MARK)

    def sent(self) -> list[tuple[int, int]]:
        """Bytes sent and requests per marked section since the log was last taken (then
        empty it)."""
        import httpx

        httpx.get(self.url + MARK + "?end")
        while f"{MARK}?end " not in self.log.read_text():
            time.sleep(0.01)  # nginx writes a request's line after answering it
        parts, total, requests = [], 0, 0
        for line in self.log.read_text().splitlines():
            _method, uri, _status, sent = line.split()[:4]
            if uri.startswith(MARK):
                parts.append((total, requests))
                total = requests = 0
            else:
                total += int(sent)
                requests += 1
        self.log.write_text("")
        return parts

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def serve(cube: Path) -> tuple[subprocess.Popen, int]:
    """One ``leafcube serve --workers 1`` of ``cube``."""
    port = free_port()
    leafcube = str(Path(sys.executable).parent / "leafcube")
    proc = subprocess.Popen(
        [leafcube, "serve", str(cube), "--host", "127.0.0.1", "--port", str(port)]
        + ["--workers", "1"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(f"http://127.0.0.1:{port}/catalogue.json", proc, any_status=True)
    return proc, port


# -- cases --------------------------------------------------------------------------------------


def run_case(url: str, mode: str, task: str, env: dict, mark: str | None) -> dict:
    cfg = {
        "url": url,
        "mode": mode,
        "task": task,
        "env": env,
        "mark": mark,
        "area": AREA,
        "point": lonlat(POINT),
        "crs": NATIVE,
    }
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, json.dumps(cfg)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} {task} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def lonlat(xy: tuple[float, float]) -> tuple[float, float]:
    """A point of the cube's CRS in lon/lat (what ``Cube.timeseries`` takes)."""
    from pyproj import Transformer

    return Transformer.from_crs(NATIVE, "EPSG:4326", always_xy=True).transform(*xy)


def point_files(cube: Path, base: str, through_vrt: bool) -> list[tuple[str, int, int]]:
    """(path, col, row) of the point's pixel in each date's tile COGs (or mosaic VRT)."""
    import rasterio

    from leafcube.catalogue import load

    coll = next(iter(load(cube).collections.values()))
    x, y = POINT
    out = []
    for key in sorted(coll.dates):
        lf = coll.dates[key].layers["LAI"]
        hrefs = [lf.mosaic] if through_vrt else [lf.tiles[t].href for t in sorted(lf.tiles)]
        for href in hrefs:
            with rasterio.open(cube / href) as ds:
                row, col = ds.index(x, y)
                row, col = min(max(row, 0), ds.height - 1), min(max(col, 0), ds.width - 1)
            path = f"{base}/{href}" if base else str(cube / href)
            out.append((path, col, row))
    return out


def per_open(cube: Path, base: str, through_vrt: bool, repeat: int, env: dict) -> dict:
    """Median ms per file of opening it and of reading one pixel, over fresh processes
    (``env`` over the reader's GDAL settings; None unsets one)."""
    files = point_files(cube, base, through_vrt)
    runs = []
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", OPENER, json.dumps({"files": files, "env": env})],
            capture_output=True,
            text=True,
            check=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    n = runs[0]["n"]
    return {
        "files": n,
        "open_ms": statistics.median(r["open"] for r in runs) / n * 1e3,
        "read_ms": statistics.median(r["read"] for r in runs) / n * 1e3,
    }


def large_reads(big: Path, repeat: int) -> dict:
    """A 2,048² window and 32 z12–z13 map tiles of ``big``'s LAI, in-process (ms, median of
    ``repeat``, each a fresh reader so files are opened and blocks decoded)."""
    import morecantile

    from leafcube.catalogue import load
    from leafcube.catalogue.qc import DEFAULT_QC
    from leafcube.catalogue.roi import bbox_geometry
    from leafcube.reader import CubeFiles, Reader, roi_grid
    from leafcube.server.tiling import tile_png

    coll = next(iter(load(big).collections.values()))
    entry = coll.dates[sorted(coll.dates)[0]]
    cx, cy = CENTRE
    half = 1024 * coll.resolution
    window = (cx - half, cy - half, cx + half, cy + half)
    files = CubeFiles(str(big))
    grid = roi_grid(coll, bbox_geometry(window), NATIVE)
    wm = morecantile.tms.get("WebMercatorQuad")
    lon, lat = lonlat(CENTRE)
    tiles = []
    for z, n in ((12, 4), (13, 4)):
        t0 = wm.tile(lon, lat, z)
        tiles += [(z, t0.x + dx - n // 2, t0.y + dy - n // 2) for dx in range(n) for dy in range(n)]
    win, tile = [], []
    for _ in range(repeat):
        with Reader() as reader:
            t, c = time.perf_counter(), time.process_time()
            reader.read_many(files, coll, [entry], ["LAI"], grid, qc="data")
            win.append(((time.perf_counter() - t) * 1e3, (time.process_time() - c) * 1e3))
        with Reader() as reader:
            t, c = time.perf_counter(), time.process_time()
            for z, x, y in tiles:
                reader.submit_any(
                    tile_png, files, coll, entry, "LAI", "WebMercatorQuad", z, x, y, DEFAULT_QC
                ).result()
            n = len(tiles)
            tile.append(((time.perf_counter() - t) * 1e3 / n, (time.process_time() - c) * 1e3 / n))
    return {
        "window_ms": statistics.median(w for w, _ in win),
        "window_cpu_ms": statistics.median(c for _, c in win),
        "tile_ms": statistics.median(w for w, _ in tile),
        "tile_cpu_ms": statistics.median(c for _, c in tile),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per case (median)")
    ap.add_argument("--skip-settings", action="store_true", help="modes and opens only")
    args = ap.parse_args(argv)
    cubes = build()
    results: dict = {"modes": [], "settings": [], "opens": [], "large": {}}
    with tempfile.TemporaryDirectory(prefix="leafcube-filecost-") as tmp:
        work = Path(tmp)
        (work / "static").mkdir()
        static = Nginx(
            f"root {OUT}; location / {{ }} location = {MARK} {{ return 204; }}", work / "static"
        )
        servers, proxies = {}, {}
        try:
            for block, cube in cubes.items():
                servers[block], port = serve(cube)
                (work / f"proxy-{block}").mkdir()
                proxies[block] = Nginx(
                    f"location = {MARK} {{ return 204; }} location / {{ "
                    f"proxy_pass http://127.0.0.1:{port}; proxy_http_version 1.1; "
                    "proxy_set_header Host $http_host; }",
                    work / f"proxy-{block}",
                )
            truth: dict = {}

            def case(block: int, mode: str, task: str, env: dict, label: str) -> dict:
                nginx = static if mode == "static" else proxies[block] if mode == "server" else None
                url = {
                    "local": str(cubes[block]),
                    "static": f"{static.url}/cube-{block}",
                    "server": proxies[block].url,
                }[mode]
                runs = []
                for _ in range(args.repeat):
                    mark = nginx.url + MARK if nginx else None
                    if nginx:
                        nginx.sent()
                    r = run_case(url, mode, task, env, mark)
                    sent = nginx.sent() if nginx else [(0, 0), (0, 0)]
                    r["cold_bytes"], r["cold_requests"] = sent[0]
                    r["warm_bytes"], r["warm_requests"] = sent[1]
                    runs.append(r)
                values = runs[0].pop("values")
                for r in runs[1:]:
                    r.pop("values")
                same = truth.setdefault((block, task), values) == values
                row = {
                    "block": block,
                    "mode": mode,
                    "task": task,
                    "label": label,
                    "same": same,
                    **{k: statistics.median(r[k] for r in runs) for k in runs[0]},
                }
                log(json.dumps(row))
                return row

            for task in ("area", "point"):
                for block in BLOCKS:
                    for mode in ("local", "static", "server"):
                        results["modes"].append(case(block, mode, task, {}, "shipped"))
            if not args.skip_settings:
                variants = {
                    "INGESTED_BYTES_AT_OPEN=16384": {"GDAL_INGESTED_BYTES_AT_OPEN": "16384"},
                    "INGESTED_BYTES_AT_OPEN=65536": {"GDAL_INGESTED_BYTES_AT_OPEN": "65536"},
                    "INGESTED_BYTES_AT_OPEN unset": {"GDAL_INGESTED_BYTES_AT_OPEN": None},
                    "MERGE_CONSECUTIVE_RANGES=NO": {"GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "NO"},
                    "MULTIPLEX=NO": {"GDAL_HTTP_MULTIPLEX": "NO"},
                    "USE_HEAD=NO": {"CPL_VSIL_CURL_USE_HEAD": "NO"},
                }
                for task in ("area", "point"):
                    for block in BLOCKS:
                        for label, env in variants.items():
                            results["settings"].append(case(block, "static", task, env, label))
            opens = [("local", False, "shipped", {}), ("local", True, "shipped", {})]
            opens += [("http", vrt, "shipped", {}) for vrt in (False, True)]
            opens += [
                ("http", False, "USE_HEAD=NO", {"CPL_VSIL_CURL_USE_HEAD": "NO"}),
                ("http", False, "INGESTED=16384", {"GDAL_INGESTED_BYTES_AT_OPEN": "16384"}),
            ]
            for block, cube in cubes.items():
                for where, vrt, label, env in opens:
                    base = f"/vsicurl/{static.url}/cube-{block}" if where == "http" else ""
                    static.sent()
                    row = {
                        "block": block,
                        "where": where,
                        "through": "mosaic VRT" if vrt else "tile COGs",
                        "label": label,
                        **per_open(cube, base, vrt, args.repeat, env),
                    }
                    sent = static.sent()[0]  # all repeats
                    row["bytes"], row["requests"] = (v / args.repeat / row["files"] for v in sent)
                    log(json.dumps(row))
                    results["opens"].append(row)
            for block in BLOCKS:
                results["large"][block] = large_reads(OUT / f"one-{block}", args.repeat)
                log(json.dumps({"block": block, **results["large"][block]}))
        finally:
            for proc in servers.values():
                os.killpg(proc.pid, 15)
                proc.wait(timeout=15)
            for p in proxies.values():
                p.stop()
            static.stop()
    (OUT / "filecost.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
