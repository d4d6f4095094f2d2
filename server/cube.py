"""The served cube folder: its catalogue, re-read whenever ``catalogue.json`` changes.

Workers share nothing but the folder, so a new ingest shows up in every worker on
its next request (one ``stat`` a request decides).
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from leafcube.catalogue import CATALOGUE_NAME, Catalogue, Collection, load, query
from leafcube.catalogue.roi import WGS84, bbox_geometry, transformer
from leafcube.catalogue.store import PartCache, current
from leafcube.reader import CubeFiles, Reader, roi_grid

from .errors import APIError

log = logging.getLogger("leafcube.server")


class ServedCube:
    """A cube folder and the latest catalogue read from it."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.files = CubeFiles(str(self.root))
        self._stamp: tuple[int, int, int] | None = None
        self._catalogue: Catalogue | None = None
        self._parts: PartCache = {}
        self._lock = threading.Lock()

    def catalogue(self) -> Catalogue:
        """The catalogue as it is on disk now; the root parsed again only when its file
        changed, and then only the parts whose hash changed."""
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
                    cat = load(self.root, check=False, cache=self._parts)
                    self._catalogue, self._parts = cat, current(cat, self._parts)
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

    def warm_up(self, reader: Reader) -> None:
        """Pay the one-time costs (the catalogue, PROJ's database, GDAL's drivers) at
        start-up rather than in the first request: a few lon/lat pixels of each
        collection's newest date, read on the read threads. Best effort: a broken
        catalogue or file is logged and left for the requests that reach it to report."""
        try:
            collections = list(self.catalogue().collections.values())
        except APIError:
            return  # no catalogue yet: nothing to warm
        except Exception as exc:  # never fatal: requests report it
            log.warning("warm-up skipped, the catalogue cannot be read: %s", exc)
            return
        for coll in collections:
            try:
                entry = coll.sorted_dates()[-1]
                layer, files = next(iter(entry.layers.items()))
                x0, y0, x1, y1 = next(iter(files.tiles.values())).bbox
                lon, lat = transformer(coll.crs, WGS84).transform((x0 + x1) / 2, (y0 + y1) / 2)
                grid = roi_grid(coll, bbox_geometry((lon, lat, lon + 1e-4, lat + 1e-4)), WGS84)
                reader.read_many(self.files, coll, [entry], [layer], grid)
            except Exception as exc:  # never fatal: requests report it
                log.warning("warm-up of %s skipped: %s", coll.name, exc)
