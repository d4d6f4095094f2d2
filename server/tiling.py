"""What map tiles are made of, apart from their routes: a tile's PNG, its ETag from the
files it reads, and a collection's zoom range and lon/lat bounds."""

from __future__ import annotations

import hashlib
import os

from leafcube.catalogue import Collection, DateEntry
from leafcube.catalogue.qc import QCFilter
from leafcube.catalogue.roi import WGS84, transform_bounds
from leafcube.reader import CubeFiles, Datasets

from . import png, tms
from .errors import APIError
from .render import render


def bounds_wgs84(coll: Collection) -> tuple[float, float, float, float]:
    """The collection's lon/lat extent (from the catalogue, or computed from its native one)."""
    if coll.extent_wgs84:
        return coll.extent_wgs84
    if coll.extent:
        return transform_bounds(coll.extent, coll.crs, WGS84)
    raise APIError(404, f"collection {coll.name!r} holds no data yet")


def tile_png(
    datasets: Datasets,
    files: CubeFiles,
    coll: Collection,
    entry: DateEntry,
    layer: str,
    tms_id: str,
    z: int,
    x: int,
    y: int,
    qc: QCFilter,
) -> bytes:
    """Render and encode one tile (runs on a tile thread of the app's reader: one per usable
    core, so open datasets and GDAL's block cache entries stay few and warm)."""
    matrix_set, crs = tms.TMS[tms_id], tms.TMS_CRS[tms_id]
    tile = render(datasets, files, coll, entry, layer, matrix_set, crs, z, x, y, qc)
    return png.empty() if tile is None else png.encode(*tile)


def source_etag(files: CubeFiles, entry: DateEntry, layers: list[str | None], *key: str) -> str:
    """A strong ETag for a tile: its URL and the size and mtime of every COG it reads from,
    so a re-ingested file changes it and a revalidation costs a few stats, not a render."""
    parts = list(key)
    for layer in layers:
        layer_files = entry.layers.get(layer) if layer else None
        if layer_files is None:
            continue
        for tile_name in sorted(layer_files.tiles):
            try:
                st = os.stat(files.gdal_path(layer_files.tiles[tile_name].href))
                parts.append(f"{st.st_size}-{st.st_mtime_ns}")
            except OSError:
                parts.append("missing")
    return '"' + hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest() + '"'


def max_zoom(coll: Collection, matrix_set) -> int:
    """The first level whose cells are no larger than the collection's pixels."""
    for z in range(matrix_set.minzoom, matrix_set.maxzoom + 1):
        if matrix_set.matrix(z).cellSize <= coll.resolution * 1.001:
            return z
    return matrix_set.maxzoom
