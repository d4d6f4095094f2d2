"""Reading a cube's COGs onto an ROI's pixel grid: the one pixel path shared by the
server (subsets, time series) and the client's static and local modes, so every
mode returns identical arrays."""

from .datasets import open_cached
from .grid import GridTooLarge, RoiGrid, roi_grid
from .lanes import Lanes
from .read import CubeFiles, LayerRead, read_layer, read_many

__all__ = [
    "CubeFiles",
    "GridTooLarge",
    "Lanes",
    "LayerRead",
    "RoiGrid",
    "open_cached",
    "read_layer",
    "read_many",
    "roi_grid",
]
