"""The served cube folder: its root catalogue, re-read whenever ``catalogue.json`` changes,
and the parts of it each request touches, read on demand through a bounded cache.

Workers share nothing but the folder, so a new ingest shows up in every worker on its
next request (one ``stat`` a request decides). What a worker holds does not grow with the
archive: the root (a few kB per collection), at most ``store.PART_CACHE_BYTES`` of parsed
parts, and at most :data:`DERIVED_MAX` documents made from every part (docs/server.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from leafcube.catalogue import (
    CATALOGUE_NAME,
    Catalogue,
    CatalogueError,
    Collection,
    PartRef,
    load_root,
    query,
)
from leafcube.catalogue.parts import newest, touching
from leafcube.catalogue.roi import WGS84, bbox_geometry, transformer
from leafcube.catalogue.store import PartCache, read_parts
from leafcube.reader import CubeFiles, Reader, roi_grid

from .errors import APIError

log = logging.getLogger("leafcube.server")

T = TypeVar("T")

#: Documents made from every part of a collection (WMTS capabilities, the dates listing,
#: the GomezEngine view, the STAC collection) kept per worker until the root changes.
DERIVED_MAX = 8


class ServedCube:
    """A cube folder: its latest root, and its parts loaded as requests need them."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.files = CubeFiles(str(self.root))
        self.parts = PartCache()
        self._stamp: tuple[int, int, int] | None = None
        self._catalogue: Catalogue | None = None
        self._derived: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def catalogue(self) -> Catalogue:
        """The root catalogue as it is on disk now, parsed again only when its file
        changed; its collections hold no dates (load them with :meth:`between`)."""
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
                    self._catalogue = load_root(self.root, check=False)
                    self._derived.clear()
                    self._stamp = stamp
        return self._catalogue

    def collection(self, name: str) -> Collection:
        """The named collection of the root (no dates loaded); 404 naming the others."""
        cat = self.catalogue()
        if name not in cat.collections:
            raise APIError(
                404, f"unknown collection {name!r}; available: {sorted(cat.collections)}"
            )
        return query.collection(cat, name)

    # -- parts ---------------------------------------------------------------------------

    def load(self, coll: Collection, refs: list[PartRef]) -> Collection:
        """``coll`` with the parts ``refs`` loaded (a copy; unchanged parts from the cache)."""
        try:
            return read_parts(self.root, coll, refs, check=False, cache=self.parts)
        except CatalogueError as exc:  # a part removed or rewritten under an old root
            raise APIError(
                503, f"{exc}; the cube may be changing: retry", headers={"retry-after": "1"}
            ) from None

    def between(
        self, coll: Collection, start: str | dt.date | None, end: str | dt.date | None
    ) -> Collection:
        """``coll`` with the parts holding periods that overlap ``[start, end]`` loaded."""
        lo, hi = query.check_range(start, end)
        return self.load(coll, touching(coll, lo, hi))

    def newest(self, coll: Collection) -> Collection:
        """``coll`` with the part of its newest period loaded (one part, whatever the archive)."""
        return self.load(coll, newest(coll))

    def each_part(self, coll: Collection) -> Iterator[Collection]:
        """``coll`` with one part loaded at a time, oldest first (a format 1.0 collection,
        whose dates are all in the root, once): every date without holding them all."""
        if not coll.parts:
            yield coll
            return
        for ref in touching(coll):
            yield self.load(coll, [ref])

    def derived(self, key: tuple[Any, ...], make: Callable[[], T]) -> T:
        """``make()``, kept (at most :data:`DERIVED_MAX`, least recent dropped) until the
        root changes: for documents that need every part of a collection."""
        self.catalogue()  # the root as it is now: a change clears what was derived
        with self._lock:
            full = (self._stamp, *key)
            if full in self._derived:
                self._derived.move_to_end(full)
                return self._derived[full]
        value = make()
        with self._lock:
            self._derived[full] = value
            while len(self._derived) > DERIVED_MAX:
                self._derived.popitem(last=False)
        return value

    # -- start-up ------------------------------------------------------------------------

    def warm_up(self, reader: Reader) -> None:
        """Pay the one-time costs (the root, PROJ's database, GDAL's drivers) at start-up
        rather than in the first request: a few lon/lat pixels of each collection's newest
        date (one part each), read on the read threads. Best effort: a broken catalogue or
        file is logged and left for the requests that reach it to report."""
        try:
            collections = list(self.catalogue().collections.values())
        except APIError:
            return  # no catalogue yet: nothing to warm
        except Exception as exc:  # never fatal: requests report it
            log.warning("warm-up skipped, the catalogue cannot be read: %s", exc)
            return
        for root_coll in collections:
            try:
                coll = self.newest(root_coll)
                entry = coll.dates[max(coll.dates)]
                layer, files = next(iter(entry.layers.items()))
                x0, y0, x1, y1 = next(iter(files.tiles.values())).bbox
                lon, lat = transformer(coll.crs, WGS84).transform((x0 + x1) / 2, (y0 + y1) / 2)
                grid = roi_grid(coll, bbox_geometry((lon, lat, lon + 1e-4, lat + 1e-4)), WGS84)
                reader.read_many(self.files, coll, [entry], [layer], grid)
            except Exception as exc:  # never fatal: requests report it
                log.warning("warm-up of %s skipped: %s", root_coll.name, exc)
