"""Mosaic overview benchmark: zoomed-out reads of a date's mosaic over ``/vsicurl/``, the
mosaic VRT without overviews (as cubes had them before) and with them, side by side.

One run makes its own inputs: a 2 x 2 grid of overlapping LEAF-like tile exports (current
LEAF: LAI, QC, Date; ``--tile`` px a side, 256 px overlap) made with ``bench/ingest.py``'s
generator, ingested with ``leafcube ingest``. "Before" is a copy of the LAI mosaic with its
``<Overview>`` elements removed (the same tiles, the same sources). A plain nginx serves
the cube on 127.0.0.1 and logs each request's ``$body_bytes_sent``; every read runs in a
fresh process (no GDAL cache carried over), with the settings docs/catalogue.md gives.

Reads, at 1/16 and 1/256 of full resolution:

- ``rasterio read``: ``read(out_shape=…)`` (nearest), rasterio's bundled GDAL;
- ``rasterio read, average``: the same with ``resampling=average``;
- ``rasterio WarpedVRT 3857``: a read through a WarpedVRT to Web Mercator, as rio-tiler
  (TiTiler) and QGIS (reprojecting on the fly) read;
- ``gdal_translate -outsize`` and ``gdalwarp -t_srs EPSG:3857 -ts``: Debian's GDAL CLI
  (the GDAL QGIS uses on Debian);
- ``QGIS render``: Debian's QGIS (``python3-qgis``, headless) renders the whole mosaic into
  a 1000 x 1000 px map in the mosaic's CRS and in Web Mercator (QGIS reprojecting), as a
  user adding the layer sees it first; skipped when ``/usr/bin/python3`` has no ``qgis``.

Reported per read: bytes fetched, requests, seconds (the rasterio timings are open + read
inside the process; the CLI timings are the whole process). Run:
``.venv/bin/python bench/mosaic.py`` (``--tile``, ``--repeat``). Needs leafcube, nginx and
Debian's ``gdal-bin``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import rasterio
from affine import Affine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import RES, X0, Y0, write_layer  # noqa: E402
from tests.conftest import NGINX, STATIC_SITE, free_port  # noqa: E402
from tests.conftest import NGINX_CONF as PLAIN_NGINX_CONF  # noqa: E402

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
LEAFCUBE = [sys.executable, "-m", "leafcube.cli.main", "ingest"]
COLL, KEY = "leaf-s2-20m-monthly", "2024-08-01"
#: The client settings docs/catalogue.md recommends for /vsicurl/.
GDAL_ENV = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.vrt",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "VSI_CACHE": "TRUE",
}
#: tests/conftest.py's nginx serving a folder, its log giving each request's method, URI,
#: status, bytes sent and Range.
NGINX_CONF = PLAIN_NGINX_CONF.replace("{site}", STATIC_SITE).replace(
    "access_log {tmp}/access.log;",
    "log_format ranges '$request_method $request_uri $status $body_bytes_sent \"$http_range\"';"
    "\n    access_log {tmp}/access.log ranges;",
)
#: One rasterio read in a fresh process: prints the seconds of open + read.
RASTERIO_READ = """\
import sys, time
import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
url, factor, how = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
with rasterio.open(url) as src:
    if how == "warp":
        with WarpedVRT(src, crs="EPSG:3857") as vrt:
            shape = (max(1, vrt.height // factor), max(1, vrt.width // factor))
            vrt.read(1, out_shape=shape)
    else:
        shape = (max(1, src.height // factor), max(1, src.width // factor))
        src.read(1, out_shape=shape, resampling=Resampling[how])
print(time.perf_counter() - t0)
"""
#: One QGIS render of the whole layer in a fresh process: ``url crs out.png``; prints seconds.
QGIS_RENDER = """\
import os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform,
    QgsMapRendererSequentialJob, QgsMapSettings, QgsProject, QgsRasterLayer)
from qgis.PyQt.QtCore import QSize
app = QgsApplication([], False)
app.initQgis()
url, crs, out = sys.argv[1:4]
t0 = time.perf_counter()
layer = QgsRasterLayer(url, "mosaic", "gdal")
settings = QgsMapSettings()
settings.setLayers([layer])
settings.setOutputSize(QSize(1000, 1000))
dest = QgsCoordinateReferenceSystem(crs)
settings.setDestinationCrs(dest)
to_dest = QgsCoordinateTransform(layer.crs(), dest, QgsProject.instance())
settings.setExtent(to_dest.transformBoundingBox(layer.extent()))
job = QgsMapRendererSequentialJob(settings)
job.start()
job.waitForFinished()
job.renderedImage().save(out)
print(time.perf_counter() - t0)
"""
SYSTEM_PYTHON = "/usr/bin/python3"


def make_exports(drive: Path, tile: int, overlap: int = 256) -> Path:
    """A 2 x 2 grid of current-LEAF tile exports (LAI, QC, Date), ``tile`` px a side,
    overlapping by ``overlap`` px, each with its own landscape and clouds."""
    step = tile - overlap
    for i, (r, c) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        name = f"tile{40 + 10 * r + c}"
        folder = drive / f"{name}_2024"
        folder.mkdir(parents=True, exist_ok=True)
        x0, y0 = X0 + c * step * RES, Y0 - r * step * RES
        for kind in ("LAI", "QC0", "Date"):
            path = folder / f"{name}_Aug_{kind.rstrip('0')}_20m.tif"
            write_layer(path, tile, kind, 7 + i)
            with rasterio.open(path, "r+") as dst:  # moved to its place in the grid
                dst.transform = Affine(RES, 0.0, x0, 0.0, -RES, y0)
    return drive


def ingest(drive: Path, cube: Path) -> Path:
    """``leafcube ingest`` of ``drive`` into ``cube``; the folder of the one date."""
    subprocess.run([*LEAFCUBE, str(drive), "--cube", str(cube), "--quiet"], check=True)
    return cube / COLL / KEY


def without_overviews(mosaic: Path) -> Path:
    """A copy of ``mosaic`` next to it with no ``<Overview>`` elements: the mosaic as it was."""
    text = re.sub(r"    <Overview>.*?</Overview>\n", "", mosaic.read_text(), flags=re.S)
    copy = mosaic.with_name(f"{mosaic.stem}-plain.vrt")
    copy.write_text(text)
    return copy


@dataclass
class Served:
    """A plain nginx over a folder, its access log counting bytes."""

    url: str
    root: Path
    log: Path
    marks: int = 0

    def take(self) -> list[tuple[str, str, int, int, str]]:
        """The requests logged since the last call (method, URI, status, bytes, Range).

        Synchronised without sleeping on a guess: a marker request is sent and the log is
        read until its line is there (nginx logs a request once its response is sent, in
        order, so every earlier request is logged by then)."""
        self.marks += 1
        mark = f"/catalogue.json?mark={self.marks}"
        httpx.head(self.url + mark)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = self.log.read_text().splitlines()
            if any(f" {mark} " in line for line in lines):
                break
        self.log.write_text("")
        rows = []
        for line in lines:
            method, uri, status, sent, rng = line.split(" ", 4)
            if "?mark=" not in uri:
                rows.append((method, uri, int(status), int(sent), rng.strip('"')))
        return rows


@contextmanager
def nginx(root: Path) -> Iterator[Served]:
    """Serve ``root`` on a free 127.0.0.1 port with nginx; stopped (by its pid) on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        user = "user root;" if os.geteuid() == 0 else ""
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=user, tmp=tmp, port=port, root=root))
        log = Path(tmp) / "access.log"
        log.touch()
        proc = subprocess.Popen([NGINX, "-p", tmp, "-c", str(conf)])
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.head(url + "/catalogue.json")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise
            served = Served(url, root, log)
            served.take()
            yield served
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@dataclass
class Read:
    """One zoomed-out read: what was fetched and how long it took."""

    bytes: int
    requests: int
    seconds: float


def read_command(how: str, url: str, factor: int, out: Path) -> list[str]:
    """The command of one read (a fresh process) of ``url`` at ``1/factor``."""
    if how.startswith("EPSG:"):
        return [SYSTEM_PYTHON, "-c", QGIS_RENDER, url, how, str(out.with_suffix(".png"))]
    if how == "gdal_translate":
        pct = f"{100 / factor}%"
        return ["gdal_translate", "-q", "-outsize", pct, pct, url, str(out)]
    if how == "gdalwarp":
        with rasterio.open(url) as src:  # the output size from the source's
            size = [str(max(1, src.width // factor)), str(max(1, src.height // factor))]
        return ["gdalwarp", "-q", "-overwrite", "-t_srs", "EPSG:3857", "-ts", *size, url, str(out)]
    return [sys.executable, "-c", RASTERIO_READ, url, str(factor), how]


def timed_read(served: Served, cmd: list[str]) -> Read:
    """Run one read; its bytes and requests from nginx's log."""
    env = {**os.environ, **GDAL_ENV}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rows = served.take()
    # QGIS exits non-zero here after rendering: on closing it tries to write the VRT back,
    # which /vsicurl/ refuses; the render is done and timed by then.
    if proc.returncode != 0 and cmd[0] != SYSTEM_PYTHON:
        raise RuntimeError(f"{cmd[:3]} failed: {proc.stderr[-500:]}")
    seconds = float(proc.stdout.split()[-1]) if cmd[0] in (sys.executable, SYSTEM_PYTHON) else wall
    return Read(sum(r[3] for r in rows), len(rows), seconds)


READS = {
    "rasterio read": "nearest",
    "rasterio read, average": "average",
    "rasterio WarpedVRT 3857": "warp",
    "gdal_translate -outsize (GDAL 3.6)": "gdal_translate",
    "gdalwarp -t_srs 3857 -ts (GDAL 3.6)": "gdalwarp",
}
QGIS_READS = {"QGIS render, mosaic CRS": "EPSG:3979", "QGIS render, EPSG:3857": "EPSG:3857"}


def has_qgis() -> bool:
    """Whether Debian's Python has QGIS (``python3-qgis``)."""
    probe = [SYSTEM_PYTHON, "-c", "import qgis.core"]
    return (
        Path(SYSTEM_PYTHON).exists() and subprocess.run(probe, capture_output=True).returncode == 0
    )


def full_res_bytes(folder: Path, layer: str) -> int:
    """The bytes of the full-resolution blocks of every tile COG of ``layer`` (what a read
    without overviews has to fetch), from GDAL's TIFF block sizes."""
    total = 0
    for tif in sorted(folder.glob(f"*/{layer}.tif")):
        with rasterio.open(tif) as src:
            for _, window in src.block_windows(1):
                col, row = window.col_off // 512, window.row_off // 512
                total += int(src.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1) or 0)
    return total


Results = dict[str, dict[str, dict[str, Read]]]


def run_reads(
    served: Served,
    mosaics: dict[str, Path],
    reads: list[tuple[str, str, int]],
    repeat: int,
    work: Path,
) -> Results:
    """Every read of ``reads`` (name, how, factor; factor 0 for a QGIS render) on each
    mosaic, interleaved (before, after, before, …), the fastest of ``repeat`` runs kept."""
    results: Results = {}
    for name, how, factor in reads:
        scale = f"1/{factor}" if factor else "1000 px"
        row = results.setdefault(name, {}).setdefault(scale, {})
        for _ in range(repeat):
            for when, mosaic in mosaics.items():
                url = f"/vsicurl/{served.url}/{mosaic.relative_to(served.root)}"
                got = timed_read(served, read_command(how, url, factor, work / "out.tif"))
                if when not in row or got.seconds < row[when].seconds:
                    row[when] = got
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tile", type=int, default=8192, help="tile size in px (2 x 2 tiles)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per read; the fastest is kept")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=OUT if OUT.is_dir() else None) as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        folder = ingest(make_exports(work / "drive", args.tile), work / "cube")
        print(f"made and ingested the cube in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        mosaics = {"before": without_overviews(folder / "LAI.vrt"), "after": folder / "LAI.vrt"}
        with rasterio.open(folder / "LAI.vrt") as src:
            shape = (src.height, src.width)
        full = full_res_bytes(folder, "LAI")
        with nginx(work / "cube") as served:
            reads = [(n, h, f) for n, h in READS.items() for f in (16, 256)]
            if has_qgis():
                reads += [(n, h, 0) for n, h in QGIS_READS.items()]
            results = run_reads(served, mosaics, reads, args.repeat, work)
    print(f"LAI mosaic {shape[1]} x {shape[0]} px, 4 tiles of {args.tile}²;", end=" ")
    print(f"full-resolution blocks of its tiles: {full / 1e6:.1f} MB\n")
    print("| read | scale | before: MB, requests, s | after: MB, requests, s |")
    print("|---|---|---|---|")
    for name, scales in results.items():
        for scale, runs in scales.items():
            b, a = runs["before"], runs["after"]
            print(
                f"| {name} | {scale} | {b.bytes / 1e6:.2f}, {b.requests}, {b.seconds:.2f} "
                f"| {a.bytes / 1e6:.2f}, {a.requests}, {a.seconds:.2f} |"
            )
    OUT.mkdir(exist_ok=True)
    doc = {
        "tile": args.tile,
        "shape": shape,
        "full_res_bytes": full,
        "results": {
            n: {s: {w: asdict(r) for w, r in runs.items()} for s, runs in sc.items()}
            for n, sc in results.items()
        },
    }
    (OUT / "mosaic.json").write_text(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
