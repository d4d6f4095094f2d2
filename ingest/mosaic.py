"""One VRT per date and layer that mosaics its tile COGs, so a whole date is one URL.

Sources are relative to the VRT, so the cube folder can move to any disk or web
server; the mosaic has the layer's nodata DN, and where tiles overlap each pixel comes
from a tile that has data there.

The mosaic has overviews (factors 2, 4, 8, … as the tile COGs have), each a VRT next to
it (``{layer}.ovr{factor}.vrt``) over the same tile COGs on a coarser grid: GDAL (QGIS,
rio-tiler, gdalwarp) reads a zoomed-out view from them, and they read each tile's own
internal overview, so no full-resolution block is fetched.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from leafcube.catalogue.models import Collection, LayerFiles, LayerSpec

from .cog import COG_OPTIONS
from .vrt import Placed, mosaic_source_xml

#: The tile COGs' block size: overview levels stop when a level fits in one block.
BLOCK = int(COG_OPTIONS["BLOCKSIZE"])


def mosaic_href(collection: str, key: str, layer: str) -> str:
    """``{collection}/{date}/{layer}.vrt`` (or ``.../partition/{year}/Partition.vrt``)."""
    return f"{collection}/{key}/{layer}.vrt"


def overview_href(mosaic: str, factor: int) -> str:
    """The overview level of ``factor`` next to ``mosaic``: ``…/{layer}.ovr{factor}.vrt``
    (sorted before ``{layer}.vrt``, so a copy in name order lands the levels first)."""
    return f"{mosaic.removesuffix('.vrt')}.ovr{factor}.vrt"


def overview_factors(shape: tuple[int, int]) -> list[int]:
    """Factors 2, 4, 8, … until a level fits in one block: the rule of GDAL's COG driver
    (``OVERVIEWS=AUTO``), so the mosaic has the levels its tiles have, and more when it is
    larger than a tile."""
    height, width = shape
    factors: list[int] = []
    factor = 1
    while max(math.ceil(width / factor), math.ceil(height / factor)) > BLOCK:
        factor *= 2
        factors.append(factor)
    return factors


@dataclass(frozen=True)
class _Layout:
    """A mosaic's grid and its tiles placed on it."""

    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]
    placed: list[Placed]


def _layout(coll: Collection, files: LayerFiles) -> _Layout:
    """The mosaic's grid (the union of its tiles) and each tile's pixel offset on it, sources
    relative to the mosaic's folder; tiles in name order (a later tile wins)."""
    tiles = [files.tiles[k] for k in sorted(files.tiles)]
    res = coll.resolution
    xmin = min(t.bbox[0] for t in tiles)
    ymax = max(t.bbox[3] for t in tiles)
    xmax = max(t.bbox[2] for t in tiles)
    ymin = min(t.bbox[1] for t in tiles)
    shape = (round((ymax - ymin) / res), round((xmax - xmin) / res))
    here = posixpath.dirname(files.mosaic)
    placed = [
        Placed(
            posixpath.relpath(t.href, here),
            t.shape[1],
            t.shape[0],
            round((t.bbox[0] - xmin) / res),
            round((ymax - t.bbox[3]) / res),
            relative=True,
        )
        for t in tiles
    ]
    return _Layout((xmin, res, 0.0, ymax, 0.0, -res), shape, placed)


def mosaic_xml(coll: Collection, spec: LayerSpec, files: LayerFiles) -> str:
    """The VRT text of one date and layer, its sources relative to the VRT itself, with
    ``<Overview>`` elements naming its overview levels (:func:`overview_xmls`)."""
    lay = _layout(coll, files)
    levels = [
        posixpath.basename(overview_href(files.mosaic, f)) for f in overview_factors(lay.shape)
    ]
    return mosaic_source_xml(spec, coll.crs, lay.transform, lay.shape, lay.placed, levels)


def _level_xml(spec: LayerSpec, crs: str, lay: _Layout, factor: int) -> str:
    """One overview level: the mosaic on a grid ``factor`` times coarser (sizes rounded up,
    as GDAL sizes overviews; the grid then spans exactly the mosaic's extent)."""
    height, width = lay.shape
    oh, ow = math.ceil(height / factor), math.ceil(width / factor)
    x0, res, _, y0, _, _ = lay.transform
    transform = (x0, res * width / ow, 0.0, y0, 0.0, -res * height / oh)
    scale = (ow / width, oh / height)
    return mosaic_source_xml(spec, crs, transform, (oh, ow), lay.placed, scale=scale)


def overview_xmls(coll: Collection, spec: LayerSpec, files: LayerFiles) -> dict[str, str]:
    """The overview level VRTs of one date and layer: href (relative to the cube) -> text."""
    lay = _layout(coll, files)
    return {
        overview_href(files.mosaic, f): _level_xml(spec, coll.crs, lay, f)
        for f in overview_factors(lay.shape)
    }


def stale_overviews(mosaic: str, names: Sequence[str], keep: Sequence[str]) -> list[str]:
    """Which of ``names`` (file names in the mosaic's folder) are overview levels of
    ``mosaic`` that are no longer wanted (the mosaic shrank): their hrefs."""
    here, stem = posixpath.split(mosaic.removesuffix(".vrt"))
    prefix = f"{stem}.ovr"
    wanted = set(keep)
    return [
        posixpath.join(here, n)
        for n in sorted(names)
        if n.startswith(prefix)
        and n.endswith(".vrt")
        and n[len(prefix) : -4].isdigit()
        and posixpath.join(here, n) not in wanted
    ]
