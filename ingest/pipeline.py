"""``ingest``: LEAF exports in; COGs, mosaics, catalogue, STAC and GomezEngine views out.

Incremental and crash-safe: each source folder is stat'ed once and only its new or
changed files are planned; each COG lands by rename and is then recorded in the
ledger; the catalogue parts, mosaics and views of the months touched are rebuilt from
the ledger and written only where they changed, the catalogue last. A run killed at any
moment leaves the previous catalogue intact, and the next run finishes the job.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import shutil
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from leafcube.catalogue import load
from leafcube.catalogue.folder import locked, tmp_dir
from leafcube.catalogue.models import Catalogue
from leafcube.catalogue.store import load_root

from .assemble import assemble, load_touching, record, write_viewer
from .cog import Written, build_cog
from .errors import DiskFull, IngestError
from .mask import MaskFiles
from .names import Export, ExportNameError, explicit_export, parse_name
from .plan import Pending, plan_jobs, with_masks
from .scan import Stat, listings
from .state import (
    FileRecord,
    Ledger,
    SourceState,
    Unfinished,
    href_month,
    listing_digest,
    save_settings,
    settings,
    source_state,
)
from .upgrade import stale_layers, upgrade_cube
from .versions import resolve_versions

#: Seconds between ledger saves while COGs land (what a killed run keeps).
SAVE_EVERY_S = 2.0


@dataclass(frozen=True)
class Explicit:
    """``--layer/--date/--tile``: ingest GeoTIFFs whatever their names."""

    layer: str
    date: dt.date
    tile: str


@dataclass
class IngestReport:
    """What one run did: COGs written, left unchanged, and one line per failure."""

    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    upgraded: int = 0
    failures: list[str] = field(default_factory=list)
    catalogue_changed: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """One line for the end of a run."""
        text = f"{len(self.written)} COG(s) written, {self.unchanged} unchanged"
        if self.upgraded:
            text += f", {self.upgraded} upgraded to int16 + nodata"
        if self.failures:
            text += f", {len(self.failures)} failed"
        return text + ("; catalogue updated" if self.catalogue_changed else "; catalogue unchanged")


def _parse_all(
    files: Iterable[Path], explicit: Explicit | None, year: int | None, failures: list[str]
) -> list[tuple[Export, list[Path]]]:
    """Parse every file name; the files of one layer (Earth Engine pieces) share a group."""
    groups: dict[tuple, tuple[Export, list[Path]]] = {}
    for path in files:
        try:
            if explicit:
                exp = explicit_export(path, explicit.layer, explicit.date, explicit.tile)
            else:
                exp = parse_name(path, year)
        except ExportNameError as exc:
            failures.append(str(exc))
            continue
        groups.setdefault(exp.group, (exp, []))[1].append(path)
    return list(groups.values())


def clear_tmp(folder: Path) -> None:
    """Remove what killed or failed runs left in the cube's temporary folder (masks,
    half-written COGs): the cube's lock says no other run is using it."""
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


class _Runner:
    """Writes COGs ``workers`` at a time (GDAL releases the GIL) and records each as it lands."""

    def __init__(self, cube: Path, ledger: Ledger, report: IngestReport, workers: int, bar: tqdm):
        self.cube, self.ledger, self.report, self.bar = cube, ledger, report, bar
        self.workers = workers
        self.masks = MaskFiles(tmp_dir(cube))
        self._saved = time.monotonic()
        self.failed: set[str] = set()

    def _build(self, item: Pending) -> Written | str:
        try:
            return build_cog(item[0], self.cube, self.masks)
        except IngestError as exc:
            return str(exc)

    def run(self, items: list[Pending]) -> None:
        """Write the COGs of ``items``; failures go to the report, one line each."""
        with ThreadPoolExecutor(self.workers) as pool:
            for (job, fp), result in zip(items, pool.map(self._build, items), strict=True):
                if isinstance(result, str):
                    self.report.failures.append(result)
                    self.failed.add(job.href)
                else:
                    self.ledger.put(job.href, record(job, result, fp))
                    self.report.written.append(job.href)
                if time.monotonic() - self._saved > SAVE_EVERY_S:
                    self.ledger.save()
                    self._saved = time.monotonic()
                self.bar.update()


@dataclass
class _Folder:
    """A source folder this run: its sub-folders listed, the status-change times and
    listing digests of those read (by a run that trusts folder times), the listings of
    those that changed since the last run, those whose records were read, and what the
    last run saw."""

    root: Path
    state: SourceState
    listed: set[str] = field(default_factory=set)
    times: dict[str, tuple[int | None, str]] = field(default_factory=dict)
    changed: dict[str, dict[str, Stat]] = field(default_factory=dict)
    examined: set[str] = field(default_factory=set)


@dataclass
class _Selection:
    """The files to plan this run (with their tags), and how many COGs the files left out
    made."""

    tags: dict[Path, str | None]
    folders: list[_Folder]
    skipped: int


def _tag(path: Path, explicit: Explicit | None, year: int | None) -> str | None:
    """Region and period of a file: files sharing one decide each other's version and masks,
    so they are planned together; None when its name cannot be read."""
    try:
        exp = (
            explicit_export(path, explicit.layer, explicit.date, explicit.tile)
            if explicit
            else parse_name(path, year)
        )
    except ExportNameError:
        return None
    return f"{exp.region}|{exp.key}"


def _is_new(old: FileRecord | None, st: Stat) -> bool:
    return old is None or old[0] != st[0] or old[1] != st[1]


def _select(
    sources: list[Path],
    cube: Path,
    options: str,
    remembered: bool,
    trust_times: bool,
    explicit: Explicit | None,
    year: int | None,
    failures: list[str],
) -> _Selection:
    """List each source folder once; plan the files that are new or changed (or failed
    last time), those sharing a region and period with them, and files named directly.
    A sub-folder whose listing matches its state's digest is not read further; with
    ``trust_times``, one whose status-change time matches its state's is not even listed.

    With ``remembered`` False (no catalogue yet) the folders' states are ignored.
    """
    folders: list[_Folder] = []
    tags: dict[Path, str | None] = {}
    for src in sources:
        if src.is_dir():
            f = _Folder(src, source_state(cube, src, options, remembered))
            for item in listings(src, f.state.vouched if trust_times else None):
                f.listed.add(item.prefix)
                if item.files is None:
                    continue
                digest = listing_digest(item.files)
                if trust_times:  # only a run that trusts times records them
                    f.times[item.prefix] = (item.ctime, digest)
                if not f.state.same(item.prefix, digest):
                    f.changed[item.prefix] = item.files
            folders.append(f)
        elif src.is_file():
            tags[src] = _tag(src, explicit, year)
        else:
            failures.append(f"{src}: no such file or folder")
    for f in folders:
        for prefix, listing in f.changed.items():
            old = f.state.files(prefix)
            for name, st in listing.items():
                if _is_new(old.get(name), st):
                    path = f.root / (prefix + name)
                    tags[path] = _tag(path, explicit, year)
    wanted = sorted({t for t in tags.values() if t is not None})
    skipped = 0
    for f in folders:
        for prefix in sorted(f.listed):
            now = f.changed.get(prefix)
            if now is None and not f.state.may_hold(prefix, wanted):
                skipped += f.state.made(prefix)
                continue
            f.examined.add(prefix)
            left: set[str] = set()
            for name, rec in f.state.files(prefix).items():
                if now is not None and (name not in now or _is_new(rec, now[name])):
                    continue  # gone, or changed: planned above
                i = bisect.bisect_left(wanted, rec[2])
                if i < len(wanted) and wanted[i] == rec[2]:
                    tags[f.root / (prefix + name)] = rec[2]
                else:
                    left.update(rec[3])
            skipped += len(left)
    return _Selection(dict(sorted(tags.items())), folders, skipped)


def _remember(selection: _Selection, planned: list[Pending], landed: set[str]) -> None:
    """Write each folder's state where it changed: the files left out as they were, and
    the planned files all of whose COGs landed or were fresh; the others are planned
    again next run."""
    made: dict[Path, list[str]] = {}
    failed: set[Path] = set()
    for job, _ in planned:
        for src in job.sources:
            made.setdefault(src, []).append(job.href)
            if job.href not in landed:
                failed.add(src)
    for f in selection.folders:
        f.state.keep_only(f.listed)
        for prefix in sorted(f.examined):
            old = f.state.files(prefix)
            listing = f.changed.get(prefix)
            names = listing if listing is not None else old
            files: dict[str, FileRecord] = {}
            for name in sorted(names):
                path = f.root / (prefix + name)
                if path not in selection.tags:
                    if name in old:
                        files[name] = old[name]
                elif path in made and path not in failed:
                    st = listing[name] if listing is not None else old[name][:2]
                    files[name] = [*st, selection.tags[path], sorted(made[path])]
            f.state.put(prefix, files)
        for prefix, (ctime, digest) in f.times.items():
            f.state.stamp(prefix, ctime, digest)
        f.state.save()


def _rewrite_all(cat: Catalogue, cube: Path) -> bool:
    """True when the catalogue and views must be written whole: a format 1.0 root (dates
    inline, no parts), views that predate their split per part, or a file the root names
    (a view, a part) missing (a few stats, nothing read)."""
    if any(c.dates and not c.parts for c in cat.collections.values()):
        return True
    if any(f"gomez/{n}/index" not in cat.views for n, c in cat.collections.items() if c.parts):
        return True
    parts = [r.href for c in cat.collections.values() for r in c.parts.values()]
    named = [*cat.views.values(), *parts]
    return not all((cube / href).is_file() for href in named)


def _options(collection: str | None, explicit: Explicit | None, year: int | None) -> str:
    """What besides its files decides how a folder is planned (its state is kept per these)."""
    return repr((collection, explicit, year))


def ingest(
    sources: list[Path],
    cube: Path,
    *,
    collection: str | None = None,
    workers: int = 1,
    progress: bool = True,
    base_url: str | None = None,
    explicit: Explicit | None = None,
    year: int | None = None,
    trust_folder_times: bool = False,
) -> IngestReport:
    """Ingest LEAF exports (files or folders) into the cube folder ``cube``.

    Re-running with the same sources changes nothing and reads no COG; new or changed
    sources are added, touching only the catalogue parts, mosaics and views of their
    dates. Bad files are reported one line each in the returned report while the rest of
    the batch lands. ``trust_folder_times`` skips the files of every source sub-folder
    whose status-change time is as last run left it: no file was added, removed or
    renamed there, but one rewritten in place is missed.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    cube = Path(cube)
    report = IngestReport()
    try:
        cube.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"cannot use {cube} as the cube folder: {exc.strerror}") from None
    with locked(cube):
        clear_tmp(tmp_dir(cube))
        remembered = (cube / "catalogue.json").exists()
        cat = load_root(cube) if remembered else Catalogue()
        stale = any(stale_layers(c) for c in cat.collections.values())
        if stale:
            cat = load(cube)  # an older cube: every COG of its stale layers is rewritten
        report.upgraded = upgrade_cube(cat, cube, tmp_dir(cube), progress)
        ledger = Ledger(cube)
        pending = Unfinished(cube)
        known = settings(cube)
        full = pending.full or stale or _rewrite_all(cat, cube)
        full = full or bool(base_url and base_url != known.get("base_url"))
        base_url = base_url or known.get("base_url")

        selection = _select(
            [Path(s) for s in sources],
            cube,
            _options(collection, explicit, year),
            remembered,
            trust_folder_times,
            explicit,
            year,
            report.failures,
        )
        groups = _parse_all(list(selection.tags), explicit, year, report.failures)
        cat = load_touching(cat, cube, [exp for exp, _ in groups])
        groups = resolve_versions(
            groups, cat, report.failures, default="current" if explicit else None
        )
        jobs = plan_jobs(groups, cat, collection, explicit is not None, report.failures)
        planned = with_masks(jobs, ledger, cube, report.failures)
        todo = [(job, fp) for job, fp in planned if not ledger.fresh(job.href, fp, cube)]
        report.unchanged = len(planned) - len(todo) + selection.skipped
        touched = pending.months | {href_month(job.href) for job, _ in planned}
        if touched != pending.months or full != pending.full:
            pending.save(touched, full)  # what a killed run leaves for the next to finish

        with tqdm(total=len(todo), desc="ingest", unit="cog", disable=not progress) as bar:
            runner = _Runner(cube, ledger, report, workers, bar)
            try:
                runner.run(todo)
            except DiskFull:  # the run stops: record what landed if there is room for it
                with contextlib.suppress(OSError):
                    ledger.save()
                raise
        ledger.save()
        if touched or (full and remembered):
            report.catalogue_changed = assemble(
                cat, ledger, cube, base_url, None if full else touched
            )
        write_viewer(cube)
        if base_url != known.get("base_url"):
            save_settings(cube, {**known, "base_url": base_url})
        _remember(selection, planned, {job.href for job, _ in planned} - runner.failed)
        pending.clear()
    return report
