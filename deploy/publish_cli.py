"""``leafcube publish``: copy a cube to a plain web server's folder, catalogue last."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leafcube.catalogue.folder import JSON_MAX_AGE

from .layout import PHASES, PublishPlan, phase_of
from .publish import publish


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``leafcube publish``."""
    p = subparsers.add_parser(
        "publish",
        help="copy a cube to a plain web server's folder",
        description=(
            "Copy a cube folder into a web server's document folder so that readers never "
            "see a catalogue pointing at missing files: new and changed files first, the "
            "views next (GomezEngine views with absolute URLs under --base-url), the "
            "catalogue last. Unchanged files are skipped, so re-running is cheap. "
            "See docs/deploy.md."
        ),
    )
    p.add_argument("--cube", type=Path, required=True, metavar="DIR", help="the cube folder")
    p.add_argument(
        "--base-url",
        required=True,
        metavar="URL",
        help="public URL of DEST, e.g. https://data.example.org/leaf",
    )
    p.add_argument(
        "--to",
        required=True,
        metavar="DEST",
        help="web server folder to publish into, or [user@]host:/path (copied with rsync)",
    )
    p.add_argument(
        "--delete",
        action="store_true",
        help="remove files from DEST that are no longer in the cube (after the catalogue)",
    )
    p.add_argument(
        "--delete-after",
        type=float,
        default=JSON_MAX_AGE,
        metavar="SECONDS",
        help=f"with --delete, wait this long after the new catalogue is in place before "
        f"removing files, since readers may keep the old one that long (default "
        f"{JSON_MAX_AGE}, the max-age web servers send for it)",
    )
    p.add_argument(
        "--dry-run", "-n", action="store_true", help="list what would change; write nothing"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def describe(p: PublishPlan) -> list[str]:
    """One line per phase that has work, then the files to remove."""
    lines = []
    for i, name in enumerate(PHASES):
        hrefs = [h for h in p.copies if phase_of(h) == i]
        if name == "views":
            hrefs += list(p.views)
        if hrefs:
            lines.append(f"{i + 1}. {name}: {len(hrefs)} file(s), e.g. {hrefs[0]}")
    if p.stale:
        lines.append(f"then remove {len(p.stale)} file(s) no longer in the cube, e.g. {p.stale[0]}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Publish, or with --dry-run show the plan; a one-line summary either way."""
    if not 0 <= args.delete_after <= 86_400:
        raise ValueError("--delete-after must be 0 to 86400 seconds")
    p = publish(
        args.cube,
        args.to,
        args.base_url,
        delete=args.delete,
        delete_after=args.delete_after,
        dry_run=args.dry_run,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    verb = "would" if args.dry_run else "did"
    if args.dry_run:
        for line in describe(p):
            print(line)
    if p.empty:
        print(f"leafcube publish: {args.to} is up to date ({p.up_to_date} files)")
        return 0
    print(
        f"leafcube publish: {verb} copy {len(p.copies)} file(s) ({p.bytes / 1e6:.1f} MB), "
        f"write {len(p.views)} view(s), remove {len(p.stale)}; {p.up_to_date} up to date"
    )
    return 0
