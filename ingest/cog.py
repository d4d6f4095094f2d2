"""One layer of one date and tile: check its source GeoTIFF(s), write one COG.

The COG is made by GDAL's own COG driver from a small VRT (split pieces stitched,
metadata set, the nodata DN where the version's no-data rule finds none, see
:mod:`.mask`; Date and
compact exports decoded first, see :mod:`.decode`), so it costs what
``gdal_translate -of COG`` costs, streams in blocks (memory bounded by
``GDAL_CACHEMAX``) and lands with ``os.replace``: a reader sees the old file or the
new one, never a part.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError

from leafcube.catalogue.models import Bounds, LayerSpec
from leafcube.catalogue.products import EXPORT_DTYPES

from .decode import Decoding, decoder, write_decoded
from .errors import DiskFull, IngestError
from .mask import MaskFiles, MaskRecipe
from .vrt import Placed, cog_source_xml

#: Creation options shared by every COG leafcube writes (see docs/catalogue.md). Continuous
#: layers add the horizontal predictor and average overviews; bitmask, date and class
#: layers compress better without it and take nearest-neighbour overviews. 256 px blocks:
#: a point or a small ROI fetches and decodes a quarter of a 512 px block (a 120-date
#: point series over HTTP 2.7x fewer bytes), large windows and map tiles cost the same
#: (bench/filecost.py).
COG_OPTIONS = {
    "BLOCKSIZE": "256",
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


@dataclass(frozen=True)
class Grid:
    """The pixel grid a collection's files must sit on: CRS, pixel size and a lattice point."""

    crs: str
    res: float
    origin: tuple[float, float]

    def phase(self) -> tuple[float, float]:
        """Where the lattice crosses the CRS axes, modulo the pixel size (EE: 0, 0)."""
        return lattice_phase(self.origin, self.res)


def lattice_phase(corner: tuple[float, float], res: float) -> tuple[float, float]:
    """A lattice point reduced modulo the pixel size, so two lattices compare by value."""
    return tuple(round(v % res, 6) % res for v in corner)  # type: ignore[return-value]


@dataclass(frozen=True)
class Job:
    """One COG to write: a layer of one date (or year) and region, from one or more pieces.

    ``decode`` turns the pieces into the layer's DNs first (Date encodings, the compact
    export); ``mask`` is the recipe of its no-data mask (None for Partition).
    """

    collection: str
    key: str
    start: dt.date
    end: dt.date
    tile: str
    spec: LayerSpec
    sources: tuple[Path, ...]
    grid: Grid
    href: str
    version: str
    decode: Decoding | None = None
    mask: MaskRecipe | None = None


@dataclass(frozen=True)
class Written:
    """Where a COG landed, its grid, and what the catalogue records of its source."""

    href: str
    bbox: Bounds
    shape: tuple[int, int]
    source: dict[str, str]


def _open_checked(path: Path, job: Job) -> tuple[Bounds, int, int, str]:
    """Bounds, size and data type of one source after checking it fits the job's layer
    and grid."""
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
    if job.decode is not None:
        job.decode.check_dtype(dtype, path, job.spec.name)
    elif dtype not in (EXPORT_DTYPES[job.spec.kind], job.spec.dtype):
        raise IngestError(
            f"{path}: {job.spec.name} must be {EXPORT_DTYPES[job.spec.kind]} "
            f"(as LEAF writes it), not {dtype}"
        )
    if crs is None or crs != rasterio.crs.CRS.from_user_input(g.crs):
        found = crs.to_string() if crs else "no CRS"
        raise IngestError(f"{path}: CRS is {found}; collection {job.collection} is {g.crs}")
    if not (math.isclose(res[0], g.res) and math.isclose(res[1], g.res)):
        raise IngestError(
            f"{path}: pixel size is {res[0]:g} x {res[1]:g} m; "
            f"collection {job.collection} is {g.res:g} m"
        )
    mine = lattice_phase((bounds[0], bounds[3]), g.res)
    if not all(
        math.isclose(a, b, abs_tol=1e-6) or math.isclose(abs(a - b), g.res, abs_tol=1e-6)
        for a, b in zip(mine, g.phase(), strict=True)
    ):
        raise IngestError(
            f"{path}: its pixel lattice is x = {mine[0]:g}, y = {mine[1]:g} (mod {g.res:g} m), "
            f"but collection {job.collection}'s is x = {g.phase()[0]:g}, y = {g.phase()[1]:g}; "
            "export it with the same crs and scale, or ingest it into another --collection"
        )
    return bounds, width, height, dtype


def plan_sources(job: Job) -> tuple[Bounds, tuple[int, int], list[Placed], str]:
    """The union grid of the job's pieces, where each piece sits on it, and their type."""
    found = [(p, *_open_checked(p, job)) for p in job.sources]
    types = {t for *_, t in found}
    if len(types) > 1:
        raise IngestError(f"{job.sources[0]}: pieces of one layer of types {sorted(types)}")
    xmin = min(b[0] for _, b, _, _, _ in found)
    ymax = max(b[3] for _, b, _, _, _ in found)
    xmax = max(b[2] for _, b, _, _, _ in found)
    ymin = min(b[1] for _, b, _, _, _ in found)
    res = job.grid.res
    width, height = round((xmax - xmin) / res), round((ymax - ymin) / res)
    placed = [
        Placed(str(p.resolve()), w, h, round((b[0] - xmin) / res), round((ymax - b[3]) / res))
        for p, b, w, h, _ in found
    ]
    return (xmin, ymin, xmax, ymax), (height, width), placed, types.pop()


def _decoded(job: Job, tmp: Path) -> tuple[list[Path], dict[str, str], list[Path]]:
    """The job's sources after its decoding (temp files to remove after use), and the record."""
    if job.decode is None:
        return list(job.sources), {}, []
    fn, info = decoder(job.decode, list(job.sources))
    out = [
        write_decoded(p, tmp / f"{uuid.uuid4().hex}.tif", fn, job.spec.dtype) for p in job.sources
    ]
    return out, info, out


def build_cog(job: Job, cube: Path, masks: MaskFiles) -> Written:
    """Check the job's sources and write its COG into the cube; return where and its grid.

    Masks and temporary files go to ``masks.tmp_dir`` (inside the cube's private folder).
    Everything runs under a bounded GDAL block cache, so memory stays flat with size.
    """
    masks.tmp_dir.mkdir(parents=True, exist_ok=True)
    temps: list[Path] = []
    try:
        with rasterio.Env(GDAL_CACHEMAX=CACHE_MB * 2**20):
            bbox, shape, placed, source_dtype = plan_sources(job)
            paths, info, temps = _decoded(job, masks.tmp_dir)
            if job.decode is not None:
                source_dtype = job.spec.dtype  # decoded into the layer's own type
            placed = [
                Placed(str(p.resolve()), s.width, s.height, s.col, s.row)
                for p, s in zip(paths, placed, strict=True)
            ]
            mask = None
            if job.mask is not None:
                m = masks.get(job.mask, bbox, shape, job.grid.res, job.grid.crs)
                mask = Placed(str(m), shape[1], shape[0], 0, 0)
            transform = (bbox[0], job.grid.res, 0.0, bbox[3], 0.0, -job.grid.res)
            xml = cog_source_xml(
                job.spec, job.grid.crs, transform, shape, placed, source_dtype, mask
            )
            _write_cog(job, cube, masks.tmp_dir, xml)
    except (RasterioError, CPLE_BaseError, OSError) as exc:
        check_space(masks.tmp_dir)
        raise IngestError(f"{job.sources[0]}: GDAL could not read or write it ({exc})") from None
    finally:
        for t in temps:
            t.unlink(missing_ok=True)
    return Written(job.href, bbox, shape, {"leaf": job.version, **info})


#: Free space under which a failed write is taken for a full disk.
LOW_SPACE = 64 * 2**20


def check_space(folder: Path) -> None:
    """Raise :class:`DiskFull` when ``folder``'s file system is (nearly) full: GDAL reports a
    full disk as an I/O error of whatever it was writing."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < LOW_SPACE:
        raise DiskFull(
            f"no space left where the cube is written ({folder.parent.parent}: "
            f"{free / 2**20:.1f} MB free): free some space and run the same command again; "
            "the COGs already written are kept and not written again"
        )


def _write_cog(job: Job, cube: Path, tmp: Path, xml: str) -> None:
    """The job's COG from the VRT ``xml``, into place."""
    write_cog(xml, job.spec, cube / job.href, tmp)


def write_cog(xml: str, spec: LayerSpec, out: Path, tmp: Path) -> None:
    """GDAL's COG driver from the VRT ``xml`` into a temp file in ``tmp``, renamed to ``out``:
    a reader sees the old file or the new one, never a part."""
    stem = tmp / uuid.uuid4().hex
    vrt_path, tif_path = stem.with_suffix(".vrt"), stem.with_suffix(".tif")
    vrt_path.write_text(xml)
    continuous = spec.kind == "continuous"
    try:
        rasterio.shutil.copy(
            str(vrt_path),
            str(tif_path),
            driver="COG",
            RESAMPLING="AVERAGE" if continuous else "NEAREST",
            PREDICTOR="YES" if continuous else "NO",
            **COG_OPTIONS,
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tif_path, 0o644)
        os.replace(tif_path, out)
    finally:
        vrt_path.unlink(missing_ok=True)
        tif_path.unlink(missing_ok=True)
