"""``leafcube deploy nginx``: write an nginx HTTP/2 front for a cube and, with ``--run``, run it."""

from __future__ import annotations

import argparse
from pathlib import Path

from leafcube.catalogue import load
from leafcube.deploy import DeployError

from . import nginx, tls
from .stack import Stack, Worker

#: Listen addresses that mean "every interface"; clients reach them on 127.0.0.1.
WILDCARDS = ("0.0.0.0", "::")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``leafcube deploy``."""
    parser = subparsers.add_parser(
        "deploy",
        help="write (and run) an nginx + workers deployment",
        description="Deployment helpers. See docs/deploy.md.",
    )
    sub = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    p = sub.add_parser(
        "nginx",
        help="nginx (TLS, HTTP/2, static files) in front of leafcube workers",
        description=(
            "Write an nginx configuration that serves the cube's files itself over HTTP/2 "
            "and TLS and proxies /api/ to leafcube workers with failover. With --run, start "
            "the workers and nginx in the foreground; Ctrl-C stops them all."
        ),
    )
    p.add_argument(
        "--cube", type=Path, required=True, metavar="DIR", help="cube folder (holds catalogue.json)"
    )
    api = p.add_mutually_exclusive_group()
    api.add_argument(
        "--workers",
        type=int,
        default=2,
        metavar="N",
        help="local leafcube workers to run (default 2)",
    )
    api.add_argument(
        "--upstream",
        action="append",
        metavar="HOST:PORT",
        help="use workers that run elsewhere (repeatable; a name may resolve to several)",
    )
    api.add_argument(
        "--static-only", action="store_true", help="no API: serve the cube as plain files"
    )
    p.add_argument("--port", type=int, default=8443, metavar="P", help="HTTPS port (default 8443)")
    p.add_argument(
        "--listen", default="127.0.0.1", metavar="ADDR", help="address to bind (default 127.0.0.1)"
    )
    p.add_argument(
        "--worker-port",
        type=int,
        default=8001,
        metavar="P",
        help="port of the first local worker; the others follow (default 8001)",
    )
    p.add_argument(
        "--server-name", default="localhost", metavar="NAME", help="host name clients use"
    )
    p.add_argument("--cert", type=Path, metavar="FILE", help="TLS certificate chain (PEM)")
    p.add_argument("--key", type=Path, metavar="FILE", help="TLS private key (PEM)")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("leafcube-nginx"),
        metavar="DIR",
        help="folder for the configuration (default ./leafcube-nginx)",
    )
    p.add_argument(
        "--access-log",
        default="logs/access.log",
        metavar="PATH",
        help="a path (relative to --out), /dev/stdout, or off (default logs/access.log)",
    )
    p.add_argument(
        "--nginx", metavar="PATH", help="nginx executable (default: nginx on PATH or /usr/sbin)"
    )
    p.add_argument(
        "--run", dest="start", action="store_true", help="start the workers and nginx now"
    )
    p.set_defaults(run=run)


def certificate(args: argparse.Namespace) -> tuple[Path, Path]:
    """The given certificate and key, or a self-signed pair kept in ``OUT/tls``."""
    if (args.cert is None) != (args.key is None):
        raise DeployError("give both --cert and --key, or neither for a self-signed certificate")
    if args.cert is not None:
        for f in (args.cert, args.key):
            if not f.is_file():
                raise FileNotFoundError(f"no such file: {f}")
        return args.cert, args.key
    local = [] if args.listen in WILDCARDS else [args.listen]
    return tls.self_signed(args.out / "tls", [args.server_name, *local])


def run(args: argparse.Namespace) -> int:
    """Render the configuration, check it with ``nginx -t``, and run the stack if asked."""
    load(args.cube, check=False)  # a cube folder, not any folder
    if not 1 <= args.workers <= 64:
        raise DeployError("--workers must be between 1 and 64")
    workers = [] if args.upstream or args.static_only else list(range(args.workers))
    ports = [args.worker_port + i for i in workers]
    upstreams = tuple(args.upstream or (f"127.0.0.1:{p}" for p in ports))
    cert, key = certificate(args)
    host = f"[{args.listen}]" if ":" in args.listen else args.listen
    site = nginx.Site(
        cube=args.cube,
        cert=cert,
        key=key,
        listen=f"{host}:{args.port}",
        upstreams=() if args.static_only else upstreams,
        server_name=args.server_name,
        access_log=args.access_log,
    )
    conf = nginx.render(site, args.out)
    try:
        command = nginx.nginx_command(conf, args.nginx)
    except DeployError:
        if args.start or args.nginx:
            raise
        print(f"nginx configuration: {conf} (not checked: no nginx on this machine)")
        return 0
    nginx.check(conf, args.nginx)
    print(f"nginx configuration: {conf}")
    if not args.start:
        print(f"run it with: {' '.join(command)}")
        return 0
    run_dir = conf.parent / "run"
    run_dir.mkdir(exist_ok=True)
    stack = Stack(
        nginx_cmd=command,
        listen=("127.0.0.1" if args.listen in WILDCARDS else args.listen, args.port),
        bind=(args.listen, args.port),
        workers=[Worker(args.cube, p, run_dir) for p in ports],
    )
    with stack:
        print(
            f"leafcube: https://{args.server_name}:{args.port}/ "
            f"({len(ports)} local workers{', static only' if args.static_only else ''}); "
            "Ctrl-C stops"
        )
        return stack.supervise()
