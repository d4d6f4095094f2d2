"""What one extract reads, decided before any pixel is fetched: collection, layers, dates
and the ROI's pixel grid (shared by the cube, its backends and the wire formats)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from shapely.geometry.base import BaseGeometry

from leafcube.catalogue import Catalogue, Collection, DateEntry, query
from leafcube.catalogue.grid import CUT, intersect
from leafcube.catalogue.qc import QCFilter, check_filter
from leafcube.catalogue.roi import bbox_geometry
from leafcube.reader import RoiGrid, roi_grid
from leafcube.reader.parts import Window, anchor, windows

from .errors import ClientError

LayersLike = str | Sequence[str]


def layer_names(layers: LayersLike) -> list[str]:
    """Layer names from a list or a comma-separated string."""
    if isinstance(layers, str):
        return [n.strip() for n in layers.split(",") if n.strip()]
    return list(layers)


@dataclass(frozen=True)
class ExtractPlan:
    """What one extract reads: collection, layers, dates and the ROI's pixel grid."""

    coll: Collection
    layers: list[str]
    entries: list[DateEntry]
    grid: RoiGrid
    roi: BaseGeometry | Sequence[float]
    roi_crs: str
    qc: QCFilter

    @property
    def keys(self) -> list[str]:
        return [e.key for e in self.entries]

    def window(self, win: Window) -> ExtractPlan:
        """The plan on one window of its grid, asked for as the window's box in the
        collection's CRS (the ROI's own mask is the window's part of :attr:`grid`)."""
        grid = self.grid.window(*win)
        return ExtractPlan(
            self.coll, self.layers, self.entries, grid, grid.bounds, grid.crs, self.qc
        )

    def area_parts(self, max_pixels: int) -> list[ExtractPlan]:
        """The plan in windows of at most ``max_pixels`` (at least one 512 px cut each), cut
        on the block lattice of its first layer; windows with no ROI pixel or beyond the
        collection's tiles are left out (their pixels are all masked)."""
        cells = max(1, max_pixels // (CUT * CUT))
        rows = max(1, math.isqrt(cells))
        wins = windows(self.grid, anchor(self.entries, self.layers[0]), (rows, cells // rows))
        parts = [self.window(w) for w in wins]
        extent = self.coll.extent
        return [
            p
            for p in parts
            if p.grid.inside.any() and extent is not None and intersect(p.grid.bounds, extent)
        ]


def collection(cat: Catalogue, name: str | None) -> Collection:
    """The named collection (or the only one); ClientError naming the choices otherwise."""
    try:
        return query.collection(cat, name)
    except ValueError as exc:
        raise ClientError(str(exc)) from None


def make_plan(
    cat: Catalogue,
    layers: LayersLike,
    roi: BaseGeometry | Sequence[float],
    *,
    start: str | dt.date | None,
    end: str | dt.date | None,
    qc: object,
    collection_name: str | None,
    roi_crs: str,
) -> ExtractPlan:
    """Check every argument against the catalogue and lay the ROI's pixel grid; a
    ClientError says what to change."""
    try:
        qc_filter = check_filter(qc)
    except ValueError as exc:
        raise ClientError(str(exc)) from None
    coll = collection(cat, collection_name)
    names = query.check_layers(coll, layer_names(layers))
    entries = query.require_dates(coll, start, end)
    # the ROI stays in its own CRS in every mode (the server takes it as is)
    geom = roi if isinstance(roi, BaseGeometry) else bbox_geometry(roi)
    grid = roi_grid(coll, geom, roi_crs)
    hits = any(query.tiles_in(e, n, grid.bounds) for e in entries for n in names)
    if not hits or not grid.inside.any():
        raise ClientError(
            f"the ROI holds no data of {coll.name!r}: it overlaps none of its tiles; "
            f"the data cover {list(coll.extent_wgs84 or ())} (lon/lat)"
        )
    return ExtractPlan(coll, names, entries, grid, roi, roi_crs, qc_filter)
