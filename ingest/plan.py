"""Planning a run: which COGs to write from which files, and which are already up to date.

A collection's grid comes from the data: the CRS, pixel size and lattice of its first
file (Earth Engine puts an export made with ``crs`` and ``scale`` on whole multiples of
the scale from the CRS origin); every later file must sit on the same lattice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import orjson
import rasterio
from rasterio.errors import RasterioError

from leafcube.catalogue.grid import CCRS_CRS
from leafcube.catalogue.models import Catalogue, Collection
from leafcube.catalogue.products import PRODUCTS, leaf_layers

from .cog import Grid, Job, lattice_phase
from .decode import VERSION_DATE, Decoding
from .errors import IngestError
from .mask import MaskInput, MaskRecipe
from .names import COMPACT, Export, split_piece
from .state import Ledger, fingerprint

_SENSOR_BY_RESOLUTION = {20: "Sentinel-2", 30: "Landsat"}
#: The layers the 2023-and-later no-data rule reads besides QC.
RULE_LAYERS = (*PRODUCTS, "Date")

#: A job still to run and its fingerprint.
Pending = tuple[Job, str]


def crs_name(crs: rasterio.crs.CRS) -> str:
    """``EPSG:3979`` for a CRS with an EPSG code, else its WKT."""
    code = crs.to_epsg()
    return f"EPSG:{code}" if code else crs.to_wkt()


def default_collection(exp: Export, res: float, crs: str) -> str:
    """``leaf-s2-20m-monthly``, ``leaf-landsat-30m-peak-v2022``, ``...-monthly-epsg32614``.

    v2022 exports (one QC per product) and other CRSs get collections of their own.
    """
    r = round(res)
    sensor = {20: "s2-", 30: "landsat-"}.get(r, "")
    period = "monthly" if exp.period == "yearly" else exp.period
    size = f"{r}m" if res >= 1 else f"{res:g}deg".replace(".", "p")  # geographic CRSs
    name = f"leaf-{sensor}{size}-{period}"
    if exp.per_product_qc:
        name += "-v2022"
    if crs != CCRS_CRS:
        name += "-" + crs.lower().replace(":", "")
    return name


def new_collection(name: str, grid: Grid, per_product_qc: bool, period: str) -> Collection:
    """An empty LEAF collection on ``grid``, its layers added as files arrive."""
    r = round(grid.res)
    sensor = _SENSOR_BY_RESOLUTION.get(r, "LEAF")
    period = "monthly" if period == "yearly" else period
    style = "v2022 exports, one QC per product" if per_product_qc else "a single QC"
    return Collection(
        name=name,
        title=f"LEAF {sensor} {r} m {period}" + (" (v2022)" if per_product_qc else ""),
        description=(
            f"LEAF vegetation products ({sensor}, {r} m, {period} composites, {style}): LAI, "
            "fCOVER, fAPAR and black-sky albedo (with their uncertainties where exported), "
            f"QC, acquisition date and land-cover partition, in {grid.crs}."
        ),
        crs=grid.crs,
        resolution=float(grid.res),
        origin=lattice_phase(grid.origin, grid.res),
        layers={},
    )


def _header(path: Path) -> Grid:
    """The CRS, pixel size and top-left corner of a file (its header only)."""
    try:
        with rasterio.open(path) as src:
            if src.crs is None:
                raise IngestError(f"{path}: has no CRS")
            return Grid(crs_name(src.crs), float(src.res[0]), (src.bounds.left, src.bounds.top))
    except RasterioError as exc:
        raise IngestError(f"{path}: not a readable GeoTIFF ({exc})") from None


def _collection_for(cat: Catalogue, name: str, exp: Export, grid: Grid, path: Path) -> Collection:
    """The collection a file goes to (created on first use), checked to accept it."""
    coll = cat.collections.get(name)
    if coll is None:
        coll = new_collection(name, grid, exp.per_product_qc, exp.period)
        cat.collections[name] = coll
    if abs(coll.resolution - grid.res) > 1e-9:
        raise IngestError(
            f"{path}: {grid.res:g} m pixels, but collection {name} is {coll.resolution:g} m "
            "(choose another --collection)"
        )
    qcs = [n for n in coll.layers if n == "QC" or n.endswith("_QC")]
    if qcs and ("QC" not in qcs) != exp.per_product_qc:
        style = "a single QC" if "QC" in qcs else "one QC per product (v2022)"
        raise IngestError(
            f"{path}: a LEAF {exp.version} export, but collection {name} holds exports with "
            f"{style}; ingest it into another --collection"
        )
    if not add_layer(coll, exp.layer, exp.per_product_qc):
        raise IngestError(f"{path}: layer {exp.layer} does not belong to a {exp.version} export")
    return coll


def add_layer(coll: Collection, layer: str, per_product_qc: bool) -> bool:
    """Give ``coll`` the LEAF layer ``layer`` (kept in the fixed order); False if none such."""
    template = leaf_layers(per_product_qc=per_product_qc)
    if layer not in template:
        return False
    if layer not in coll.layers:
        coll.layers = {n: s for n, s in template.items() if n in coll.layers or n == layer}
    return True


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


def _layers_of(exp: Export) -> list[tuple[str, Decoding | None]]:
    """The cube layers one export makes, with the decoding each needs."""
    if exp.layer == COMPACT:
        return [(n, Decoding("compact", layer=n)) for n in (*PRODUCTS, "QC")]
    if exp.layer == "Date":
        expected = None if exp.version is None else VERSION_DATE.get(exp.version)
        return [("Date", Decoding("date", exp.start.year, expected=expected))]
    return [(exp.layer, None)]


def plan_jobs(
    groups: Iterable[tuple[Export, list[Path]]],
    cat: Catalogue,
    collection: str | None,
    pieces_may_repeat: bool,
    failures: list[str],
) -> list[Job]:
    """One job per layer, date and region; files that cannot be placed become failure lines."""
    jobs: dict[str, Job] = {}
    for exp, pieces in groups:
        twin = None if pieces_may_repeat else _repeated(pieces)
        if twin:
            failures.append(f"{twin[1]}: the same layer, date and tile as {twin[0]}")
            continue
        try:
            grid = _header(sorted(pieces)[0])
            name = collection or default_collection(exp, grid.res, grid.crs)
            made = [
                (_collection_for(cat, name, replace(exp, layer=n), grid, pieces[0]), n, dec)
                for n, dec in _layers_of(exp)
            ]
        except IngestError as exc:
            failures.append(str(exc))
            continue
        for coll, layer, dec in made:
            job = Job(
                collection=coll.name,
                key=exp.key,
                start=exp.start,
                end=exp.end,
                tile=exp.region,
                spec=coll.layers[layer],
                sources=tuple(sorted(pieces)),
                grid=Grid(coll.crs, coll.resolution, coll.origin),
                href=f"{coll.name}/{exp.key}/{exp.region}/{layer}.tif",
                version=exp.version or "current",
                decode=dec,
            )
            if job.href in jobs:
                failures.append(
                    f"{sorted(pieces)[0]}: the same layer, date and tile as "
                    f"{jobs[job.href].sources[0]}"
                )
                continue
            jobs[job.href] = job
    return list(jobs.values())


def source_fp(job: Job) -> str:
    """The fingerprint of a job's own files, encoding, grid and decoding (not its mask)."""
    return fingerprint(
        list(job.sources),
        orjson.dumps(job.spec.to_dict()).decode(),
        repr(job.grid),
        repr(job.decode),
    )


def _input(href: str, jobs: dict[str, Job], ledger: Ledger, cube: Path):
    """A mask input and its fingerprint: from this run's files, else the cube's COG, else None."""
    layer = href.rsplit("/", 1)[-1].removesuffix(".tif")
    job = jobs.get(href)
    if job is not None:
        compact = job.decode if job.decode and job.decode.kind == "compact" else None
        return MaskInput(layer, job.sources, compact), source_fp(job)
    rec = ledger.get(href)
    if rec is not None and "source_fingerprint" in rec and (cube / href).is_file():
        return MaskInput(layer, (cube / href,)), rec["source_fingerprint"]
    return None


def with_masks(jobs: list[Job], ledger: Ledger, cube: Path, failures: list[str]) -> list[Pending]:
    """Each job with its mask recipe and its fingerprint; jobs without their QC fail.

    A fingerprint covers the job's files, encoding and grid, and every input of its mask,
    so a new QC (or, for 2023 and later, a new product or Date) rewrites what it masks.
    """
    by_href = {j.href: j for j in jobs}
    out: list[Pending] = []
    for job in jobs:
        sfp = source_fp(job)
        if job.spec.mask != "qc":
            out.append((job, sfp))
            continue
        base = job.href.rsplit("/", 1)[0]
        qc_layer = job.spec.qc_layer or "QC"
        qc = _input(f"{base}/{qc_layer}.tif", by_href, ledger, cube)
        if qc is None:
            failures.append(
                f"{job.sources[0]}: no {qc_layer} layer for {job.key} {job.tile}; ingest its "
                "QC export with it (which of its pixels hold data comes from QC)"
            )
            continue
        others = []
        if job.version != "v2022":
            others = [_input(f"{base}/{n}.tif", by_href, ledger, cube) for n in RULE_LAYERS]
        got = [o for o in others if o is not None]
        qc_itself = job.spec.kind == "bitmask"  # keeps its invalid pixels: see catalogue.qc
        recipe = MaskRecipe(
            id=f"{base}/{qc_layer}" + ("#qc" if qc_itself else ""),
            rule="v2022" if job.version == "v2022" else "single",
            qc=qc[0],
            others=tuple(i for i, _ in got),
            invalid_too=qc_itself,
        )
        mask_fp = fingerprint([], qc[1], *(f for _, f in got))
        out.append((replace(job, mask=recipe), fingerprint([], sfp, mask_fp)))
    return out
