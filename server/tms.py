"""The tile matrix sets tiles are served in: WebMercatorQuad and a Canada Atlas Lambert grid.

``CCRS3979`` is an EPSG:3979 quadtree whose level 12 has 20 m cells on Earth Engine's
lattice (whole multiples of 20 m from the CRS origin, where LEAF's exports sit), so its
tiles line up with the data; every level's ScaleDenominator is
cell size / 0.00028 m, the WMTS rule QGIS relies on.
"""

from __future__ import annotations

import morecantile
from pyproj import CRS

from .errors import APIError

CCRS_ID = "CCRS3979"
#: The CCRS tile grid's corner (-2,600,000, 3,914,925) moved up onto the 20 m lattice.
_CCRS_ORIGIN = (-2_600_000.0, 3_914_940.0)
_CCRS_LEVEL0_CELL = 20.0 * 2**12


def _ccrs() -> morecantile.TileMatrixSet:
    span = _CCRS_LEVEL0_CELL * 256
    x0, y0 = _CCRS_ORIGIN
    return morecantile.TileMatrixSet.custom(
        [x0, y0 - span, x0 + span, y0],
        CRS.from_epsg(3979),
        minzoom=0,
        maxzoom=14,
        id=CCRS_ID,
        title="Canada Atlas Lambert (EPSG:3979) on the 20 m Earth Engine lattice",
    )


TMS: dict[str, morecantile.TileMatrixSet] = {
    "WebMercatorQuad": morecantile.tms.get("WebMercatorQuad"),
    CCRS_ID: _ccrs(),
}
#: Each set's CRS as an ``EPSG:`` code (what pyproj and rasterio take).
TMS_CRS: dict[str, str] = {k: f"EPSG:{t.crs.to_epsg()}" for k, t in TMS.items()}


def get(tms_id: str) -> morecantile.TileMatrixSet:
    """The tile matrix set ``tms_id``; 404 naming the others when unknown."""
    try:
        return TMS[tms_id]
    except KeyError:
        raise APIError(404, f"unknown tile matrix set {tms_id!r}; use one of {list(TMS)}") from None


def check_tile(tms: morecantile.TileMatrixSet, z: int, x: int, y: int) -> None:
    """404 unless ``z/x/y`` is a tile of ``tms``."""
    if not tms.minzoom <= z <= tms.maxzoom:
        raise APIError(404, f"zoom {z} is outside {tms.id}'s levels {tms.minzoom}-{tms.maxzoom}")
    m = tms.matrix(z)
    if not (0 <= x < m.matrixWidth and 0 <= y < m.matrixHeight):
        raise APIError(
            404,
            f"tile {z}/{x}/{y} is outside {tms.id} level {z} "
            f"(x 0-{m.matrixWidth - 1}, y 0-{m.matrixHeight - 1})",
        )
