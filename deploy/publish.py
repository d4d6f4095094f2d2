"""Publish a cube folder into a plain web server's document folder.

Readers must never see a catalogue that points at missing files, so files land in
dependency order, each one atomically (copied to a hidden temporary name, then
renamed): COGs first, then the mosaics and other files that refer to them, then the
views (the static STAC and the GomezEngine views, rewritten with absolute URLs for the
public base URL; only those of the parts that changed since the catalogue the
destination holds are rendered), then the catalogue's parts, and its root last. Files
removed from the cube are deleted only after
that, only when asked, and only once readers' cached copies of the old catalogue have
expired (``JSON_MAX_AGE``, the ``max-age`` web servers send for it). Like rsync, an
unchanged file (same size and modification time) is not copied again, so a second run
does nothing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from tqdm import tqdm

from leafcube.catalogue import CATALOGUE_NAME
from leafcube.catalogue.folder import JSON_MAX_AGE, locked

from .layout import (
    BY_CONTENT,
    PHASES,
    VIEW_FOLDERS,
    PublishPlan,
    check_links,
    cube_files,
    part_hashes,
    phase_of,
    public_views,
    wait_for_readers,
    write_views,
)
from .rsync import is_remote, rsync_publish


def unchanged(src: str | Path, dst: str | Path) -> bool:
    """rsync's quick check: same size and same modification time (to the second)."""
    try:
        a, b = os.stat(src), os.stat(dst)
    except FileNotFoundError:
        return False
    return a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime)


def same_catalogue_file(
    href: str, cube: Path, dest: Path, hashes: tuple[dict[str, str], dict[str, str]]
) -> bool:
    """Whether ``dest`` holds the cube's ``catalogue.json`` or part ``href``, by content
    rather than by time (an ingest can rewrite one within the same second at the same
    size): the root compared byte for byte, a part by the hash each root names for it."""
    if href == CATALOGUE_NAME:
        try:
            return (cube / href).read_bytes() == (dest / href).read_bytes()
        except FileNotFoundError:
            return False
    ours, theirs = hashes
    return (
        ours.get(href) is not None
        and ours.get(href) == theirs.get(href)
        and (
            (dest / href).is_file() and (dest / href).stat().st_size == (cube / href).stat().st_size
        )
    )


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` (with its modification time) so readers never see a partial file."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.publishing")
    try:
        shutil.copyfile(src, tmp)
        shutil.copystat(src, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_base_url(url: str) -> str:
    """The public URL of the published folder, without a trailing slash."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--base-url must be an http(s) URL, not {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"--base-url must not have a query or fragment: {url!r}")
    return url.rstrip("/")


def plan(cube: Path, dest: Path) -> PublishPlan:
    """Compare ``cube`` with ``dest`` and list the files publishing must copy; the views
    are rendered as they are written (:func:`publish`), and the views the cube holds are
    counted up to date until then."""
    p = PublishPlan()
    hashes = (part_hashes(cube) or {}, part_hashes(dest) or {})
    here, there = str(cube), str(dest)
    for href in sorted(cube_files(cube), key=lambda h: (phase_of(h), h)):
        if href.startswith(VIEW_FOLDERS):
            p.up_to_date += 1  # written for the base URL, not copied
        elif (
            same_catalogue_file(href, cube, dest, hashes)
            if phase_of(href) in BY_CONTENT
            else unchanged(os.path.join(here, href), os.path.join(there, href))
        ):
            p.up_to_date += 1
        else:
            p.copies.append(href)
            p.bytes += (cube / href).stat().st_size
    return p


def stale_files(cube: Path, dest: Path, views: list[str]) -> list[str]:
    """The files of ``dest`` that are neither in the cube nor among the ``views`` written."""
    if not dest.is_dir():
        return []
    wanted = {*cube_files(cube), *views}
    return [h for h in cube_files(dest) if h not in wanted]


def remove_stale(dest: Path, hrefs: list[str]) -> None:
    """Delete files no longer in the cube, then the folders that became empty."""
    for href in hrefs:
        (dest / href).unlink(missing_ok=True)
    for folder in sorted({(dest / h).parent for h in hrefs}, key=lambda d: -len(d.parts)):
        while folder != dest and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent


def publish(
    cube: Path,
    dest: str | Path,
    base_url: str,
    *,
    delete: bool = False,
    delete_after: float = JSON_MAX_AGE,
    dry_run: bool = False,
    progress: bool = False,
) -> PublishPlan:
    """Publish ``cube`` into ``dest`` for readers at ``base_url``; returns what it did (or would).

    ``dest`` is a folder, or ``[user@]host:/path`` for another machine (over rsync).
    Holds the cube's ingest lock, so an ingest running now makes this fail fast
    rather than publish a half-written state. Refuses (before copying anything) a cube
    with symlinks out of it; links within it are published as copies of their files.
    With ``delete``, files the new catalogue no longer names are removed
    ``delete_after`` seconds after it is in place: a reader may still hold the old one.
    """
    cube = cube.resolve()
    base_url = check_base_url(base_url)
    if not (cube / CATALOGUE_NAME).is_file():
        raise FileNotFoundError(f"no {CATALOGUE_NAME} in {cube}: run `leafcube ingest` first")
    check_links(cube)
    if is_remote(str(dest)):
        with locked(cube):
            return rsync_publish(
                cube, str(dest), base_url, delete=delete, delete_after=delete_after,
                dry_run=dry_run,
            )  # fmt: skip
    dest = Path(dest).resolve()
    if dest == cube or dest.is_relative_to(cube) or cube.is_relative_to(dest):
        raise ValueError(f"--to {dest} must be outside the cube folder (and not contain it)")
    with locked(cube):
        p = plan(cube, dest)
        views = public_views(cube, dest, base_url)
        if dry_run:
            p.views = [h for h, _ in views]
        else:
            with tqdm(
                total=p.bytes, unit="B", unit_scale=True, desc="publish", disable=not progress
            ) as bar:
                for phase in range(len(PHASES)):
                    for href in p.copies:
                        if phase_of(href) == phase:
                            copy_atomic(cube / href, dest / href)
                            bar.update((cube / href).stat().st_size)
                    if PHASES[phase] == "views":
                        p.views = write_views(dest, views)
        p.up_to_date = max(0, p.up_to_date - len(p.views))
        if delete:
            p.stale = stale_files(cube, dest, p.views)
        if p.stale and not dry_run:
            wait_for_readers(delete_after, len(p.stale))
            remove_stale(dest, p.stale)
    return p
