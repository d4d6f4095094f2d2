"""Open datasets of one thread: reopening a COG costs a request over HTTP and about
2.5 ms on disk, so a read thread keeps the files it read last open."""

from __future__ import annotations

import os
from collections import OrderedDict

import rasterio


class Datasets:
    """An LRU of open datasets, used by one thread only (its :class:`~.reader.Reader`
    closes it once the thread has stopped).

    A local file replaced since it was opened (a re-ingest renames a new COG over
    it) is opened again: its inode and mtime are checked on every use.
    """

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._items: OrderedDict[
            tuple[str, int | None], tuple[rasterio.DatasetReader, tuple[int, int] | None]
        ] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def open(self, path: str, overview_level: int | None = None) -> rasterio.DatasetReader:
        """``path`` (one of its overviews when ``overview_level`` is set), open; callers
        must not close it."""
        key = (path, overview_level)
        stamp = None
        if not path.startswith("/vsi"):
            try:
                st = os.stat(path)
            except OSError:
                pass  # rasterio.open below raises its own, clearer error
            else:
                stamp = (st.st_ino, st.st_mtime_ns)
        ds, seen = self._items.pop(key, (None, None))
        if ds is not None and (ds.closed or seen != stamp):
            ds.close()
            ds = None
        if ds is None:
            ds = rasterio.open(path, overview_level=overview_level)
        self._items[key] = (ds, stamp)
        while len(self._items) > self.size:
            self._items.popitem(last=False)[1][0].close()
        return ds

    def close(self) -> None:
        """Close every dataset."""
        while self._items:
            self._items.popitem()[1][0].close()
