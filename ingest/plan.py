"""Planning a run: which COGs to write from which files, and which are already up to date."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import orjson
import rasterio
from rasterio.errors import RasterioError

from leafcube.catalogue.grid import CCRS_CRS, X0, Y0, is_tile_name, tile_bounds
from leafcube.catalogue.models import Catalogue, Collection
from leafcube.catalogue.products import leaf_layers

from .cog import Grid, IngestError, Job
from .names import Export, split_piece
from .state import Ledger, fingerprint

_SENSORS = {20: "Sentinel-2", 30: "Landsat"}

#: A job still to run and the fingerprint of its sources.
Pending = tuple[Job, str]


def new_collection(name: str, res: float, per_product_qc: bool) -> Collection:
    """An empty LEAF collection on the CCRS grid, its layers from ``leaf_layers``."""
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


def _collection_for(cat: Catalogue, name: str, exp: Export, res: float, path: Path) -> Collection:
    """The collection a file goes to (created on first use), checked to accept it."""
    coll = cat.collections.get(name)
    if coll is None:
        coll = cat.collections[name] = new_collection(name, res, exp.per_product_qc)
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
    """Pixel size of a file whose name does not say it (explicit ingest)."""
    try:
        with rasterio.open(path) as src:
            return float(src.res[0])
    except RasterioError as exc:
        raise IngestError(f"{path}: not a readable GeoTIFF ({exc})") from None


def plan_jobs(
    groups: Iterable[tuple[Export, list[Path]]],
    cat: Catalogue,
    collection: str | None,
    pieces_may_repeat: bool,
    failures: list[str],
) -> list[Job]:
    """One job per layer, date and tile; files that cannot be placed become failure lines."""
    jobs: dict[str, Job] = {}
    for exp, pieces in groups:
        twin = None if pieces_may_repeat else _repeated(pieces)
        if twin:
            failures.append(f"{twin[1]}: the same layer, date and tile as {twin[0]}")
            continue
        try:
            res = float(exp.res) if exp.res else _file_res(pieces[0])
            coll = _collection_for(
                cat, collection or exp.default_collection(res), exp, res, pieces[0]
            )
        except IngestError as exc:
            failures.append(str(exc))
            continue
        spec = coll.layers[exp.layer]
        base = f"{coll.name}/{exp.key}/{exp.region}"
        job = Job(
            collection=coll.name,
            key=exp.key,
            start=exp.start,
            end=exp.end,
            tile=exp.region,
            spec=spec,
            sources=tuple(sorted(pieces)),
            grid=Grid(coll.crs, coll.resolution, coll.origin),
            href=f"{base}/{exp.layer}.tif",
            mask_href=f"{base}/{spec.qc_layer}.tif" if spec.mask == "qc" else None,
            tile_bounds=tile_bounds(exp.region) if is_tile_name(exp.region) else None,
        )
        if job.href in jobs:
            failures.append(
                f"{pieces[0]}: the same layer, date and tile as {jobs[job.href].sources[0]}"
            )
            continue
        jobs[job.href] = job
    return list(jobs.values())


def pending(
    jobs: list[Job], ledger: Ledger, cube: Path, failures: list[str]
) -> tuple[list[Pending], list[Pending], int]:
    """Split jobs into unmasked and masked ones still to run; count the up-to-date ones.

    A job's fingerprint covers its files, its layer's encoding and grid, and for a
    masked layer its QC's fingerprint, so a new QC rewrites the layers it masks. A
    masked layer whose QC is neither in this run nor in the cube is a failure.
    """
    fps: dict[str, str] = {}
    todo: tuple[list[Pending], list[Pending]] = ([], [])
    unchanged = 0
    for job in sorted(jobs, key=lambda j: j.mask_href is not None):
        extra = [orjson.dumps(job.spec.to_dict()).decode(), repr(job.grid)]
        if job.mask_href:
            qc_fp = fps.get(job.mask_href) or ledger.records.get(job.mask_href, {}).get(
                "fingerprint"
            )
            if qc_fp is None:
                failures.append(
                    f"{job.sources[0]}: no {job.spec.qc_layer} layer for {job.key} {job.tile}; "
                    "ingest its QC export with it (its mask of no-data pixels comes from QC)"
                )
                continue
            extra.append(qc_fp)
        fp = fps[job.href] = fingerprint(list(job.sources), *extra)
        if ledger.fresh(job.href, fp, cube):
            unchanged += 1
        else:
            todo[job.mask_href is not None].append((job, fp))
    return todo[0], todo[1], unchanged
