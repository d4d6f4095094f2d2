"""Publishing to another machine with rsync (``--to [user@]host:/path``), in the safe order.

The same five phases as a local publish, one rsync run each, so the catalogue still
lands last: rsync writes every file under a hidden temporary name and renames it into
place, and skips files whose size and modification time already match. The
GomezEngine views and the static STAC (their URLs differ from the cube's) are kept in a
staging copy under the cube's ``.leafcube/publish/``, one per destination, where only
the views that changed are rewritten (their times kept otherwise, so rsync skips them);
``--delete`` is a last pass that spares hidden files and the views.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from leafcube.catalogue import CATALOGUE_NAME
from leafcube.catalogue.folder import state_dir, write_if_changed

from . import DeployError
from .layout import (
    BY_CONTENT,
    PHASES,
    VIEW_FOLDERS,
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
    staging = staging_dir(cube, dest)
    hrefs = list(cube_files(cube))
    views = public_views(cube, staging, base_url)
    p = PublishPlan()
    rendered = [h for h, _ in views] if dry_run else write_views(staging, views)
    with tempfile.TemporaryDirectory(prefix="leafcube-publish-") as tmp:
        lists = Path(tmp)
        for phase, name in enumerate(PHASES):
            listed = lists / f"phase-{phase}.txt"
            phased = [h for h in hrefs if phase_of(h) == phase and not h.startswith(VIEW_FOLDERS)]
            listed.write_text("".join(f"{h}\n" for h in phased))
            content = ["--checksum"] if phase in BY_CONTENT else []
            args = [*content, f"--files-from={listed}", f"{cube}/", dest]
            p.copies += _sent(_rsync(args, dry_run))
            if name == "views" and dry_run:
                p.views = rendered
            elif name == "views":
                # every view the staging copy holds: rsync sends those whose size or time
                # differs at the destination (a view removed there by hand comes back)
                held = [h for h in hrefs if h.startswith(VIEW_FOLDERS) and (staging / h).is_file()]
                listed.write_text("".join(f"{h}\n" for h in held))
                sent = _sent(_rsync([f"--files-from={listed}", f"{staging}/", dest], dry_run))
                p.views = sent
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
    if not dry_run:  # what the staging copy's views were made for, as the destination has it
        write_if_changed(staging / CATALOGUE_NAME, (cube / CATALOGUE_NAME).read_bytes())
    p.bytes = sum((cube / h).stat().st_size for h in p.copies)
    p.up_to_date = len(hrefs) - len(p.copies) - len(p.views)
    return p


def staging_dir(cube: Path, dest: str) -> Path:
    """The staging copy of the views published to ``dest`` (kept in the cube's state)."""
    name = hashlib.sha256(dest.encode()).hexdigest()[:24]
    return state_dir(cube) / "publish" / name
