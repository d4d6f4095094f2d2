"""``leafcube demo``: build the demo cube from synthetic LEAF exports, then serve it."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from leafcube.catalogue.folder import state_dir


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``leafcube demo`` to the CLI."""
    p = subparsers.add_parser(
        "demo",
        help="build (and serve) a small, realistic demo cube",
        description=(
            "Write 12 months of synthetic LEAF exports over a 12 km square across the "
            "tile42/tile43 boundary, ingest them into a cube, then serve it."
        ),
    )
    p.add_argument(
        "--cube",
        type=Path,
        default=Path("demo-cube"),
        metavar="DIR",
        help="cube folder (default demo-cube)",
    )
    p.add_argument("--no-serve", action="store_true", help="stop after building the cube")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to serve on (default 8000)")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Build the demo cube (the exports live in ``CUBE/.leafcube/demo-exports``) and serve it."""
    from .demo import make_exports  # heavy (GDAL): imported only to run, not for --help
    from .pipeline import ingest

    exports = make_exports(state_dir(args.cube) / "demo-exports")
    report = ingest(
        [exports], args.cube, workers=min(4, os.cpu_count() or 1), progress=sys.stderr.isatty()
    )
    for line in report.failures:
        print(f"leafcube demo: error: {line}", file=sys.stderr)
    print(f"leafcube demo: {args.cube}: {report.summary()}", file=sys.stderr)
    if report.failures:
        return 1
    serve = ["serve", str(args.cube), "--host", args.host, "--port", str(args.port)]
    if args.no_serve:
        return 0
    missing = [m for m in ("fastapi", "granian") if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"leafcube demo: serving needs leafcube's server extra ({missing[0]} is not "
            "installed): pip install 'leafcube[server]', then: "
            f"leafcube {' '.join(serve)}"
        )
        return 0
    from leafcube.cli.main import main

    return main(serve)
