"""Reading a cube's COGs onto an ROI's pixel grid: the one pixel path shared by the
server (subsets, time series, tiles) and the client's static and local modes, so every
mode returns identical arrays. A :class:`Reader` owns the threads and open files."""

from .datasets import Datasets
from .grid import GridTooLarge, RoiGrid, roi_grid
from .read import CubeFiles, LayerRead
from .reader import READ_THREADS, Reader, ReaderClosed

__all__ = [
    "READ_THREADS",
    "CubeFiles",
    "Datasets",
    "GridTooLarge",
    "LayerRead",
    "Reader",
    "ReaderClosed",
    "RoiGrid",
    "roi_grid",
]
