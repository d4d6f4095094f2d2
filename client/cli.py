"""``leafcube get``: extract an ROI and date range from a cube into files, no Python needed."""

from __future__ import annotations

import argparse

from leafcube.catalogue.qc import DEFAULT_QC, QC_FILTERS
from leafcube.catalogue.roi import WGS84

from .source import MODES


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``leafcube get`` to the ``leafcube`` command."""
    p = subparsers.add_parser(
        "get",
        help="extract an ROI and date range from a cube to files",
        description=(
            "Extract layers over an ROI and a date range from a leafcube server, a cube "
            "folder on a web server, or a local cube folder, into one NetCDF file "
            "(OUT ends in .nc) or a GeoTIFF per layer and date (OUT is a folder)."
        ),
    )
    p.add_argument("source", help="server URL, URL of a cube folder, or a local cube folder")
    p.add_argument("--layers", required=True, help="comma-separated layers, e.g. LAI,fCOVER")
    p.add_argument(
        "--roi",
        required=True,
        help="GeoJSON file or URL, GeoJSON text, or a bbox: --roi=minx,miny,maxx,maxy",
    )
    p.add_argument(
        "--roi-crs",
        default=WGS84,
        help="CRS of the ROI's coordinates (default lon/lat), e.g. EPSG:3979",
    )
    p.add_argument("--start", help="first day, YYYY-MM-DD (default: the first date)")
    p.add_argument("--end", help="last day, YYYY-MM-DD (default: the last date)")
    p.add_argument(
        "--qc",
        choices=QC_FILTERS,
        default=DEFAULT_QC,
        help=f"data: mask only missing data; valid: mask QC-flagged estimates too "
        f"(default: {DEFAULT_QC})",
    )
    p.add_argument("--collection", help="collection name (default: the only one)")
    p.add_argument("--mode", choices=MODES, help="force how pixels are fetched")
    p.add_argument("--out", required=True, help="FILE.nc, or a folder for GeoTIFFs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def _roi(text: str) -> str | list[float]:
    """A bbox when ``text`` is four comma-separated numbers, else the text itself."""
    parts = text.split(",")
    if len(parts) == 4:
        try:
            return [float(v) for v in parts]
        except ValueError:
            pass
    return text


def run(args: argparse.Namespace) -> int:
    """Extract, write, and print what was written and which dates were empty."""
    from .cube import Cube

    with Cube(args.source, args.mode, progress=not args.quiet) as cube:
        res = cube.extract(
            args.layers,
            _roi(args.roi),
            start=args.start,
            end=args.end,
            qc=args.qc,
            collection=args.collection,
            roi_crs=args.roi_crs,
        )
        mode = cube.mode
    written = res.save(args.out)
    print(
        f"{len(res.dates)} dates × {len(res)} layers, {res.shape[0]}×{res.shape[1]} px "
        f"from {mode} mode → {args.out} ({len(written)} file(s))"
    )
    if res.empty_dates:
        print(f"no valid pixels on: {', '.join(res.empty_dates)}")
    return 0
