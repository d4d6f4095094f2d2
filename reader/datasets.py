"""Open datasets of one thread, and the small windows all threads read last.

Reopening a COG costs a request over HTTP and about 0.7 ms on disk, and an open dataset
that has been read holds about 0.65 MB (its decoder's buffers), so a read thread keeps a
bounded number of the files it read last open. A point's pixel costs a whole block's
decoding (256 x 256 px, a quarter of the 512 px blocks of older cubes, which took about
1.6 ms); decoded small windows are kept apart, a few hundred
bytes each, so a point's time series over a thousand dates is read again without
opening a file (bench/timeseries.py).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np
import rasterio
from rasterio.windows import Window

#: Reads of at most this many pixels are kept decoded in :class:`Windows`.
SMALL_WINDOW = 64
#: Bytes :class:`Windows` keeps; an entry is counted as its pixels plus this overhead
#: (its key, the two arrays' headers).
WINDOW_OVERHEAD = 512

#: A file's identity: its inode and mtime, or None for a remote file.
Stamp = tuple[int, int] | None
WindowKey = tuple[str, Stamp, int, int, int, int]


def stamp(path: str) -> Stamp:
    """The inode and mtime of a local ``path`` (None when remote or missing): a re-ingest
    renames a new COG over the old one, which changes both."""
    if path.startswith("/vsi"):
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None  # rasterio.open raises its own, clearer error
    return (st.st_ino, st.st_mtime_ns)


class Windows:
    """An LRU of decoded small windows ``(data, has_data)``, shared by a reader's
    threads and bounded in bytes. The arrays are read-only."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[WindowKey, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: WindowKey) -> tuple[np.ndarray, np.ndarray] | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: WindowKey, data: np.ndarray, has: np.ndarray) -> None:
        data.flags.writeable = has.flags.writeable = False
        size = data.nbytes + has.nbytes + WINDOW_OVERHEAD
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.bytes -= old[0].nbytes + old[1].nbytes + WINDOW_OVERHEAD
            self._items[key] = (data, has)
            self.bytes += size
            while self.bytes > self.max_bytes and self._items:
                d, h = self._items.popitem(last=False)[1]
                self.bytes -= d.nbytes + h.nbytes + WINDOW_OVERHEAD


class Datasets:
    """An LRU of open datasets, used by one thread only (its :class:`~.reader.Reader`
    closes it once the thread has stopped), plus the reader's shared :class:`Windows`.

    A local file replaced since it was opened (a re-ingest renames a new COG over
    it) is opened again: its inode and mtime are checked on every use.
    """

    def __init__(self, size: int, windows: Windows | None = None) -> None:
        self.size = max(1, size)
        self.windows = windows
        self._items: OrderedDict[tuple[str, int | None], tuple[rasterio.DatasetReader, Stamp]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._items)

    def open(
        self, path: str, overview_level: int | None = None, seen: Stamp | None = None
    ) -> rasterio.DatasetReader:
        """``path`` (one of its overviews when ``overview_level`` is set), open; callers
        must not close it. ``seen`` is the file's :func:`stamp` if the caller has it."""
        key = (path, overview_level)
        now = stamp(path) if seen is None else seen
        ds, was = self._items.pop(key, (None, None))
        if ds is not None and (ds.closed or was != now):
            ds.close()
            ds = None
        if ds is None:
            ds = rasterio.open(path, overview_level=overview_level)
        self._items[key] = (ds, now)
        while len(self._items) > self.size:
            self._items.popitem(last=False)[1][0].close()
        return ds

    def read(self, path: str, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Band 1's DNs in ``window`` and where they hold data; a small window read
        before (of the same file, unchanged) comes from :class:`Windows` without
        opening the file. The arrays must not be written to."""
        now = stamp(path)
        windows = self.windows if window.width * window.height <= SMALL_WINDOW else None
        key = (path, now, window.col_off, window.row_off, window.width, window.height)
        if windows is not None and (hit := windows.get(key)) is not None:
            return hit
        ds = self.open(path, seen=now)
        data = ds.read(1, window=window)
        has = ds.read_masks(1, window=window) > 0
        if windows is not None:
            windows.put(key, data, has)
        return data, has

    def close(self) -> None:
        """Close every dataset."""
        while self._items:
            self._items.popitem()[1][0].close()
