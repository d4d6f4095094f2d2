"""The served cube folder: its catalogue, re-read whenever ``catalogue.json`` changes.

Workers share nothing but the folder, so a new ingest shows up in every worker on
its next request (one ``stat`` a request decides).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import rasterio.errors

from leafcube.catalogue import CATALOGUE_NAME, Catalogue, Collection, load, query
from leafcube.catalogue.roi import WGS84, bbox_geometry
from leafcube.reader import CubeFiles, read_layer, roi_grid

from .errors import APIError


class Cube:
    """A cube folder and the latest catalogue read from it."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.files = CubeFiles(str(self.root))
        self._stamp: tuple[int, int, int] | None = None
        self._catalogue: Catalogue | None = None
        self._lock = threading.Lock()

    def catalogue(self) -> Catalogue:
        """The catalogue as it is on disk now; parsed again only when the file changed."""
        try:
            st = os.stat(self.root / CATALOGUE_NAME)
        except FileNotFoundError:
            raise APIError(
                404, f"the cube folder has no {CATALOGUE_NAME} yet: run `leafcube ingest`"
            ) from None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp or self._catalogue is None:
            with self._lock:
                if stamp != self._stamp or self._catalogue is None:
                    self._catalogue = load(self.root, check=False)
                    self._stamp = stamp
        return self._catalogue

    def collection(self, name: str) -> Collection:
        """The named collection; 404 with the available names when it is unknown."""
        cat = self.catalogue()
        if name not in cat.collections:
            raise APIError(
                404, f"unknown collection {name!r}; available: {sorted(cat.collections)}"
            )
        return query.collection(cat, name)

    def warm_up(self) -> None:
        """Pay the one-time costs (the catalogue, PROJ's database, GDAL's drivers) at
        start-up rather than in the first request: one lon/lat ROI read per collection."""
        try:
            collections = self.catalogue().collections.values()
        except APIError:
            return  # no catalogue yet: nothing to warm
        for coll in collections:
            if not coll.dates or not coll.extent_wgs84:
                continue
            x0, y0, x1, y1 = coll.extent_wgs84
            x, y = (x0 + x1) / 2, (y0 + y1) / 2
            try:
                grid = roi_grid(coll, bbox_geometry((x, y, x + 1e-4, y + 1e-4)), WGS84)
                read_layer(self.files, coll, coll.sorted_dates()[-1], next(iter(coll.layers)), grid)
            except (ValueError, OSError, rasterio.errors.RasterioError):
                continue  # a broken file answers its own error when a request reaches it
