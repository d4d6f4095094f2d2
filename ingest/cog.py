"""One layer of one date and tile: check its source GeoTIFF(s), write one COG.

The COG is made by GDAL's own COG driver from a small VRT (split pieces stitched,
metadata set, mask band from QC, see :mod:`.mask`), so it costs what ``gdal_translate -of COG``
costs, streams in blocks (memory bounded by ``GDAL_CACHEMAX``) and lands with
``os.replace``: a reader sees the old file or the new one, never a part.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import rasterio
import rasterio.shutil
from rasterio.errors import RasterioError

from leafcube.catalogue.models import Bounds, LayerSpec

from .mask import MaskFiles
from .vrt import Placed, vrt_xml

#: Creation options shared by every COG leafcube writes (see docs/catalogue.md). Continuous
#: layers add the horizontal predictor and average overviews; bitmask, date and class
#: layers compress better without it and take nearest-neighbour overviews.
COG_OPTIONS = {
    "BLOCKSIZE": "512",
    "COMPRESS": "ZSTD",
    "LEVEL": "1",
    "OVERVIEWS": "AUTO",
    "BIGTIFF": "IF_SAFER",
    "SPARSE_OK": "FALSE",
}
#: GDAL block cache (MB, shared by the run's threads): bounds memory whatever the file size.
#: COGs are written single-threaded (ZSTD level 1 is cheap; measured, GDAL's NUM_THREADS
#: cost CPU without saving time on 2 cores); ``--workers`` writes several at once.
CACHE_MB = 256


class IngestError(ValueError):
    """A source that cannot become a COG; the message names the file and the reason."""


@dataclass(frozen=True)
class Grid:
    """The pixel grid a collection's files must sit on."""

    crs: str
    res: float
    origin: tuple[float, float]


@dataclass(frozen=True)
class Job:
    """One COG to write: a layer of one date (or year) and tile, from one or more pieces."""

    collection: str
    key: str
    start: dt.date
    end: dt.date
    tile: str
    spec: LayerSpec
    sources: tuple[Path, ...]
    grid: Grid
    href: str
    mask_href: str | None = None
    tile_bounds: Bounds | None = None


@dataclass(frozen=True)
class Written:
    """Where a COG landed and its grid."""

    href: str
    bbox: Bounds
    shape: tuple[int, int]


def _open_checked(path: Path, job: Job) -> tuple[Bounds, int, int]:
    """Bounds and size of one source after checking it fits the job's layer and grid."""
    try:
        with rasterio.open(path) as src:
            driver, count, dtype = src.driver, src.count, src.dtypes[0]
            crs, res, bounds = src.crs, src.res, tuple(src.bounds)
            width, height = src.width, src.height
    except RasterioError as exc:
        raise IngestError(f"{path}: not a readable GeoTIFF ({exc})") from None
    g = job.grid
    if driver != "GTiff":
        raise IngestError(f"{path}: not a GeoTIFF (GDAL reads it as {driver})")
    if count != 1:
        raise IngestError(f"{path}: has {count} bands; LEAF exports hold one layer per file")
    if dtype != job.spec.dtype:
        raise IngestError(f"{path}: {job.spec.name} must be {job.spec.dtype}, not {dtype}")
    if crs is None or crs != rasterio.crs.CRS.from_user_input(g.crs):
        found = crs.to_string() if crs else "no CRS"
        raise IngestError(f"{path}: CRS is {found}; collection {job.collection} is {g.crs}")
    if not (math.isclose(res[0], g.res) and math.isclose(res[1], g.res)):
        raise IngestError(
            f"{path}: pixel size is {res[0]:g} x {res[1]:g} m; "
            f"collection {job.collection} is {g.res:g} m"
        )
    for value, origin in ((bounds[0], g.origin[0]), (bounds[3], g.origin[1])):
        steps = (value - origin) / g.res
        if abs(steps - round(steps)) > 1e-6:
            raise IngestError(
                f"{path}: pixel grid is not aligned to collection {job.collection} "
                f"(origin {g.origin[0]:.0f}, {g.origin[1]:.0f}; {g.res:g} m pixels)"
            )
    tb = job.tile_bounds
    if tb is not None and not (
        bounds[0] >= tb[0] - 1e-6
        and bounds[1] >= tb[1] - 1e-6
        and bounds[2] <= tb[2] + 1e-6
        and bounds[3] <= tb[3] + 1e-6
    ):
        box = ", ".join(f"{v:.0f}" for v in bounds)
        raise IngestError(f"{path}: extent ({box}) lies outside {job.tile}")
    return bounds, width, height


def plan_sources(job: Job) -> tuple[Bounds, tuple[int, int], list[Placed]]:
    """The union grid of the job's pieces and where each piece sits on it."""
    found = [(p, *_open_checked(p, job)) for p in job.sources]
    xmin = min(b[0] for _, b, _, _ in found)
    ymax = max(b[3] for _, b, _, _ in found)
    xmax = max(b[2] for _, b, _, _ in found)
    ymin = min(b[1] for _, b, _, _ in found)
    res = job.grid.res
    width, height = round((xmax - xmin) / res), round((ymax - ymin) / res)
    placed = [
        Placed(str(p.resolve()), w, h, round((b[0] - xmin) / res), round((ymax - b[3]) / res))
        for p, b, w, h in found
    ]
    return (xmin, ymin, xmax, ymax), (height, width), placed


def _mask_source(
    job: Job, cube: Path, bbox: Bounds, shape: tuple[int, int], masks: MaskFiles
) -> list[Placed]:
    """The mask made from the QC COG of this job, after checking they share a grid."""
    assert job.mask_href is not None
    qc_path = cube / job.mask_href
    with rasterio.open(qc_path) as qc:
        same = qc.shape == shape and all(
            math.isclose(a, b, abs_tol=1e-6) for a, b in zip(qc.bounds, bbox, strict=True)
        )
    if not same:
        raise IngestError(
            f"{job.sources[0]}: its grid differs from its QC layer {job.spec.qc_layer} "
            f"({job.mask_href}); they must cover the same pixels"
        )
    return [Placed(str(masks.get(qc_path.resolve())), shape[1], shape[0], 0, 0)]


def build_cog(job: Job, cube: Path, masks: MaskFiles) -> Written:
    """Check the job's sources and write its COG into the cube; return where and its grid.

    Masks and temporary files go to ``masks.tmp_dir`` (inside the cube's private folder).
    Everything runs under a bounded GDAL block cache, so memory stays flat with size.
    """
    with rasterio.Env(GDAL_CACHEMAX=CACHE_MB * 2**20):
        bbox, shape, placed = plan_sources(job)
        mask = _mask_source(job, cube, bbox, shape, masks) if job.mask_href else []
        transform = (bbox[0], job.grid.res, 0.0, bbox[3], 0.0, -job.grid.res)
        xml = vrt_xml(job.spec, job.grid.crs, transform, shape, placed, mask)
        masks.tmp_dir.mkdir(parents=True, exist_ok=True)
        stem = masks.tmp_dir / uuid.uuid4().hex
        vrt_path, tif_path = stem.with_suffix(".vrt"), stem.with_suffix(".tif")
        vrt_path.write_text(xml)
        continuous = job.spec.kind == "continuous"
        try:
            rasterio.shutil.copy(
                str(vrt_path),
                str(tif_path),
                driver="COG",
                RESAMPLING="AVERAGE" if continuous else "NEAREST",
                PREDICTOR="YES" if continuous else "NO",
                **COG_OPTIONS,
            )
            out = cube / job.href
            out.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tif_path, 0o644)
            os.replace(tif_path, out)
        except RasterioError as exc:
            raise IngestError(f"{job.sources[0]}: GDAL could not write the COG ({exc})") from None
        finally:
            vrt_path.unlink(missing_ok=True)
            tif_path.unlink(missing_ok=True)
    return Written(job.href, bbox, shape)
