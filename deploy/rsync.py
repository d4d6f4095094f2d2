"""Publishing to another machine with rsync (``--to [user@]host:/path``), in the safe order.

The same five phases as a local publish, one rsync run each, so the catalogue still
lands last: rsync writes every file under a hidden temporary name and renames it into
place, and skips files whose size and modification time already match. The
GomezEngine views and the static STAC are written to a local staging folder first (their
URLs differ from the cube's), and ``--delete`` is a last pass that spares hidden files
and the views.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from leafcube.catalogue import load

from . import DeployError
from .layout import (
    PHASES,
    PublishPlan,
    check_links,
    cube_files,
    phase_of,
    public_views,
    wait_for_readers,
    write_views,
)


def is_remote(dest: str) -> bool:
    """rsync's own rule: ``[user@]host:path`` — a colon before the first slash — is remote."""
    return ":" in dest.split("/", 1)[0]


def _rsync(args: list[str], dry_run: bool) -> list[str]:
    """Run rsync; return its itemized lines (``%i %n``: what changed, and the path)."""
    rsync = shutil.which("rsync")
    if not rsync:
        raise DeployError("rsync not found: install it (Debian: apt-get install rsync)")
    # --copy-links: a symlink within the cube lands as the file it names (links out of the
    # cube are refused before any rsync run, by layout.check_links).
    cmd = [rsync, "-a", "--copy-links", "--out-format=%i %n"]
    cmd += [*(["--dry-run"] if dry_run else []), *args]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DeployError(f"rsync failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    return result.stdout.splitlines()


def _sent(lines: list[str]) -> list[str]:
    """The files an rsync run transferred (itemized ``<f`` or ``>f``)."""
    return [ln.split(" ", 1)[1] for ln in lines if ln[:2] in ("<f", ">f")]


def rsync_publish(
    cube: Path,
    dest: str,
    base_url: str,
    *,
    delete: bool = False,
    delete_after: float = 0,
    dry_run: bool = False,
) -> PublishPlan:
    """Publish ``cube`` to the rsync destination ``dest``; returns what was (or would be) sent.

    The caller holds the cube's ingest lock.
    """
    check_links(cube)
    dest = dest.rstrip("/") + "/"
    views = public_views(load(cube), base_url)
    hrefs = [h for h in cube_files(cube) if h not in views]
    p = PublishPlan()
    with tempfile.TemporaryDirectory(prefix="leafcube-publish-") as tmp:
        staging, lists = Path(tmp) / "views", Path(tmp)
        write_views(staging, views)
        for phase, name in enumerate(PHASES):
            listed = lists / f"phase-{phase}.txt"
            listed.write_text("".join(f"{h}\n" for h in hrefs if phase_of(h) == phase))
            p.copies += _sent(_rsync([f"--files-from={listed}", f"{cube}/", dest], dry_run))
            if name == "views" and views:
                listed.write_text("".join(f"{h}\n" for h in views))
                # staged afresh each run: compare contents, and leave the times of equal ones
                args = ["--checksum", "--no-times", f"--files-from={listed}", f"{staging}/", dest]
                p.views.update({h: views[h] for h in _sent(_rsync(args, dry_run))})
        if delete:
            # the views differ from the cube's copies (absolute URLs): never sent back over
            args = ["--delete", "--exclude=.*", "--exclude=/gomez/", "--exclude=/stac/"]
            args += [f"{cube}/", dest]
            doomed = [ln for ln in _rsync(args, True) if ln.startswith("*deleting")]
            stale = [ln.split(None, 1)[1] for ln in doomed if not ln.endswith("/")]
            if stale and not dry_run:
                wait_for_readers(delete_after, len(stale))
                _rsync(args, False)
            p.stale = stale
    p.bytes = sum((cube / h).stat().st_size for h in p.copies)
    p.up_to_date = len(hrefs) + len(views) - len(p.copies) - len(p.views)
    return p
