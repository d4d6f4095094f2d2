"""One VRT per date and layer that mosaics its tile COGs, so a whole date is one URL.

Sources are relative to the VRT, so the cube folder can move to any disk or web
server; the mosaic has the layer's nodata DN, and where tiles overlap each pixel comes
from a tile that has data there.
"""

from __future__ import annotations

import posixpath

from leafcube.catalogue.models import Collection, LayerFiles, LayerSpec

from .vrt import Placed, mosaic_source_xml


def mosaic_href(collection: str, key: str, layer: str) -> str:
    """``{collection}/{date}/{layer}.vrt`` (or ``.../partition/{year}/Partition.vrt``)."""
    return f"{collection}/{key}/{layer}.vrt"


def mosaic_xml(coll: Collection, spec: LayerSpec, files: LayerFiles) -> str:
    """The VRT text of one date and layer, its sources relative to the VRT itself."""
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
    transform = (xmin, res, 0.0, ymax, 0.0, -res)
    return mosaic_source_xml(spec, coll.crs, transform, shape, placed)
