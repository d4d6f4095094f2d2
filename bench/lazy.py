"""Lazy open benchmark: ``Cube.open_dataset`` (static and server mode) against odc-stac's
``load`` on the same bbox and dates, side by side in one run.

One run makes a current LEAF export (LAI, QC, Date; ``--months`` months of a smooth,
noisy landscape with clouds, ``--size`` pixels a side, as ``bench/ingest.py`` writes
them), ingests it with the plain nginx's URL as base URL (so the static STAC's
parts' ``items.json`` have absolute hrefs), serves the cube with nginx and with ``leafcube
serve``, and times, each peer in a fresh process:

- **open**: laying out the lazy Dataset (no pixel read);
- **first array**: computing one 512² chunk of one date;
- **full cube**: computing the whole bbox over every date (LAI, masked and scaled);
- **bytes read** from nginx (its access log), for the peers that read COGs from it.

The values of every peer are checked equal. Run:
``.venv/bin/python bench/lazy.py [--size 4096] [--months 6] [--box 2048]``.
"""

from __future__ import annotations

import argparse
import calendar
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import RES, X0, Y0, write_layer  # noqa: E402
from bench.mosaic import NGINX, NGINX_CONF  # noqa: E402  (logs method, URI, status, bytes, range)
from leafcube.ingest.pipeline import ingest  # noqa: E402

PEER = r"""
import json, sys, time
import numpy as np
kind, url, coll, x0, y0, x1, y1, out = sys.argv[1:]
x0, y0, x1, y1 = map(float, (x0, y0, x1, y1))
t0 = time.perf_counter()
if kind == "odc-stac":
    import odc.stac, pystac
    home = pystac.Collection.from_file(f"{url}/stac/{coll}/collection.json")
    parts = [lk.absolute_href.rsplit("/", 1)[0] for lk in home.get_child_links()]
    items = [i for p in parts for i in pystac.ItemCollection.from_file(f"{p}/items.json")]
    ds = odc.stac.load(items, bands=["LAI"], crs="EPSG:3979", resolution=20,
                       x=(x0, x1), y=(y1, y0), chunks={"x": 512, "y": 512})
    band = items[0].assets["LAI"].extra_fields["raster:bands"][0]
    lai = ds.LAI.where(ds.LAI != band["nodata"]) * np.float32(band["scale"])
else:
    from leafcube.client import Cube
    cube = Cube(url, progress=False)
    ds = cube.open_dataset("LAI", (x0, y0, x1, y1), roi_crs="EPSG:3979")
    lai = ds.LAI
t_open = time.perf_counter() - t0
lai.isel(time=0, y=slice(0, 512), x=slice(0, 512)).values
t_first = time.perf_counter() - t0
full = lai.values.astype(np.float32)
t_full = time.perf_counter() - t0
np.save(out, full)
print(json.dumps({"open": t_open, "first": t_first, "full": t_full}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, *, any_status: bool = False) -> None:
    """Until ``url`` answers 200 (or anything, with ``any_status``: the process is up) or
    the process exits."""
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200 or any_status:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a server that is starting: no event to wait on
    raise RuntimeError(f"{url} did not answer")


def make_exports(folder: Path, size: int, months: int) -> Path:
    """A current LEAF export (``tile42_2024/``) of ``months`` months."""
    src = folder / "tile42_2024"
    src.mkdir(parents=True)
    for m in range(months):
        mon = calendar.month_abbr[m + 1]
        for kind, name in (("LAI", "LAI"), ("QC0", "QC"), ("Date", "Date")):
            write_layer(src / f"tile42_{mon}_{name}_20m.tif", size, kind, seed=m + 1)
    return src


def nginx_bytes(log: Path, since: int) -> tuple[int, int]:
    """Bytes and requests nginx sent for COGs since line ``since``."""
    lines = log.read_text().splitlines()[since:]
    cog = [ln.split() for ln in lines if ".tif" in ln.split()[1]]
    return sum(int(f[3]) for f in cog), len(cog)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4096, help="pixels a side of the export")
    ap.add_argument("--months", type=int, default=6, help="dates")
    ap.add_argument("--box", type=int, default=2048, help="pixels a side of the bbox")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="leafcube-lazy-") as tmp:
        work = Path(tmp)
        port, api_port = free_port(), free_port()
        static_url, api_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}"
        cube = work / "cube"
        src = make_exports(work / "exports", args.size, args.months)
        report = ingest([src], cube, workers=2, progress=False, base_url=static_url)
        assert report.ok, report.failures
        coll = "leaf-s2-20m-monthly"
        off = (args.size - args.box) // 2 * RES
        x0, y1 = X0 + off, Y0 - off
        bbox = (x0, y1 - args.box * RES, x0 + args.box * RES, y1)
        conf_dir = work / "nginx"
        conf_dir.mkdir()
        user = "user root;" if __import__("os").geteuid() == 0 else ""
        conf = NGINX_CONF.format(user=user, tmp=conf_dir, port=port, root=cube)
        (conf_dir / "nginx.conf").write_text(conf)
        procs = [
            subprocess.Popen([NGINX, "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf")]),
            subprocess.Popen(
                [sys.executable, "-m", "leafcube.cli.main", "serve", str(cube)]
                + ["--host", "127.0.0.1", "--port", str(api_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        ]
        try:
            wait_for(f"{static_url}/catalogue.json", procs[0])
            wait_for(f"{api_url}/catalogue.json", procs[1])
            log = conf_dir / "access.log"
            rows = {}
            arrays = {}
            for kind, url in (
                ("odc-stac", static_url),
                ("leafcube static", static_url),
                ("leafcube server", api_url),
            ):
                since = len(log.read_text().splitlines())
                out = work / f"{kind.replace(' ', '-')}.npy"
                cmd = [sys.executable, "-c", PEER, kind, url, coll, *map(str, bbox), str(out)]
                done = subprocess.run(cmd, capture_output=True, text=True, check=True)
                rows[kind] = json.loads(done.stdout.strip().splitlines()[-1])
                rows[kind]["bytes"], rows[kind]["requests"] = nginx_bytes(log, since)
                arrays[kind] = np.load(out)
        finally:
            for p in procs:
                p.terminate()
                p.wait()
    ref = arrays["odc-stac"]
    for kind, a in arrays.items():
        assert a.shape == ref.shape and np.array_equal(a, ref, equal_nan=True), kind
    print(
        f"lazy open: {args.box}² px bbox x {args.months} dates of LAI, "
        f"from a {args.size}² px export; values equal in every peer\n"
    )
    print(
        "| peer | open s | first 512² chunk s | full cube s | COG MB from nginx | requests |"
        " full vs odc-stac |\n|---|---|---|---|---|---|---|"
    )
    base = rows["odc-stac"]["full"]
    for kind, r in rows.items():
        mb = f"{r['bytes'] / 1e6:.1f}" if r["requests"] else "— (server reads locally)"
        print(
            f"| {kind} | {r['open']:.2f} | {r['first']:.2f} | {r['full']:.2f} | {mb} | "
            f"{r['requests']} | {base / r['full']:.2f}x |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
