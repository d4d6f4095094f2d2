"""Read threads with affinity: each (layer, date) always runs on the same thread.

Opened datasets are cached per thread, so a file read by whichever thread is free
ends up opened by every thread in turn. Pinning a (layer, date), and so its files, to
one thread opens each file once per process and keeps it open for the next request.
Consecutive dates go to consecutive threads, so a date range still spreads evenly.
The threads share :data:`MAX_OPEN` open datasets, well under the usual limit of 1,024
open files a process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from leafcube.catalogue import Collection, DateEntry

from .datasets import set_cache_size

T = TypeVar("T")

#: Open datasets kept by one :class:`Lanes`, shared evenly by its threads.
MAX_OPEN = 512
#: Collections whose date order a :class:`Lanes` remembers.
_ORDERS = 16


class Lanes:
    """``workers`` single-thread executors; :meth:`submit` picks one by (layer, date)."""

    def __init__(self, workers: int, name: str = "leafcube-read") -> None:
        workers = max(1, workers)
        self.threads = [
            ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix=f"{name}-{i}",
                initializer=set_cache_size,
                initargs=(MAX_OPEN // workers,),
            )
            for i in range(workers)
        ]
        # id(collection) -> (collection, {date: position}); the collection is kept so
        # its id is not reused while remembered
        self._orders: OrderedDict[int, tuple[Collection, dict[str, int]]] = OrderedDict()
        self._lock = threading.Lock()

    def lane(self, coll: Collection, layer: str, entry: DateEntry) -> int:
        """The thread of ``layer`` on ``entry``: by the date's position in the
        collection, shifted per layer."""
        with self._lock:
            known = self._orders.pop(id(coll), None)
            if known is None or known[0] is not coll:
                known = (coll, {e.key: i for i, e in enumerate(coll.sorted_dates())})
            self._orders[id(coll)] = known
            while len(self._orders) > _ORDERS:
                self._orders.popitem(last=False)
        return (known[1][entry.key] + list(coll.layers).index(layer)) % len(self.threads)

    def submit(
        self, coll: Collection, layer: str, entry: DateEntry, fn: Callable[..., T], *args: object
    ) -> Future[T]:
        """Run ``fn(*args)`` on the thread of (``layer``, ``entry``)."""
        return self.threads[self.lane(coll, layer, entry)].submit(fn, *args)

    def shutdown(self) -> None:
        """Stop every thread: queued reads are cancelled, running ones finish."""
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
