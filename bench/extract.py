"""Extract benchmark: GomezEngine vs leafcube's client vs a direct local read, side by side.

One run, one cube (the demo landscape over 48 months), one ``leafcube serve`` on
127.0.0.1. For a 1 km² and a 100 km² ROI over 12 and 48 dates and 2 layers it times
the first extract of a fresh Python process (what a notebook user waits for):

- **GomezEngine** 0.3 (PyPI ``gomezengine``): ``extract_band`` on the server's
  GomezEngine view, one ``gdal.Warp`` over ``/vsicurl/`` per (band, date) in 10
  threads; in its own venv over Debian's ``python3-gdal``;
- **leafcube server**: ``Cube(url).extract`` — subset requests over h2c, the subsets
  as the files' DNs and a bit mask, zstd-compressed (``wire="dn"``, the default), or
  as raw float32 (``wire="npy"``) for comparison;
- **leafcube static**: ``Cube(url, mode="static").extract`` — the client reads the COGs;
- **local floor**: :meth:`leafcube.reader.Reader.read_many` on the cube folder, no HTTP.

The leafcube server runs are timed on a warm server (2 × workers untimed extracts of
the cell first, over as many connections, so its COGs are open in the workers that
take them); the first extract of each cell from a freshly started server (one run) is
reported apart. Both over loopback and through a proxy that
delays every packet by half of ``--rtt-ms`` each way and shares ``--mbps`` of bandwidth
per direction between all connections (a network like a user's). Pixels are checked: leafcube's
arrays equal the floor's exactly, and GomezEngine's DNs × scale equal them wherever
leafcube has data. Run: ``.venv/bin/python bench/extract.py [--repeat 3] [--rtt-ms 20]
[--mbps 100]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
REQUIREMENTS = HERE / "requirements-extract.txt"
NATIVE = "EPSG:3979"
LAYERS = ["LAI", "fCOVER"]
MONTHS = [(y, m) for y in (2020, 2021, 2022, 2023) for m in range(1, 13)]
#: Pixel-aligned squares straddling the tile42 | tile43 boundary (x = -800,000 m).
ROIS = {
    "1 km²": (-800_500.0, 607_925.0, -799_500.0, 608_925.0),
    "100 km²": (-805_000.0, 603_925.0, -795_000.0, 613_925.0),
}
DATE_COUNTS = (12, 48)

GOMEZ_RUNNER = r"""
import datetime as dt, json, sys, time
import numpy as np
from GomezEngine import DataStorage, DataStorageSentinel2

cfg = json.loads(sys.argv[1])

class LeafStorage(DataStorageSentinel2):
    # GomezEngine finds a band by its position in valid_bands: LEAF's view order
    def __init__(self, url, bands):
        DataStorage.__init__(self, url, max_workers=10)
        self.valid_bands = bands

ds = LeafStorage(cfg["view"], cfg["bands"])
dates = [dt.date.fromisoformat(d) for d in cfg["dates"]]
t = time.perf_counter()
data = ds.extract_band(cfg["layers"], dates=dates, roi=cfg["roi"], use_cloud_mask=False)
took = time.perf_counter() - t
np.savez(cfg["npz"], **{f"{b}|{d.isoformat()}": a for b, v in data.items() for d, a in v.items()})
print(json.dumps({"seconds": took}))
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- setup ------------------------------------------------------------------------------


def gomez_python() -> Path:
    """A venv with GomezEngine over Debian's GDAL bindings (made once, in bench/out/)."""
    env_dir = OUT / "gomez-venv"
    python = env_dir / "bin" / "python"
    probe = [str(python), "-c", "import GomezEngine, osgeo.gdal"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    system = Path("/usr/bin/python3")
    has_gdal = subprocess.run([str(system), "-c", "import osgeo.gdal"], capture_output=True)
    if has_gdal.returncode != 0:
        log("installing Debian's python3-gdal (GomezEngine needs GDAL's Python bindings)")
        subprocess.run(["apt-get", "install", "-y", "-q", "python3-gdal"], check=True)
    log(f"creating {env_dir} with GomezEngine")
    subprocess.run(
        [str(system), "-m", "venv", "--system-site-packages", "--clear", str(env_dir)], check=True
    )
    # --no-deps: its metadata also pulls scipy and pytest, which it never imports
    pip = [str(python), "-m", "pip", "install", "-q", "--no-deps", "-r", str(REQUIREMENTS)]
    subprocess.run(pip, check=True)
    subprocess.run(probe, check=True)
    return python


def bench_cube() -> Path:
    """The demo landscape over 48 months, ingested once into bench/out/cube."""
    from leafcube.catalogue import load
    from leafcube.ingest.demo import make_exports
    from leafcube.ingest.pipeline import ingest

    cube = OUT / "cube"
    if (cube / "catalogue.json").exists():
        coll = next(iter(load(cube).collections.values()))
        if len(coll.dates) >= max(DATE_COUNTS):
            return cube
    log("building the 48-month bench cube (once)")
    exports = make_exports(OUT / "exports", months=MONTHS)
    ingest([exports], cube, workers=2, progress=True)
    return cube


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], ready: str) -> subprocess.Popen:
    """Start a helper process in its own group; wait until ``ready`` answers."""
    import httpx

    proc = subprocess.Popen(
        args, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(300):
        try:
            if httpx.get(ready, timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"{args[:4]} did not start")


def stop(proc: subprocess.Popen) -> None:
    """Stop a helper's process group (SIGKILL if keep-alive connections hold it)."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# -- the delaying proxy ------------------------------------------------------------------


class Link:
    """One direction of a network link: ``rate`` bytes a second shared by every connection."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.free_at = 0.0

    def slot(self, now: float, size: int) -> float:
        """When ``size`` bytes that are due at ``now`` have gone through the link."""
        self.free_at = max(now, self.free_at) + (size / self.rate if self.rate else 0.0)
        return self.free_at


async def _pipe(reader, writer, delay: float, link: Link) -> None:
    """Forward bytes ``delay`` seconds after they arrived, in order, at the link's rate."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    async def receive() -> None:
        while True:
            data = await reader.read(1 << 16)
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                return

    async def send() -> None:
        while True:
            due, data = await queue.get()
            await asyncio.sleep(max(0.0, link.slot(due, len(data)) - loop.time()))
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    try:
        await asyncio.gather(receive(), send())
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def run_proxy(listen: int, upstream: int, rtt_ms: float, mbps: float) -> None:
    """A TCP proxy on 127.0.0.1:``listen`` adding ``rtt_ms`` of round-trip time and
    capping each direction at ``mbps`` megabits a second (0: no cap)."""
    delay = rtt_ms / 2000
    up, down = Link(mbps * 125_000), Link(mbps * 125_000)

    async def handle(reader, writer) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
        await asyncio.gather(
            _pipe(reader, up_writer, delay, up), _pipe(up_reader, writer, delay, down)
        )

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", listen)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# -- one measurement per process -----------------------------------------------------------


def run_worker(cfg: dict) -> None:
    """Time one extract in this fresh process; save its arrays for the checks."""
    from leafcube.catalogue import load, query
    from leafcube.catalogue.roi import bbox_geometry
    from leafcube.client import Cube
    from leafcube.reader import CubeFiles, Reader, roi_grid

    bbox = tuple(cfg["bbox"])
    if cfg["kind"] == "floor":
        coll = query.collection(load(cfg["cube"]), None)
        entries = query.dates_between(coll, cfg["start"], cfg["end"])
        files = CubeFiles(cfg["cube"])
        with Reader() as reader:
            t = time.perf_counter()
            grid = roi_grid(coll, bbox_geometry(bbox), NATIVE)
            reads = reader.read_many(files, coll, entries, LAYERS, grid, qc="data")
            took = time.perf_counter() - t
        arrays = {n: {k: r.data for k, r in v.items()} for n, v in reads.items()}
    else:
        mode = "static" if cfg["kind"] == "static" else "server"
        wire = "npy" if cfg["kind"] == "server-npy" else "dn"
        cube = Cube(cfg["url"], mode=mode, wire=wire, progress=False)
        assert cube.mode == mode  # finds the server and reads the catalogue before the clock
        t = time.perf_counter()
        res = cube.extract(
            LAYERS, bbox, start=cfg["start"], end=cfg["end"], qc="data", roi_crs=NATIVE
        )
        took = time.perf_counter() - t
        arrays = res.layers
    np.savez(
        cfg["npz"],
        **{f"{n}|{d}": a.filled(np.nan) for n, by in arrays.items() for d, a in by.items()},
    )
    print(json.dumps({"seconds": took}))


def measure(python: Path, args: list[str], repeat: int) -> float:
    """Median seconds over ``repeat`` fresh processes."""
    times = []
    for _ in range(repeat):
        done = subprocess.run(
            [str(python), *args],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[:2]} failed:\n{done.stderr[-3000:]}")
        times.append(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])
    return statistics.median(times)


# -- checks ---------------------------------------------------------------------------------


def cutline_file(ring: list[list[float]], path: Path) -> Path:
    """A polygon ring (EPSG:3979) as GeoJSON with a ``crs`` member, which GDAL reads for a
    cutline."""
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3979"}},
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path.write_text(json.dumps(doc))
    return path


def roi_file(bbox: tuple[float, float, float, float], path: Path) -> Path:
    """The bbox as a cutline GeoJSON in EPSG:3979."""
    x0, y0, x1, y1 = bbox
    return cutline_file([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], path)


def same_as_floor(npz: Path, floor: Path) -> bool:
    """True when an extract's arrays equal the floor's, NaN for NaN."""
    with np.load(npz) as a, np.load(floor) as b:
        return sorted(a.files) == sorted(b.files) and all(
            np.array_equal(a[k], b[k], equal_nan=True) for k in b.files
        )


def gomez_matches(npz: Path, floor: Path, scales: dict[str, float]) -> str:
    """GomezEngine's DNs × scale against leafcube's values wherever leafcube has data."""
    bad = checked = 0
    with np.load(npz) as ge, np.load(floor) as ref:
        if len(ge.files) != len(ref.files):
            return f"{len(ge.files)} of {len(ref.files)} (layer, date) arrays"
        for key in ge.files:
            want = ref[key]
            if ge[key].shape != want.shape:
                return f"shape {ge[key].shape} ≠ {want.shape}"
            have = np.isfinite(want)
            got = ge[key].astype(np.float32) * np.float32(scales[key.split("|")[0]])
            bad += int((got[have] != want[have]).sum())
            checked += int(have.sum())
    return "yes" if bad == 0 and checked else f"{bad} of {checked} pixels differ"


# -- the run --------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per cell (median)")
    ap.add_argument("--rtt-ms", type=float, default=20.0, help="round trip of the slow network")
    ap.add_argument("--mbps", type=float, default=100.0, help="its bandwidth (0: unlimited)")
    ap.add_argument("--workers", type=int, default=2, help="leafcube serve workers")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--proxy", nargs=4, type=float, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        run_worker(json.loads(args.worker))
        return 0
    if args.proxy:
        run_proxy(int(args.proxy[0]), int(args.proxy[1]), args.proxy[2], args.proxy[3])
        return 0

    from leafcube.catalogue import load, query

    OUT.mkdir(exist_ok=True)
    gomez = gomez_python()
    cube = bench_cube()
    coll = query.collection(load(cube), None)
    scales = {n: coll.layers[n].scale for n in LAYERS}
    entries = coll.sorted_dates()
    tmp = Path(tempfile.mkdtemp(dir=OUT))
    port, slow_port = free_port(), free_port()
    me = [str(HERE / "extract.py")]
    serve = [sys.executable, "-m", "leafcube.cli.main", "serve", str(cube), "--host", "127.0.0.1"]
    serve += ["--port", str(port), "--workers", str(args.workers)]
    ready = f"http://127.0.0.1:{port}/catalogue.json"
    server = start(serve, ready)
    proxy = start(
        [sys.executable, *me, "--proxy", str(slow_port), str(port), str(args.rtt_ms)]
        + [str(args.mbps)],
        f"http://127.0.0.1:{slow_port}/catalogue.json",
    )
    networks = {
        "loopback": f"http://127.0.0.1:{port}",
        f"{args.rtt_ms:g} ms, {args.mbps:g} Mbit/s": f"http://127.0.0.1:{slow_port}",
    }

    def leafcube_run(cell: dict, kind: str, url: str, repeat: int) -> tuple[float, Path]:
        npz = tmp / f"{kind}.npz"
        cfg = {**cell, "kind": kind, "url": url, "npz": str(npz)}
        return measure(Path(sys.executable), [*me, "--worker", json.dumps(cfg)], repeat), npz

    rows = []
    try:
        for roi_name, bbox in ROIS.items():
            roi = roi_file(bbox, tmp / f"roi-{len(rows)}.geojson")
            for n in DATE_COUNTS:
                sel = entries[-n:]
                cell = {"bbox": bbox, "start": sel[0].key, "end": sel[-1].end.isoformat()}
                name = f"{roi_name}, {n} dates"
                log(f"{name}: local floor")
                floor_npz = tmp / "floor.npz"
                floor_cfg = {**cell, "kind": "floor", "cube": str(cube), "npz": str(floor_npz)}
                floor = measure(
                    Path(sys.executable), [*me, "--worker", json.dumps(floor_cfg)], args.repeat
                )
                log(f"{name}: leafcube server (dn) on a fresh server")
                stop(server)
                server = start(serve, ready)
                cold, _ = leafcube_run(cell, "server", networks["loopback"], 1)
                for net, url in networks.items():
                    log(f"{name}, {net}: GomezEngine, leafcube server, leafcube static")
                    ge_npz = tmp / "gomez.npz"
                    ge_cfg = {
                        "view": f"{url}/api/collections/{coll.name}/gomez.json",
                        "bands": list(coll.layers),
                        "layers": LAYERS,
                        "dates": [e.key for e in sel],
                        "roi": str(roi),
                        "npz": str(ge_npz),
                    }
                    ge = measure(gomez, ["-c", GOMEZ_RUNNER, json.dumps(ge_cfg)], args.repeat)
                    ge_ok = gomez_matches(ge_npz, floor_npz, scales)
                    # untimed: the cell's COGs open in the workers (the kernel picks which
                    # worker takes each connection)
                    leafcube_run(cell, "server", url, 2 * args.workers)
                    times, equal = {}, True
                    for kind in ("server", "server-npy", "static"):
                        times[kind], npz = leafcube_run(cell, kind, url, args.repeat)
                        equal &= same_as_floor(npz, floor_npz)
                    rows.append(
                        {"cell": name, "net": net, "ge": ge, **times, "floor": floor}
                        | {"cold": cold, "equal": equal, "ge_ok": ge_ok}
                    )
    finally:
        stop(proxy)
        stop(server)
    print(
        "| ROI, dates (2 layers) | network | GomezEngine | leafcube server (dn) | leafcube "
        "server (npy) | leafcube static | local floor | GomezEngine ÷ leafcube server (dn) "
        "| leafcube server (dn) ÷ floor | same pixels (leafcube / GomezEngine) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['cell']} | {r['net']} | {r['ge']:.2f} s | {r['server']:.2f} s "
            f"| {r['server-npy']:.2f} s | {r['static']:.2f} s | {r['floor']:.2f} s "
            f"| **{r['ge'] / r['server']:.1f}×** | {r['server'] / r['floor']:.1f}× "
            f"| {'yes' if r['equal'] else 'NO'} / {r['ge_ok']} |"
        )
    print(
        "\nThe first extract of a cell from a freshly started server "
        "(loopback, dn; one run each):\n"
    )
    print("| ROI, dates (2 layers) | fresh server | warm server | GomezEngine |")
    print("|---|---:|---:|---:|")
    for r in (r for r in rows if r["net"] == "loopback"):
        print(f"| {r['cell']} | {r['cold']:.2f} s | {r['server']:.2f} s | {r['ge']:.2f} s |")
    return 0 if all(r["equal"] and r["ge_ok"] == "yes" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
