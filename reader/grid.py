"""An ROI's pixel grid in a collection's native CRS, and which pixels fall inside it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj.exceptions import ProjError
from rasterio.features import geometry_mask
from shapely.geometry.base import BaseGeometry

from leafcube.catalogue import Collection
from leafcube.catalogue.errors import ROIError
from leafcube.catalogue.grid import intersect, snap_bounds
from leafcube.catalogue.models import Bounds
from leafcube.catalogue.roi import WGS84, has_area, reproject


@dataclass(frozen=True)
class RoiGrid:
    """The pixels of a collection's grid that cover an ROI's bounding box.

    ``inside`` is True for pixels whose centre lies in the ROI polygon (for a point
    or a line: the pixels it touches).
    """

    crs: str
    bounds: Bounds
    transform: Affine
    width: int
    height: int
    inside: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def window(self, row: int, col: int, height: int, width: int) -> RoiGrid:
        """The part of this grid ``height`` x ``width`` pixels from (``row``, ``col``)."""
        t = self.transform
        x0, y0 = t.c + col * t.a, t.f + row * t.e
        bounds = (x0, y0 + height * t.e, x0 + width * t.a, y0)
        inside = self.inside[row : row + height, col : col + width]
        return RoiGrid(self.crs, bounds, Affine(t.a, 0.0, x0, 0.0, t.e, y0), width, height, inside)


class GridTooLarge(ROIError):
    """An ROI whose grid has more pixels than the caller allows."""

    def __init__(self, width: int, height: int, max_pixels: int):
        super().__init__(
            f"the ROI covers {width} x {height} pixels; at most {max_pixels} are allowed"
        )
        self.width, self.height, self.max_pixels = width, height, max_pixels


def roi_grid(
    coll: Collection, geom: BaseGeometry, crs: str = WGS84, max_pixels: int | None = None
) -> RoiGrid:
    """Snap ``geom`` (in ``crs``) to ``coll``'s pixel grid.

    Raises ROIError when the ROI does not overlap the collection's extent or cannot be
    placed on its grid, and :class:`GridTooLarge` (before allocating anything) when it
    covers more than ``max_pixels`` pixels.
    """
    try:
        native = reproject(geom, crs, coll.crs)
    except ProjError:
        native = None
    if native is None or not np.isfinite(native.bounds).all():
        raise ROIError(f"the ROI cannot be projected to the collection's CRS {coll.crs}")
    res = coll.resolution
    bounds = snap_bounds(native.bounds, coll.origin, res)
    if bounds[0] == bounds[2]:
        bounds = (bounds[0], bounds[1], bounds[0] + res, bounds[3])
    if bounds[1] == bounds[3]:
        bounds = (bounds[0], bounds[1], bounds[2], bounds[1] + res)
    if coll.extent is None or intersect(bounds, coll.extent) is None:
        raise ROIError(
            f"the ROI does not overlap collection {coll.name!r}, whose extent is "
            f"{list(coll.extent_wgs84 or ())} (lon/lat)"
        )
    width = round((bounds[2] - bounds[0]) / res)
    height = round((bounds[3] - bounds[1]) / res)
    if max_pixels is not None and width * height > max_pixels:
        raise GridTooLarge(width, height, max_pixels)
    transform = Affine(res, 0.0, bounds[0], 0.0, -res, bounds[3])
    if has_area(native):
        outside = geometry_mask([native], (height, width), transform, all_touched=False)
        if outside.all():  # a sliver thinner than a pixel: keep the pixels it touches
            outside = geometry_mask([native], (height, width), transform, all_touched=True)
    else:
        outside = geometry_mask([native], (height, width), transform, all_touched=True)
    return RoiGrid(coll.crs, bounds, transform, width, height, ~outside)
