"""Open datasets, cached per thread: reopening a COG costs a request over HTTP and
about 2.5 ms on disk, so each thread keeps the files it read last open."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import rasterio


class _DatasetCache(threading.local):
    """A few open datasets per thread: reopening a remote COG costs a request.

    A local file replaced since it was opened (a re-ingest renames a new COG over
    it) is opened again: its inode and mtime are checked on every use.
    """

    size = 32  # read threads (:class:`Lanes`) set their own share of MAX_OPEN

    def __init__(self) -> None:
        self.items: OrderedDict[
            tuple[str, int | None], tuple[rasterio.DatasetReader, tuple[int, int] | None]
        ] = OrderedDict()

    def get(self, path: str, overview_level: int | None = None) -> rasterio.DatasetReader:
        key = (path, overview_level)
        stamp = None
        if not path.startswith("/vsi"):
            try:
                st = os.stat(path)
            except OSError:
                pass  # rasterio.open below raises its own, clearer error
            else:
                stamp = (st.st_ino, st.st_mtime_ns)
        ds, seen = self.items.pop(key, (None, None))
        if ds is not None and (ds.closed or seen != stamp):
            ds.close()
            ds = None
        if ds is None:
            ds = rasterio.open(path, overview_level=overview_level)
        self.items[key] = (ds, stamp)
        while len(self.items) > self.size:
            self.items.popitem(last=False)[1][0].close()
        return ds


_cache = _DatasetCache()


def set_cache_size(size: int) -> None:
    """How many datasets this thread keeps open."""
    _cache.size = max(1, size)


def open_cached(path: str, overview_level: int | None = None) -> rasterio.DatasetReader:
    """An open dataset (one of its overviews when ``overview_level`` is set) from this
    thread's cache; callers must not close it."""
    return _cache.get(path, overview_level)
