"""Read threads with affinity: each (layer, date) always runs on the same thread.

Opened datasets are cached per thread, so a file read by whichever thread is free
ends up opened by every thread in turn. Pinning a (layer, date), and so its files, to
one thread opens each file once per process and keeps it open for the next request.
Consecutive dates go to consecutive threads, so a date range still spreads evenly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from leafcube.catalogue import Collection, DateEntry

T = TypeVar("T")


class Lanes:
    """``workers`` single-thread executors; :meth:`submit` picks one by (layer, date)."""

    def __init__(self, workers: int, name: str = "leafcube-read") -> None:
        self.threads = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-{i}")
            for i in range(max(1, workers))
        ]
        self._order: tuple[Collection, dict[str, int]] | None = None  # dates of the last collection
        self._lock = threading.Lock()

    def lane(self, coll: Collection, layer: str, entry: DateEntry) -> int:
        """The thread of ``layer`` on ``entry``: by the date's position in the
        collection, shifted per layer."""
        with self._lock:
            if self._order is None or self._order[0] is not coll:
                self._order = (coll, {e.key: i for i, e in enumerate(coll.sorted_dates())})
            position = self._order[1][entry.key]
        return (position + list(coll.layers).index(layer)) % len(self.threads)

    def submit(
        self, coll: Collection, layer: str, entry: DateEntry, fn: Callable[..., T], *args: object
    ) -> Future[T]:
        """Run ``fn(*args)`` on the thread of (``layer``, ``entry``)."""
        return self.threads[self.lane(coll, layer, entry)].submit(fn, *args)

    def shutdown(self) -> None:
        """Stop every thread once its queued reads are done."""
        for pool in self.threads:
            pool.shutdown(wait=False, cancel_futures=True)


_shared: dict[int, Lanes] = {}
_shared_lock = threading.Lock()


def shared_lanes(workers: int) -> Lanes:
    """A process-wide :class:`Lanes` per size, so its threads' open datasets outlive
    one call (a server's next request skips reopening files)."""
    with _shared_lock:
        lanes = _shared.get(workers)
        if lanes is None:
            lanes = _shared[workers] = Lanes(workers)
        return lanes
