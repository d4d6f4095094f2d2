"""``ingest``: LEAF exports in; COGs, mosaics, catalogue, STAC and GomezEngine views out.

Incremental and crash-safe: each COG lands by rename and is then recorded in the
ledger; the catalogue and its views are rebuilt from the ledger and written only
where they changed, the catalogue last. A run killed at any moment leaves the
previous catalogue intact, and the next run finishes the job.
"""

from __future__ import annotations

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

from .assemble import assemble, record
from .cog import Written, build_cog
from .errors import DiskFull, IngestError
from .mask import MaskFiles
from .names import Export, ExportNameError, explicit_export, parse_name
from .plan import Pending, plan_jobs, with_masks
from .scan import find_files
from .state import Ledger, save_settings, settings
from .upgrade import upgrade_cube
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
                else:
                    self.ledger.records[job.href] = record(job, result, fp)
                    self.report.written.append(job.href)
                if time.monotonic() - self._saved > SAVE_EVERY_S:
                    self.ledger.save()
                    self._saved = time.monotonic()
                self.bar.update()


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
) -> IngestReport:
    """Ingest LEAF exports (files or folders) into the cube folder ``cube``.

    Re-running with the same sources changes nothing; new or changed sources are
    added. Bad files are reported one line each in the returned report while the
    rest of the batch lands.
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
        cat = load(cube) if (cube / "catalogue.json").exists() else Catalogue()
        report.upgraded = upgrade_cube(cat, cube, tmp_dir(cube), progress)
        ledger = Ledger(cube)
        known = settings(cube)
        if base_url:
            save_settings(cube, {**known, "base_url": base_url})
        base_url = base_url or known.get("base_url")

        files = find_files([Path(s) for s in sources], report.failures)
        groups = _parse_all(files, explicit, year, report.failures)
        groups = resolve_versions(
            groups, cat, report.failures, default="current" if explicit else None
        )
        jobs = plan_jobs(groups, cat, collection, explicit is not None, report.failures)
        planned = with_masks(jobs, ledger, cube, report.failures)
        todo = [(job, fp) for job, fp in planned if not ledger.fresh(job.href, fp, cube)]
        report.unchanged = len(planned) - len(todo)

        with tqdm(total=len(todo), desc="ingest", unit="cog", disable=not progress) as bar:
            try:
                _Runner(cube, ledger, report, workers, bar).run(todo)
            except DiskFull:  # the run stops: record what landed if there is room for it
                with contextlib.suppress(OSError):
                    ledger.save()
                raise
        ledger.save()
        if ledger.records or (cube / "catalogue.json").exists():
            report.catalogue_changed = assemble(cat, ledger, cube, base_url)
    return report
