"""Static range requests: nginx alone vs nginx → leafcube vs leafcube alone, same files.

What GDAL sends when it reads a COG over /vsicurl/: 16 KiB byte ranges of many files,
over HTTP/2 and TLS. Three servers answer them from one cube folder, each confined to
core 0, while ``h2load`` (nghttp2's lean C load generator) runs on core 1:

- **nginx alone**: the static-only configuration ``leafcube deploy nginx`` writes
  (what a partner's plain web server does);
- **nginx → leafcube**: the same nginx proxying every request to one ``leafcube serve``
  worker over keep-alive HTTP/1.1 (leafcube's static mirror behind a proxy);
- **leafcube alone**: ``leafcube serve --certfile --keyfile`` answering h2 itself.

Each answer is checked byte for byte first; each cell is the median of ``--repeat``
runs. A run is a number of requests, not a duration: nginx ends an HTTP/2 connection
after 10,000 requests (``keepalive_requests``) and h2load does not reconnect, so a timed
run stalled there and under-reported nginx; each connection now sends fewer.
Run: ``.venv/bin/python bench/static.py`` (``--per-connection 9000 --repeat 3``); it
installs ``h2load`` (Debian ``nghttp2-client``) when missing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from leafcube.catalogue import load
from leafcube.deploy import nginx, tls
from leafcube.deploy.stack import stop, wait_listening

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "static"
RANGE = (16384, 32767)
#: (clients, concurrent streams per client)
LOADS = [(1, 1), (4, 8)]

PROXY_SITE = """
upstream leafcube_bench {{
    server 127.0.0.1:{upstream};
    keepalive 32;
}}
server {{
    listen 127.0.0.1:{port} ssl http2;
    include {conf_dir}/tls.conf;
    location / {{
        proxy_pass http://leafcube_bench;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
    }}
}}
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def h2load() -> str:
    """The h2load binary, installed from Debian's nghttp2-client when missing."""
    if not shutil.which("h2load"):
        log("installing h2load (apt-get install nghttp2-client)")
        subprocess.run(["apt-get", "install", "-y", "-q", "nghttp2-client"], check=True)
    return shutil.which("h2load")


def bench_cube() -> Path:
    """The demo cube, ingested once into bench/out/static/cube."""
    from leafcube.ingest.demo import make_exports
    from leafcube.ingest.pipeline import ingest

    cube = OUT / "cube"
    if not (cube / "catalogue.json").exists():
        log("building the demo cube (once)")
        ingest([make_exports(OUT / "exports")], cube, workers=2, progress=sys.stderr.isatty())
    return cube


def cog_paths(cube: Path) -> list[str]:
    """Every COG of the cube long enough to hold the range, as URL paths."""
    cat = load(cube)
    hrefs = [
        t.href
        for c in cat.collections.values()
        for e in c.dates.values()
        for lf in e.layers.values()
        for t in lf.tiles.values()
    ]
    return ["/" + h for h in hrefs if (cube / h).stat().st_size > RANGE[1]]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], port: int) -> subprocess.Popen:
    """Start a server on core 0 and wait until it accepts connections."""
    proc = subprocess.Popen(
        ["taskset", "-c", "0", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_listening("127.0.0.1", port, proc)
    return proc


def check_bytes(url: str, path: str, cube: Path, cert: Path) -> None:
    """One range request must return exactly the file's bytes, over HTTP/2."""
    out = subprocess.run(
        ["curl", "-sS", "--http2", "--cacert", str(cert), "-r", f"{RANGE[0]}-{RANGE[1]}",
         "-w", "%{http_version} %{http_code}", "-o", "-", url + path],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    body, tail = out[: -len(b"2 206")], out[-len(b"2 206") :]
    expected = (cube / path.lstrip("/")).read_bytes()[RANGE[0] : RANGE[1] + 1]
    if tail != b"2 206" or body != expected:
        sys.exit(f"{url}{path}: wrong answer to a range request ({tail.decode()})")


#: nginx's requests per HTTP/2 connection before it closes it (``keepalive_requests``).
NGINX_REQUESTS_PER_CONNECTION = 10_000


def run_h2load(url: str, paths: list[str], clients: int, streams: int, per_conn: int) -> dict:
    """Requests per second, MB/s and mean latency of one h2load run on core 1:
    ``per_conn`` requests on each of ``clients`` connections."""
    uris = OUT / "uris.txt"
    uris.write_text("".join(url + p + "\n" for p in paths))
    cmd = ["taskset", "-c", "1", h2load(), "-t", "1", "-c", str(clients), "-m", str(streams)]
    cmd += ["-n", str(clients * per_conn), "-H", f"range: bytes={RANGE[0]}-{RANGE[1]}"]
    out = subprocess.run([*cmd, "-i", str(uris)], capture_output=True, text=True, check=True).stdout
    rate = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s, ([\d.]+)([KMG]?B)/s", out)
    # every request is asked for and must come back: failed or timed out ones are errors
    failed = re.search(r"(\d+) failed", out)
    timeouts = re.search(r"(\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    latency = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    if not (rate and failed and timeouts and codes and latency):
        sys.exit(f"could not read h2load's output:\n{out}")
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[latency.group(2)]
    unit = {"B": 1e-6, "KB": 1e-3, "MB": 1.0, "GB": 1e3}[rate.group(3)]
    return {
        "req_per_s": round(float(rate.group(1)), 1),
        "MB_per_s": round(float(rate.group(2)) * unit, 1),
        "mean_ms": round(float(latency.group(1)) * scale, 2),
        "errors": sum(int(n) for n in (*codes.groups()[2:], *failed.groups(), *timeouts.groups())),
    }


def peers(cube: Path, cert: Path, key: Path) -> dict[str, list[tuple[list[str], int]]]:
    """How to start each peer: its processes in start order, each with its port.

    The last process of each peer is the one clients talk to over HTTPS.
    """
    leafcube = [sys.executable, "-m", "leafcube.cli.main", "serve", str(cube), "--workers", "1"]
    alone, upstream, proxied, direct = free_port(), free_port(), free_port(), free_port()
    site = nginx.Site(cube=cube, cert=cert, key=key, listen=f"127.0.0.1:{alone}", access_log="off")
    static_conf = nginx.render(site, OUT / "nginx-alone")
    proxy_dir = OUT / "nginx-proxy"
    proxy_conf = nginx.render(site, proxy_dir)
    (proxy_dir / "site.conf").write_text(
        PROXY_SITE.format(upstream=upstream, port=proxied, conf_dir=proxy_dir.resolve())
    )
    for conf in (static_conf, proxy_conf):
        nginx.check(conf)
    return {
        "nginx alone": [(nginx.nginx_command(static_conf), alone)],
        "nginx → leafcube": [
            ([*leafcube, "--port", str(upstream)], upstream),
            (nginx.nginx_command(proxy_conf), proxied),
        ],
        "leafcube alone": [
            (
                [*leafcube, "--port", str(direct), "--certfile", str(cert), "--keyfile", str(key)],
                direct,
            )
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--per-connection",
        type=int,
        default=9000,
        help="requests per connection in a run (under nginx's 10,000 a connection)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell; the median is kept")
    args = parser.parse_args()
    if not 0 < args.per_connection < NGINX_REQUESTS_PER_CONNECTION:
        parser.error(f"--per-connection must be 1..{NGINX_REQUESTS_PER_CONNECTION - 1}")
    OUT.mkdir(parents=True, exist_ok=True)
    cube = bench_cube()
    cert, key = tls.self_signed(OUT / "tls", ["localhost"])
    paths = cog_paths(cube)
    results: dict[str, dict[str, dict]] = {}
    for name, processes in peers(cube, cert, key).items():
        procs = []
        try:
            for cmd, port in processes:
                procs.append(start(cmd, port))
            url = f"https://127.0.0.1:{processes[-1][1]}"
            check_bytes(url, paths[0], cube, cert)
            for clients, streams in LOADS:
                label = f"{clients}×{streams}"
                n = args.per_connection
                log(f"{name}: {clients} client(s) × {streams} stream(s), {n} requests each")
                runs = [run_h2load(url, paths, clients, streams, n) for _ in range(args.repeat)]
                runs.sort(key=lambda r: r["req_per_s"])
                results.setdefault(label, {})[name] = runs[len(runs) // 2]  # the median run
        finally:
            for p in reversed(procs):
                stop(p)
    for rows in results.values():
        base = rows["nginx alone"]["req_per_s"]
        for row in rows.values():
            row["vs_nginx"] = round(row["req_per_s"] / base, 2) if base else None
    # other work on the machine moves these figures: record how busy it was
    report = {"load_average_1min_at_end": os.getloadavg()[0], "results": results}
    (OUT / "static.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
