"""What one extract reads, decided before any pixel is fetched: collection, layers, dates
and the ROI's pixel grid (shared by the cube and the wire formats)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shapely.geometry.base import BaseGeometry

from leafcube.catalogue import Collection, DateEntry
from leafcube.catalogue.qc import QCFilter
from leafcube.reader import RoiGrid

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
