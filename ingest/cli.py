"""``leafcube ingest SRC [SRC ...] --cube DIR``: the command-line face of :func:`ingest`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2023-08-01") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``leafcube ingest`` to the CLI."""
    p = subparsers.add_parser(
        "ingest",
        help="turn LEAF exports into COGs and a catalogue",
        description=(
            "Turn LEAF GeoTIFF exports (files or folders) into Cloud-Optimized GeoTIFFs, "
            "mosaics, catalogue.json, a STAC catalogue and GomezEngine views. Re-running "
            "adds only what is new. See docs/ingest.md."
        ),
    )
    p.add_argument("sources", nargs="+", type=Path, metavar="SRC", help="export files or folders")
    p.add_argument("--cube", required=True, type=Path, metavar="DIR", help="the cube folder")
    p.add_argument(
        "--collection",
        metavar="NAME",
        help="collection to ingest into (default from resolution and period)",
    )
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="files written at once (default 1)",
    )
    p.add_argument(
        "--base-url",
        metavar="URL",
        help="public URL of the cube folder, for absolute GomezEngine URLs (remembered)",
    )
    p.add_argument(
        "--year",
        type=int,
        metavar="YYYY",
        help="year of newer-style exports whose names carry none",
    )
    p.add_argument(
        "--layer",
        metavar="L",
        help="with --date and --tile: the layer of files whatever their names",
    )
    p.add_argument(
        "--date", type=_date, metavar="YYYY-MM-DD", help="first day of the period (with --layer)"
    )
    p.add_argument("--tile", metavar="T", help="tile or region name (with --layer)")
    p.add_argument(
        "--trust-folder-times",
        action="store_true",
        help=(
            "skip source sub-folders in which no file was added, removed or renamed since "
            "the last run that trusted them (misses a file rewritten in place)"
        ),
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the ingest; print one line per failure and a summary; non-zero if anything failed."""
    from .pipeline import Explicit, ingest  # heavy (GDAL): imported only to run, not for --help

    given = [args.layer, args.date, args.tile]
    if any(v is not None for v in given) and not all(v is not None for v in given):
        raise ValueError("--layer, --date and --tile go together")
    explicit = Explicit(args.layer, args.date, args.tile) if args.layer else None
    report = ingest(
        args.sources,
        args.cube,
        collection=args.collection,
        workers=args.workers,
        progress=not args.quiet and sys.stderr.isatty(),
        base_url=args.base_url,
        explicit=explicit,
        year=args.year,
        trust_folder_times=args.trust_folder_times,
    )
    for line in report.failures:
        print(f"leafcube ingest: error: {line}", file=sys.stderr)
    print(f"leafcube ingest: {report.summary()}", file=sys.stderr)
    return 1 if report.failures else 0
