"""The reader object: read threads and their open datasets, owned by one server app or
one client ``Cube`` and closed with it.

Each (layer, date) always reads on the same thread (its *lane*), so its files are opened
once and stay open for the next request; consecutive dates go to consecutive lanes, so a
date range still spreads evenly. Map tiles, which need no such affinity, render on a
second pool of one thread per core. All threads share :data:`MAX_OPEN` open datasets,
well under the usual limit of 1,024 open files a process.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Concatenate, ParamSpec, TypeVar

import rasterio

from leafcube.catalogue import Collection, DateEntry
from leafcube.catalogue.qc import DEFAULT_QC, QCFilter

from .datasets import Datasets
from .grid import RoiGrid
from .read import HTTP_ENV, CubeFiles, LayerRead, read_layer

T = TypeVar("T")
P = ParamSpec("P")

#: Read threads: decoding is CPU work, so more threads than about twice the cores only
#: contend for the GIL (measured: 8 threads on 2 cores open files 1.5x slower than 4).
READ_THREADS = min(8, 2 * (os.cpu_count() or 1))
#: Open datasets kept by one :class:`Reader`, shared evenly by its threads.
MAX_OPEN = 512
#: Collections whose date order a :class:`Reader` remembers (to pick lanes).
_ORDERS = 16


class ReaderClosed(RuntimeError):
    """The reader was closed: it takes no more work."""


class Reader:
    """Read threads and their open datasets; ``close()`` (or ``with``) stops the threads
    and closes every dataset. Constructing one starts no thread and opens no file.

    ``gdal_env`` adds GDAL settings to :data:`~.read.HTTP_ENV` for every read (a client
    sets the HTTP version its server speaks).
    """

    def __init__(
        self,
        *,
        threads: int = READ_THREADS,
        tile_threads: int | None = None,
        max_open: int = MAX_OPEN,
        gdal_env: Mapping[str, str] | None = None,
        name: str = "leafcube-read",
    ) -> None:
        threads = max(1, threads)
        tile_threads = max(1, tile_threads or len(os.sched_getaffinity(0)))
        # executors start their threads on first use, not here
        self._lanes = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-{i}")
            for i in range(threads)
        ]
        self._tiles = ThreadPoolExecutor(tile_threads, thread_name_prefix=f"{name}-tiles")
        self._per_thread = max(1, max_open // (threads + tile_threads))
        self._env = {**HTTP_ENV, **(gdal_env or {})}
        self._local = threading.local()
        self._datasets: list[Datasets] = []
        # id(collection) -> (collection, {date: position}); the collection is kept so
        # its id is not reused while remembered
        self._orders: OrderedDict[int, tuple[Collection, dict[str, int]]] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def open_datasets(self) -> int:
        """How many datasets the threads hold open now."""
        with self._lock:
            return sum(len(d) for d in self._datasets)

    # -- scheduling -------------------------------------------------------------------

    def _run(
        self, fn: Callable[Concatenate[Datasets, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn`` on this thread with its open datasets, under the reader's GDAL settings."""
        datasets = getattr(self._local, "datasets", None)
        if datasets is None:
            datasets = self._local.datasets = Datasets(self._per_thread)
            with self._lock:
                self._datasets.append(datasets)
        with rasterio.Env(**self._env):
            return fn(datasets, *args, **kwargs)

    def lane(self, coll: Collection, layer: str, entry: DateEntry) -> int:
        """The lane of ``layer`` on ``entry``: by the date's position in the collection,
        shifted per layer."""
        with self._lock:
            known = self._orders.pop(id(coll), None)
            if known is None or known[0] is not coll:
                known = (coll, {e.key: i for i, e in enumerate(coll.sorted_dates())})
            self._orders[id(coll)] = known
            while len(self._orders) > _ORDERS:
                self._orders.popitem(last=False)
        return (known[1][entry.key] + list(coll.layers).index(layer)) % len(self._lanes)

    def submit(
        self,
        coll: Collection,
        layer: str,
        entry: DateEntry,
        fn: Callable[Concatenate[Datasets, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Future[T]:
        """Run ``fn(datasets, *args)`` on the lane of (``layer``, ``entry``)."""
        pool = self._lanes[self.lane(coll, layer, entry)]
        return self._submit(pool, fn, *args, **kwargs)

    def submit_any(
        self, fn: Callable[Concatenate[Datasets, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]:
        """Run ``fn(datasets, *args)`` on the first free tile thread."""
        return self._submit(self._tiles, fn, *args, **kwargs)

    def _submit(
        self,
        pool: ThreadPoolExecutor,
        fn: Callable[Concatenate[Datasets, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Future[T]:
        if self._closed:
            raise ReaderClosed("the reader is closed")
        job: Callable[[], T] = functools.partial(self._run, fn, *args, **kwargs)
        try:
            return pool.submit(job)
        except RuntimeError:  # closed between the check and the submit
            raise ReaderClosed("the reader is closed") from None

    # -- reads ------------------------------------------------------------------------

    def read_layer(
        self,
        files: CubeFiles,
        coll: Collection,
        entry: DateEntry,
        layer: str,
        grid: RoiGrid,
        qc: QCFilter = DEFAULT_QC,
    ) -> LayerRead:
        """One layer of one date on ``grid`` (see :func:`~.read.read_layer`), read on its lane."""
        return self.submit(
            coll, layer, entry, read_layer, files, coll, entry, layer, grid, qc
        ).result()

    def read_many(
        self,
        files: CubeFiles,
        coll: Collection,
        entries: Iterable[DateEntry],
        layers: Iterable[str],
        grid: RoiGrid,
        qc: QCFilter = DEFAULT_QC,
    ) -> dict[str, dict[str, LayerRead]]:
        """Every (layer, date) pair on ``grid``, read on the lanes: ``{layer: {date: read}}``.
        A failure cancels the reads still queued, then raises."""
        layers, entries = list(layers), list(entries)  # each is walked more than once
        jobs = [(layer, e) for layer in layers for e in entries]
        futures = [
            self.submit(coll, layer, e, read_layer, files, coll, e, layer, grid, qc)
            for layer, e in jobs
        ]
        result: dict[str, dict[str, LayerRead]] = {layer: {} for layer in layers}
        try:
            for (layer, e), future in zip(jobs, futures, strict=True):
                result[layer][e.key] = future.result()
        except BaseException:
            for future in futures:  # a failed request leaves no reads queued behind others
                future.cancel()
            raise
        return result

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Stop taking work, cancel queued reads, wait for running ones, then close every
        open dataset. Closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        for pool in (*self._lanes, self._tiles):
            pool.shutdown(wait=False, cancel_futures=True)
        for pool in (*self._lanes, self._tiles):
            pool.shutdown(wait=True)
        with self._lock:
            for datasets in self._datasets:
                datasets.close()
            self._datasets.clear()
