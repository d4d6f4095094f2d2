"""Cubes written by an older leafcube, brought to the current encoding from their own COGs.

Before the int16 + nodata encoding, masked layers were stored as LEAF's uint8 (uint16 for
Date) with an internal mask band, which half of the common clients ignore. Ingest into
such a cube first rewrites each of its COGs losslessly from itself — its DNs where its
mask is set, :data:`~leafcube.catalogue.products.NODATA` elsewhere — so no export has to
be found again. Each COG lands by rename and one already rewritten is skipped, so a run
that is killed part-way goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import rasterio
from rasterio.errors import RasterioError
from tqdm import tqdm

from leafcube.catalogue.models import Catalogue, Collection, LayerSpec, TileFile
from leafcube.catalogue.products import leaf_layers

from .cog import CACHE_MB, write_cog
from .errors import IngestError
from .vrt import Placed, upgrade_xml


def stale_layers(coll: Collection) -> dict[str, LayerSpec]:
    """The layers of ``coll`` whose stored encoding is not LEAF's current one: the spec
    each is to take."""
    per_product_qc = any(n.endswith("_QC") for n in coll.layers)
    template = leaf_layers(per_product_qc=per_product_qc)
    return {
        n: template[n]
        for n, spec in coll.layers.items()
        if n in template and (spec.dtype, spec.nodata) != (template[n].dtype, template[n].nodata)
    }


def _tiles(coll: Collection, names: set[str]) -> Iterator[tuple[str, TileFile]]:
    """Each tile COG of the named layers, once (a yearly Partition is shared by dates)."""
    seen: set[str] = set()
    for entry in coll.sorted_dates():
        for name, files in entry.layers.items():
            if name not in names:
                continue
            for tile in files.tiles.values():
                if tile.href not in seen:
                    seen.add(tile.href)
                    yield name, tile


def upgrade_cog(path: Path, spec: LayerSpec, crs: str, tmp: Path) -> bool:
    """Rewrite one COG in ``spec``'s encoding; False when it already is."""
    try:
        with rasterio.open(path) as src:
            if src.dtypes[0] == spec.dtype and src.nodata == spec.nodata:
                return False
            old_dtype, (w, h) = src.dtypes[0], (src.width, src.height)
            transform = src.transform.to_gdal()
    except RasterioError as exc:
        raise IngestError(f"{path}: cannot read it to upgrade the cube ({exc})") from None
    xml = upgrade_xml(spec, crs, transform, Placed(str(path.resolve()), w, h, 0, 0), old_dtype)
    write_cog(xml, spec, path, tmp)
    return True


def upgrade_cube(cat: Catalogue, cube: Path, tmp: Path, progress: bool = True) -> int:
    """Bring every collection of ``cat`` to the current encoding, rewriting its COGs in
    ``cube`` and its layer specs in ``cat``; returns how many COGs were rewritten."""
    rewritten = 0
    for coll in cat.collections.values():
        stale = stale_layers(coll)
        if not stale:
            continue
        tmp.mkdir(parents=True, exist_ok=True)
        tiles = list(_tiles(coll, set(stale)))
        desc = f"upgrade {coll.name}"
        with (
            rasterio.Env(GDAL_CACHEMAX=CACHE_MB * 2**20),
            tqdm(total=len(tiles), desc=desc, unit="cog", disable=not progress) as bar,
        ):
            for name, tile in tiles:
                rewritten += upgrade_cog(cube / tile.href, stale[name], coll.crs, tmp)
                bar.update()
        coll.layers = {n: stale.get(n, s) for n, s in coll.layers.items()}
    return rewritten
