"""``ingest``: LEAF exports in; COGs, mosaics, catalogue, STAC and GomezEngine views out.

Incremental and crash-safe: each COG lands by rename and is then recorded in the
ledger; the catalogue and its views are rebuilt from the ledger and written only
where they changed, the catalogue last. A run killed at any moment leaves the
previous catalogue intact, and the next run finishes the job.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from tqdm import tqdm

from leafcube.catalogue import load, save
from leafcube.catalogue.grid import CCRS_CRS, X0, Y0, is_tile_name, tile_bounds
from leafcube.catalogue.models import Catalogue, Collection, DateEntry, LayerFiles, TileFile
from leafcube.catalogue.products import leaf_layers
from leafcube.catalogue.roi import WGS84, transform_bounds

from .cog import Grid, IngestError, Job, Written, build_cog
from .gomez import write_gomez
from .mask import MaskFiles
from .mosaic import mosaic_href, mosaic_xml
from .names import Export, NameError_, explicit_export, parse_name, split_piece
from .scan import find_files
from .stac import write_stac
from .state import Ledger, fingerprint, locked, save_settings, settings, tmp_dir, write_if_changed

SAVE_EVERY_S = 2.0
_SENSORS = {20: "Sentinel-2", 30: "Landsat"}


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
    failures: list[str] = field(default_factory=list)
    catalogue_changed: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        """One line for the end of a run."""
        text = f"{len(self.written)} COG(s) written, {self.unchanged} unchanged"
        if self.failures:
            text += f", {len(self.failures)} failed"
        return text + ("; catalogue updated" if self.catalogue_changed else "; catalogue unchanged")


def _new_collection(name: str, res: float, per_product_qc: bool) -> Collection:
    r = round(res)
    sensor = _SENSORS.get(r, "LEAF")
    period = name.rsplit("-", 1)[-1]
    return Collection(
        name=name,
        title=f"LEAF {sensor} {r} m {period}",
        description=(
            f"LEAF vegetation products ({sensor}, {r} m, {period} composites): LAI, fCOVER, "
            "fAPAR and black-sky albedo with their uncertainties, QC, acquisition date and "
            "land-cover partition, on the CCRS tile grid (EPSG:3979)."
        ),
        crs=CCRS_CRS,
        resolution=float(res),
        origin=(X0, Y0),
        layers=leaf_layers(per_product_qc=per_product_qc),
    )


class _Planner:
    """Turns parsed exports into jobs, checking them against the cube's collections."""

    def __init__(self, cat: Catalogue, ledger: Ledger, cube: Path, collection: str | None):
        self.cat, self.ledger, self.cube, self.collection = cat, ledger, cube, collection
        self.failures: list[str] = []

    def collection_for(self, exp: Export, res: float, path: Path) -> Collection:
        name = self.collection or exp.default_collection(res)
        coll = self.cat.collections.get(name)
        if coll is None:
            coll = self.cat.collections[name] = _new_collection(name, res, exp.per_product_qc)
        if abs(coll.resolution - res) > 1e-9:
            raise IngestError(
                f"{path}: {res:g} m pixels, but collection {name} is {coll.resolution:g} m "
                "(choose another --collection)"
            )
        if exp.layer not in coll.layers:
            style = "one QC per product" if "LAI_QC" in coll.layers else "a single QC"
            raise IngestError(
                f"{path}: layer {exp.layer} does not belong to collection {name}, whose "
                f"exports carry {style}; ingest it into another --collection"
            )
        return coll

    def job(self, exp: Export, pieces: list[Path], res: float) -> Job:
        coll = self.collection_for(exp, res, pieces[0])
        spec = coll.layers[exp.layer]
        base = f"{coll.name}/{exp.key}/{exp.region}"
        mask = f"{base}/{spec.qc_layer}.tif" if spec.mask == "qc" else None
        return Job(
            collection=coll.name,
            key=exp.key,
            tile=exp.region,
            spec=spec,
            sources=tuple(sorted(pieces)),
            grid=Grid(coll.crs, coll.resolution, coll.origin),
            href=f"{base}/{exp.layer}.tif",
            mask_href=mask,
            tile_bounds=tile_bounds(exp.region) if is_tile_name(exp.region) else None,
        )


def _parse_all(
    files: Iterable[Path], explicit: Explicit | None, year: int | None, failures: list[str]
) -> dict[tuple, tuple[Export, list[Path]]]:
    """Parse every file name; pieces of one layer (GEE splits) share one group."""
    groups: dict[tuple, tuple[Export, list[Path]]] = {}
    for path in files:
        try:
            if explicit:
                exp = explicit_export(path, explicit.layer, explicit.date, explicit.tile)
            else:
                exp = parse_name(path, year)
        except NameError_ as exc:
            failures.append(str(exc))
            continue
        groups.setdefault(exp.group, (exp, []))[1].append(path)
    return groups


def _repeated(pieces: list[Path]) -> tuple[Path, Path] | None:
    """Two files of one layer that are not distinct Earth Engine pieces (a copied export)."""
    if len(pieces) < 2:
        return None
    ordered = sorted(pieces)
    offsets = [split_piece(p.stem)[1] for p in ordered]
    for i, offset in enumerate(offsets):
        if offset is None or offsets.count(offset) > 1:
            return next(p for j, p in enumerate(ordered) if j != i), ordered[i]
    return None


def _file_res(path: Path) -> float:
    import rasterio
    from rasterio.errors import RasterioError

    try:
        with rasterio.open(path) as src:
            return float(src.res[0])
    except RasterioError as exc:
        raise IngestError(f"{path}: not a readable GeoTIFF ({exc})") from None


def _record(job: Job, written: Written, fp: str, exp_dates: tuple[dt.date, dt.date]) -> dict:
    return {
        "fingerprint": fp,
        "collection": job.collection,
        "key": job.key,
        "tile": job.tile,
        "layer": job.spec.name,
        "resolution": job.grid.res,
        "start": exp_dates[0].isoformat(),
        "end": exp_dates[1].isoformat(),
        "bbox": list(written.bbox),
        "shape": list(written.shape),
    }


def _run_jobs(
    jobs: list[tuple[Job, str, tuple[dt.date, dt.date]]],
    cube: Path,
    ledger: Ledger,
    report: IngestReport,
    workers: int,
    bar: tqdm,
) -> set[str]:
    """Run jobs, ``workers`` at a time (GDAL releases the GIL); record each COG as it lands.

    Returns the hrefs that failed.
    """
    failed: set[str] = set()
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    last_save = time.monotonic()
    masks = MaskFiles(tmp_dir(cube))

    def done(job: Job, fp: str, dates, result: Written | None, error: str | None) -> None:
        nonlocal last_save
        if error:
            report.failures.append(error)
            failed.add(job.href)
        else:
            ledger.records[job.href] = _record(job, result, fp, dates)
            report.written.append(job.href)
            if time.monotonic() - last_save > SAVE_EVERY_S:
                ledger.save()
                last_save = time.monotonic()
        bar.update()

    if workers <= 1:
        for job, fp, dates in jobs:
            try:
                done(job, fp, dates, build_cog(job, cube, masks, threads), None)
            except IngestError as exc:
                done(job, fp, dates, None, str(exc))
        return failed
    with ThreadPoolExecutor(workers) as pool:
        futures: list[tuple[Future, Job, str, tuple]] = [
            (pool.submit(build_cog, job, cube, masks, threads), job, fp, dates)
            for job, fp, dates in jobs
        ]
        for fut, job, fp, dates in futures:
            try:
                done(job, fp, dates, fut.result(), None)
            except IngestError as exc:
                done(job, fp, dates, None, str(exc))
    return failed


def _apply_ledger(cat: Catalogue, ledger: Ledger) -> None:
    """Put every COG of the ledger into the catalogue.

    A yearly Partition joins each date of its year in its collection.
    """
    partitions: dict[tuple[str, int], LayerFiles] = {}
    single_qc = {r["collection"] for r in ledger.records.values() if r["layer"] == "QC"}
    for href, rec in sorted(ledger.records.items()):
        coll = cat.collections.get(rec["collection"])
        if coll is None:  # a catalogue lost or never saved: the ledger knows the collection
            name = rec["collection"]
            coll = _new_collection(name, rec["resolution"], name not in single_qc)
            cat.collections[coll.name] = coll
        if rec["layer"] not in coll.layers:
            continue
        tile = TileFile(href, tuple(rec["bbox"]), tuple(rec["shape"]))
        mosaic = mosaic_href(rec["collection"], rec["key"], rec["layer"])
        if rec["key"].startswith("partition/"):
            year = int(rec["key"].split("/")[1])
            partitions.setdefault((coll.name, year), LayerFiles(mosaic)).tiles[rec["tile"]] = tile
            continue
        start, end = dt.date.fromisoformat(rec["start"]), dt.date.fromisoformat(rec["end"])
        entry = coll.dates.setdefault(rec["key"], DateEntry(start, end))
        entry.layers.setdefault(rec["layer"], LayerFiles(mosaic)).tiles[rec["tile"]] = tile
    for (name, year), files in partitions.items():
        for entry in cat.collections[name].dates.values():
            if entry.start.year == year:
                entry.layers["Partition"] = LayerFiles(files.mosaic, dict(files.tiles))


def _finish_collection(coll: Collection, cube: Path) -> None:
    """Write every mosaic VRT that changed and refresh the collection's extent."""
    boxes = []
    for entry in coll.dates.values():
        for name, files in entry.layers.items():
            write_if_changed(
                cube / files.mosaic, mosaic_xml(coll, coll.layers[name], files).encode()
            )
            boxes += [t.bbox for t in files.tiles.values()]
    if boxes:
        ext = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        coll.extent = ext
        coll.extent_wgs84 = tuple(round(v, 6) for v in transform_bounds(ext, coll.crs, WGS84))


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
    cube = Path(cube)
    report = IngestReport()
    cube.mkdir(parents=True, exist_ok=True)
    with locked(cube):
        cat = load(cube) if (cube / "catalogue.json").exists() else Catalogue()
        ledger = Ledger(cube)
        known = settings(cube)
        if base_url:
            save_settings(cube, {**known, "base_url": base_url})
        base_url = base_url or known.get("base_url")

        files = find_files([Path(s) for s in sources], report.failures)
        groups = _parse_all(files, explicit, year, report.failures)
        planner = _Planner(cat, ledger, cube, collection)
        planned: dict[str, tuple[Job, tuple[dt.date, dt.date]]] = {}
        for exp, pieces in groups.values():
            twin = None if explicit else _repeated(pieces)
            if twin:
                report.failures.append(f"{twin[1]}: the same layer, date and tile as {twin[0]}")
                continue
            try:
                res = float(exp.res) if exp.res else _file_res(pieces[0])
                job = planner.job(exp, pieces, res)
            except IngestError as exc:
                report.failures.append(str(exc))
                continue
            if job.href in planned:
                report.failures.append(
                    f"{pieces[0]}: the same layer, date and tile as another file"
                )
                continue
            planned[job.href] = (job, (exp.start, exp.end))

        phases: list[list[tuple[Job, str, tuple]]] = [[], []]
        fps: dict[str, str] = {}
        for href, (job, dates) in sorted(
            planned.items(), key=lambda kv: kv[1][0].mask_href is not None
        ):
            extra = [orjson.dumps(job.spec.to_dict()).decode(), repr(job.grid)]
            if job.mask_href:
                qc_fp = fps.get(job.mask_href) or ledger.records.get(job.mask_href, {}).get(
                    "fingerprint"
                )
                if qc_fp is None:
                    report.failures.append(
                        f"{job.sources[0]}: no {job.spec.qc_layer} layer for {job.key} {job.tile}; "
                        f"ingest its QC export with it (its mask of no-data pixels comes from QC)"
                    )
                    continue
                extra.append(qc_fp)
            fp = fps[href] = fingerprint(list(job.sources), *extra)
            if ledger.fresh(href, fp, cube):
                report.unchanged += 1
                continue
            phases[job.mask_href is not None].append((job, fp, dates))

        total = len(phases[0]) + len(phases[1])
        with tqdm(total=total, desc="ingest", unit="cog", disable=not progress) as bar:
            failed = _run_jobs(phases[0], cube, ledger, report, workers, bar)
            second = []
            for job, fp, dates in phases[1]:
                if job.mask_href in failed:
                    report.failures.append(f"{job.sources[0]}: skipped, its QC layer failed")
                    bar.update()
                else:
                    second.append((job, fp, dates))
            _run_jobs(second, cube, ledger, report, workers, bar)
        ledger.save()

        _apply_ledger(cat, ledger)
        cat.collections = {k: v for k, v in cat.collections.items() if v.dates}
        for coll in cat.collections.values():
            _finish_collection(coll, cube)
        views = dict(cat.views)
        views.update(write_stac(cat, cube))
        views.update(write_gomez(cat, cube, base_url))
        cat.views = views
        report.catalogue_changed = save(cat, cube)
    return report
