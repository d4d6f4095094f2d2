"""Which ASGI server runs leafcube best: hypercorn, granian and uvicorn on the same app.

Each server runs ``leafcube.server.app:create_app`` over the same cube with one worker
pinned to core 0, all three up at once with runs alternating between them (so load drift
on a shared machine hits all alike); the lean load generator (``httpload``) runs on core
1. Three requests:
a small JSON answer (``/``), a 16 KiB byte range of a COG (what GDAL sends) and a warm
map tile, at 1 and 16 clients over HTTP/1.1, and over h2c where the server speaks it.
Also records which protocols each server offers on one plain port.

Run: ``.venv/bin/python bench/servers.py`` (``--seconds 10``); it first builds the
bench/tiles.py cube if needed and installs uvicorn and hypercorn (which leafcube itself
does not need) into ``bench/out/servers-venv``.
"""

from __future__ import annotations

import argparse
import json
import site
import subprocess
import sys
from pathlib import Path

import httpload
import tiles

from leafcube.server.config import ENV_CUBE

HERE = Path(__file__).parent
VENV = tiles.OUT / "servers-venv"
APP = "leafcube.server.app:create_app"


def servers_venv() -> Path:
    """A venv with uvicorn and hypercorn that also imports everything from leafcube's own venv."""
    py = VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        lib = next((VENV / "lib").glob("python3*")) / "site-packages"
        main = site.getsitepackages()[0]
        (lib / "leafcube-main.pth").write_text(f"import site; site.addsitedir({main!r})\n")
    if subprocess.run([str(py), "-c", "import uvicorn, hypercorn"], capture_output=True).returncode:
        reqs = HERE / "requirements-servers.txt"
        subprocess.run([str(py), "-m", "pip", "install", "-q", "-r", str(reqs)], check=True)
    return VENV / "bin"


def commands(port: int, venv: Path) -> dict[str, list[str]]:
    """Each server's command line: one worker, the app factory, quiet logs."""
    bindir = Path(sys.executable).parent
    common = ["--workers", "1", "--log-level", "warning"]
    return {
        "granian": [str(bindir / "granian"), *f"--interface asgi --factory --http auto "
                    f"--port {port}".split(), *common, APP],
        "hypercorn": [str(venv / "hypercorn"), "--bind", f"127.0.0.1:{port}", *common,
                      f"{APP}()"],
        "uvicorn": [str(venv / "uvicorn"), "--factory", APP, "--port", str(port), *common,
                    "--no-access-log"],
    }  # fmt: skip


def protocols(url: str) -> dict[str, bool]:
    """Which protocols answer on the plain port (curl decides)."""
    found = {}
    for name, flag in (("http/1.1", "--http1.1"), ("h2c", "--http2-prior-knowledge")):
        out = subprocess.run(
            [
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_version}",
                "--max-time",
                "5",
                flag,
                url,
            ],
            capture_output=True,
            text=True,
        ).stdout
        found[name] = out in ("1.1", "2")
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=10, help="length of each measured run")
    ap.add_argument("--clients", default="1,16", help="concurrent clients, comma-separated")
    args = ap.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    venv = servers_venv()
    cube = tiles.make_cube(4000)
    coll, date, tile_list, cog = tiles.tile_paths(cube)
    tile_paths = [
        f"/api/collections/{coll}/tiles/LAI/{date}/WebMercatorQuad/{z}/{x}/{y}.png"
        for z, x, y in tile_list
    ]
    workloads = {  # name: (paths, extra headers)
        "json": (["/"], None),
        "range16k": (["/" + str(Path(cog).relative_to(cube))], {"range": "bytes=0-16383"}),
        "tile": (tile_paths, None),
    }
    httpload.pin(tiles.LOAD_CORE)
    ports = {name: 18711 + i for i, name in enumerate(("granian", "hypercorn", "uvicorn"))}
    procs: dict = {}
    results: dict = {name: {"runs": []} for name in ports}
    try:
        for name, port in ports.items():
            url = f"http://127.0.0.1:{port}"
            cmd = commands(port, venv)[name]
            procs[name] = httpload.start(
                cmd, f"{url}/catalogue.json", tiles.SERVER_CORE, {ENV_CUBE: str(cube)}
            )
            results[name]["protocols"] = protocols(url + "/")
            httpload.once("127.0.0.1", port, tile_paths)
        # all stay up (idle costs nothing); runs alternate so load drift hits all alike
        for proto in ("http/1.1", "h2c"):
            for what, (paths, headers) in workloads.items():
                for n in clients:
                    for name, port in ports.items():
                        if not results[name]["protocols"][proto]:
                            continue
                        res = httpload.load(
                            "127.0.0.1", port, paths, n, args.seconds, proto == "h2c", headers
                        )
                        row = res.row() | {"server": name, "protocol": proto, "request": what}
                        results[name]["runs"].append(row)
                        print(json.dumps(row), flush=True)
    finally:
        for proc in procs.values():
            httpload.stop(proc)
    (tiles.OUT / "servers.json").write_text(json.dumps(results, indent=1))
    print(
        "\nserver     protocol  request    "
        + "  ".join(f"{n:>3} clients req/s (p50/p99 ms)" for n in clients)
    )
    for name, r in results.items():
        for proto in ("http/1.1", "h2c"):
            for what in workloads:
                rows = [x for x in r["runs"] if x["protocol"] == proto and x["request"] == what]
                if rows:
                    cells = "  ".join(
                        f"{x['req_per_s']:>13.1f} ({x['p50_ms']:.1f}/{x['p99_ms']:.1f})"
                        for x in rows
                    )
                    print(f"{name:<10} {proto:<9} {what:<9} {cells}")
        missing = [p for p, ok in r["protocols"].items() if not ok]
        if missing:
            print(f"{name:<10} does not answer {', '.join(missing)} on the plain port")
    return 0


if __name__ == "__main__":
    sys.exit(main())
