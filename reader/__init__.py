"""Reading a cube's COGs onto an ROI's pixel grid: the one pixel path shared by the
server (subsets, time series) and the client's static and local modes, so every
mode returns identical arrays."""

from .grid import RoiGrid, roi_grid
from .read import CubeFiles, LayerRead, read_layer, read_many

__all__ = ["CubeFiles", "LayerRead", "RoiGrid", "read_layer", "read_many", "roi_grid"]
