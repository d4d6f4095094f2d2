"""Extract benchmark: GomezEngine vs leafcube's client vs a direct local read, side by side.

One run, one cube (the demo landscape over 48 months), one ``leafcube serve`` on
127.0.0.1. For a 1 km² and a 100 km² ROI over 12 and 48 dates and 2 layers it times:

- **GomezEngine** 0.3 (PyPI ``gomezengine``): ``extract_band`` on the server's
  GomezEngine view, one ``gdal.Warp`` over ``/vsicurl/`` per (band, date) in 10
  threads; run in its own venv (Debian's ``python3-gdal``), in a subprocess;
- **leafcube server**: ``Cube(url).extract`` — subset requests over h2c;
- **leafcube static**: ``Cube(url, mode="static")`` — the client reads the COGs itself;
- **local floor**: :func:`leafcube.reader.read_many` on the cube folder, no HTTP.

Pixel values are checked: leafcube's server and static arrays equal the floor's
exactly, and GomezEngine's DNs times the layer's scale equal them wherever leafcube
has data. Run: ``.venv/bin/python bench/extract.py`` (``--repeat N``, ``--workers N``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from leafcube.catalogue import load, query
from leafcube.catalogue.roi import bbox_geometry
from leafcube.client import Cube
from leafcube.reader import CubeFiles, read_many, roi_grid

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
times = {}
for run in cfg["runs"]:
    dates = [dt.date.fromisoformat(d) for d in run["dates"]]
    took = []
    for _ in range(cfg["repeat"]):
        t = time.perf_counter()
        data = ds.extract_band(cfg["layers"], dates=dates, roi=run["roi"], use_cloud_mask=False)
        took.append(time.perf_counter() - t)
    times[run["name"]] = took
    np.savez(run["npz"], **{f"{b}|{d.isoformat()}": a for b, v in data.items() for d, a in v.items()})
print(json.dumps(times))
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


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
    from leafcube.ingest.demo import make_exports
    from leafcube.ingest.pipeline import ingest

    cube = OUT / "cube"
    if (cube / "catalogue.json").exists() and len(load(cube).collections) == 1:
        coll = next(iter(load(cube).collections.values()))
        if len(coll.dates) >= max(DATE_COUNTS):
            return cube
    log("building the 48-month bench cube (once)")
    exports = make_exports(OUT / "exports", months=MONTHS)
    ingest([exports], cube, workers=2, progress=True)
    return cube


def serve(cube: Path, port: int, workers: int) -> subprocess.Popen:
    """``leafcube serve`` on 127.0.0.1, ready when its catalogue answers."""
    import httpx

    args = [sys.executable, "-m", "leafcube.cli.main", "serve", str(cube), "--port", str(port)]
    proc = subprocess.Popen(
        [*args, "--host", "127.0.0.1", "--workers", str(workers)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/catalogue.json", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("leafcube serve did not start")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    """Wall times of ``repeat`` calls (after one warm-up call) and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def roi_file(bbox: tuple[float, float, float, float], path: Path) -> Path:
    """The ROI as GeoJSON in EPSG:3979 (GDAL reads the ``crs`` member of a cutline)."""
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3979"}},
        "features": [
            {"type": "Feature", "properties": {}, "geometry": bbox_geometry(bbox).__geo_interface__}
        ],
    }
    path.write_text(json.dumps(doc))
    return path


def same(a: dict, b: dict) -> bool:
    """True when two ``{layer: {date: masked array}}`` hold identical pixels and masks."""
    return all(
        np.array_equal(a[n][d].filled(np.nan), b[n][d].filled(np.nan), equal_nan=True)
        for n in b
        for d in b[n]
    )


def gomez_matches(npz: Path, floor: dict, scales: dict[str, float]) -> str:
    """Compare GomezEngine's DNs × scale with leafcube's values where leafcube has data."""
    with np.load(npz) as ge:
        bad = 0
        checked = 0
        for key in ge.files:
            layer, date = key.split("|")
            ref = floor[layer][date]
            dn = ge[key]
            if dn.shape != ref.shape:
                return f"shape {dn.shape} ≠ {ref.shape}"
            have = ~np.ma.getmaskarray(ref)
            values = (dn.astype(np.float32) * np.float32(scales[layer]))[have]
            bad += int((values != ref.data[have]).sum())
            checked += int(have.sum())
        dates = len(ge.files) // len(LAYERS)
    return "yes" if bad == 0 and checked else f"{bad} of {checked} differ ({dates} dates)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per cell (median kept)")
    ap.add_argument("--workers", type=int, default=2, help="leafcube serve workers")
    args = ap.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    python = gomez_python()
    cube = bench_cube()
    cat = load(cube)
    coll = query.collection(cat, None)
    scales = {n: coll.layers[n].scale for n in LAYERS}
    port = free_port()
    proc = serve(cube, port, args.workers)
    url = f"http://127.0.0.1:{port}"
    tmp = Path(tempfile.mkdtemp(dir=OUT))
    rows = []
    try:
        server = Cube(url, progress=False)
        static = Cube(url, mode="static", progress=False)
        assert server.mode == "server" and server.source.h2c
        entries = coll.sorted_dates()
        runs, cells = [], []
        for roi_name, bbox in ROIS.items():
            path = roi_file(bbox, tmp / f"roi{len(cells)}.geojson")
            for n in DATE_COUNTS:
                sel = entries[-n:]
                name = f"{roi_name}, {n} dates"
                npz = tmp / f"gomez{len(cells)}.npz"
                runs.append(
                    {"name": name, "dates": [e.key for e in sel], "roi": str(path), "npz": str(npz)}
                )
                cells.append((name, bbox, sel, npz))
        config = {
            "view": f"{url}/api/collections/{coll.name}/gomez.json",
            "bands": list(coll.layers),
            "layers": LAYERS,
            "runs": runs,
            "repeat": args.repeat,
        }
        log("GomezEngine …")
        done = subprocess.run(
            [str(python), "-c", GOMEZ_RUNNER, json.dumps(config)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        if done.returncode != 0:
            raise RuntimeError(f"GomezEngine failed:\n{done.stderr[-3000:]}")
        gomez = json.loads(done.stdout.strip().splitlines()[-1])
        files = CubeFiles(str(cube))
        for name, bbox, sel, npz in cells:
            log(f"leafcube {name} …")
            start, end = sel[0].start, sel[-1].end

            def extract(c: Cube, bbox=bbox, start=start, end=end) -> dict:
                return c.extract(LAYERS, bbox, start, end, qc="data", roi_crs=NATIVE).layers

            grid = roi_grid(coll, bbox_geometry(bbox), NATIVE)

            def floor_read(sel=sel, grid=grid) -> dict:
                reads = read_many(files, coll, sel, LAYERS, grid, qc="data")
                return {n: {k: r.data for k, r in v.items()} for n, v in reads.items()}

            t_floor, floor = timed(floor_read, args.repeat)
            t_server, by_server = timed(lambda: extract(server), args.repeat)
            t_static, by_static = timed(lambda: extract(static), args.repeat)
            med = {
                "gomez": statistics.median(gomez[name]),
                "server": statistics.median(t_server),
                "static": statistics.median(t_static),
                "floor": statistics.median(t_floor),
            }
            rows.append(
                {
                    "cell": name,
                    **med,
                    "speedup": med["gomez"] / med["server"],
                    "vs_floor": med["server"] / med["floor"],
                    "leafcube_equal": same(by_server, floor) and same(by_static, floor),
                    "gomez_equal": gomez_matches(npz, floor, scales),
                }
            )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    header = (
        "| ROI, dates (2 layers) | GomezEngine | leafcube server | leafcube static | local floor "
        "| GomezEngine ÷ leafcube | leafcube ÷ floor | same pixels (leafcube / GomezEngine) |"
    )
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['cell']} | {r['gomez']:.2f} s | {r['server']:.3f} s | {r['static']:.3f} s "
            f"| {r['floor']:.3f} s | **{r['speedup']:.0f}×** | {r['vs_floor']:.1f}× "
            f"| {'yes' if r['leafcube_equal'] else 'NO'} / {r['gomez_equal']} |"
        )
    ok = all(r["leafcube_equal"] and r["gomez_equal"] == "yes" for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
