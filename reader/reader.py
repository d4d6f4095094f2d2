"""The reader object: read threads and their open datasets, owned by one server app or
one client ``Cube`` and closed with it.

Each (layer, date) always reads on the same thread (its *lane*), so its files are opened
once and stay open for the next request; consecutive dates go to consecutive lanes, so a
date range still spreads evenly. A read larger than :data:`~.parts.PART_PIXELS` is read in
parts on the blocks' lattice, on consecutive lanes, and stitched. A lane serves its callers'
*tickets* (one per :meth:`Reader.start_many` call, a request's reads) fairly by pixels, one
read at a time: the ticket that has read the fewest pixels on the lane goes next, so a
small request waits for about one part of each larger one, however many they queued; a
ticket's reads still queued are dropped when it is cancelled (its client went away).
Map tiles, which need no such affinity, render on a second pool of one thread per core.
All threads share :data:`MAX_OPEN` open datasets, well under the usual limit of 1,024
open files a process, and one :class:`~.datasets.Windows` of decoded small windows.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import CancelledError, Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import rasterio

from leafcube.catalogue import Collection, DateEntry
from leafcube.catalogue.qc import DEFAULT_QC, QCFilter

from .datasets import Datasets, Windows
from .grid import RoiGrid
from .parts import PART_PIXELS, Window, anchor, stitch, windows
from .read import HTTP_ENV, CubeFiles, LayerRead, read_layer

T = TypeVar("T")
P = ParamSpec("P")

#: Read threads: decoding is CPU work, so more threads than about twice the cores only
#: contend for the GIL (measured: 8 threads on 2 cores open files 1.5x slower than 4).
READ_THREADS = min(8, 2 * (os.cpu_count() or 1))
#: Open datasets kept by one :class:`Reader`, shared evenly by its threads.
MAX_OPEN = 512
#: Bytes of decoded small windows (points, a few pixels) one :class:`Reader` keeps:
#: about 50,000 windows, a 1,000-date point series of 25 layers over two tiles.
WINDOW_BYTES = 32 << 20
#: Collections whose date order a :class:`Reader` remembers (to pick lanes).
_ORDERS = 16


class ReaderClosed(RuntimeError):
    """The reader was closed: it takes no more work."""


@dataclass
class ReadCounts:
    """What a reader's lanes did since it was made: reads queued now, running now, and
    done, failed and cancelled (never run) so far."""

    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0


class Ticket:
    """One caller's place in the lanes' turns: every read submitted with it queues
    behind the ticket's own earlier reads only."""

    def __init__(self) -> None:
        self._lanes: set[_Lane] = set()
        self._lock = threading.Lock()

    def cancel(self) -> int:
        """Drop the reads of this ticket still queued (cancelling their futures); reads
        already running finish. Returns how many were dropped."""
        with self._lock:
            lanes = list(self._lanes)
        return sum(lane.drop(self) for lane in lanes)


@dataclass
class _Job:
    future: Future[Any]
    call: Callable[[], Any]
    pixels: int = 1


class _Lane:
    """One read thread (started on first use) serving its tickets one job per turn, the
    ticket that has read the fewest pixels here first (ties in turn)."""

    def __init__(self, name: str, counts: ReadCounts, lock: threading.Lock) -> None:
        self._name = name
        self._counts, self._counts_lock = counts, lock
        self._queues: OrderedDict[Ticket, deque[_Job]] = OrderedDict()
        #: pixels each queued ticket has read on this lane; a newcomer starts level with
        #: the least served, so it has no credit to starve the others with
        self._served: dict[Ticket, int] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def put(self, ticket: Ticket, job: _Job) -> None:
        with self._cond:
            if self._stopping:
                raise ReaderClosed("the reader is closed")
            queue = self._queues.get(ticket)
            if queue is None:
                self._served[ticket] = min(self._served.values(), default=0)
                queue = self._queues[ticket] = deque()
                with ticket._lock:
                    ticket._lanes.add(self)
            queue.append(job)
            with self._counts_lock:
                self._counts.queued += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify()

    def drop(self, ticket: Ticket) -> int:
        """Remove ``ticket``'s queued jobs, cancelling their futures."""
        with self._cond:
            queue = self._queues.pop(ticket, None)
            self._served.pop(ticket, None)
        if not queue:
            return 0
        for job in queue:
            job.future.cancel()
        with self._counts_lock:
            self._counts.queued -= len(queue)
            self._counts.cancelled += len(queue)
        return len(queue)

    def _next(self) -> _Job | None:
        """The next job in turn (None once stopping), waiting for one."""
        with self._cond:
            while not self._queues and not self._stopping:
                self._cond.wait()
            if self._stopping:
                return None
            ticket = min(self._queues, key=self._served.__getitem__)
            queue = self._queues[ticket]
            job = queue.popleft()
            if queue:
                self._served[ticket] += job.pixels
                self._queues.move_to_end(ticket)
            else:
                del self._queues[ticket], self._served[ticket]
            return job

    def _serve(self) -> None:
        while (job := self._next()) is not None:
            self._one(job)
            del job  # holds its caller's reader: let an unclosed reader be collected

    def _one(self, job: _Job) -> None:
        runs = job.future.set_running_or_notify_cancel()
        with self._counts_lock:
            self._counts.queued -= 1
            if runs:
                self._counts.running += 1
            else:
                self._counts.cancelled += 1
        if not runs:
            return
        try:
            result = job.call()
        except BaseException as exc:
            self._count_end(failed=True)
            job.future.set_exception(exc)
        else:
            self._count_end(failed=False)  # counted before its caller can see it done
            job.future.set_result(result)

    def _count_end(self, *, failed: bool) -> None:
        with self._counts_lock:
            self._counts.running -= 1
            if failed:
                self._counts.failed += 1
            else:
                self._counts.done += 1

    def stop(self, wait: bool = True) -> None:
        """Cancel every queued job, let the running one finish and end the thread
        (waiting for it when ``wait``)."""
        with self._cond:
            self._stopping = True
            queues, self._queues = list(self._queues.values()), OrderedDict()
            self._served.clear()
            self._cond.notify_all()
        dropped = [job for queue in queues for job in queue]
        for job in dropped:
            job.future.cancel()
        with self._counts_lock:
            self._counts.queued -= len(dropped)
            self._counts.cancelled += len(dropped)
        if wait and self._thread is not None:
            self._thread.join()


def _stop_lanes(lanes: list[_Lane]) -> None:
    for lane in lanes:
        lane.stop(wait=False)


class _Countdown:
    """Resolves ``finished`` once ``n`` futures are done, or as soon as one fails or is
    cancelled. It holds none of the futures it counts, so their callbacks make no cycle."""

    def __init__(self, n: int, finished: Future[None]) -> None:
        self._left = n
        self._finished = finished
        self._lock = threading.Lock()
        if not n:
            finished.set_result(None)

    def __call__(self, future: Future[Any]) -> None:
        with self._lock:
            self._left -= 1
            if self._finished.done():
                return
            if future.cancelled():
                self._finished.set_exception(CancelledError())
            elif (exc := future.exception()) is not None:
                self._finished.set_exception(exc)
            elif not self._left:
                self._finished.set_result(None)


def _joined(
    parts: list[Future[LayerRead]], wins: list[Window], shape: tuple[int, int]
) -> Future[LayerRead]:
    """One read's future from its parts': the stitched read once every part is done,
    cancelled or failed with the first part that is; cancelling it cancels the parts.
    No callback holds a future that holds it (a done future keeps its callbacks), so a
    finished read's arrays are freed with their last reference, not by the cyclic GC."""
    out: Future[LayerRead] = Future()
    gate: Future[None] = Future()
    gate.set_running_or_notify_cancel()
    lock = threading.Lock()
    pending = list(parts)  # emptied once the parts are done or ``out`` is cancelled

    def take() -> list[Future[LayerRead]]:
        with lock:
            taken = pending.copy()
            pending.clear()
        return taken

    def parts_done(this: Future[None]) -> None:  # ``this``, not ``gate``: no cycle
        done = take()
        with contextlib.suppress(InvalidStateError):  # its caller cancelled it just now
            if isinstance(exc := this.exception(), CancelledError):
                out.cancel()
            elif exc is not None:
                out.set_exception(exc)
            elif len(done) == len(wins):  # else ``out`` was cancelled and took them
                out.set_result(
                    stitch([(w, p.result()) for w, p in zip(wins, done, strict=True)], shape)
                )

    def out_done(this: Future[LayerRead]) -> None:
        if this.cancelled():
            for part in take():
                part.cancel()

    gate.add_done_callback(parts_done)
    out.add_done_callback(out_done)
    countdown = _Countdown(len(parts), gate)
    for part in parts:
        part.add_done_callback(countdown)
    return out


class ReadBatch:
    """The reads of one :meth:`Reader.start_many` call, on one :class:`Ticket`:
    :attr:`finished` resolves once every read is done or one has failed."""

    def __init__(
        self,
        ticket: Ticket,
        layers: list[str],
        jobs: list[tuple[str, DateEntry]],
        futures: list[Future[LayerRead]],
    ) -> None:
        self.ticket = ticket
        self._layers, self._jobs = layers, jobs
        #: one future per (layer, date) read, layer-major
        self.futures = futures
        self.finished: Future[None] = Future()
        self.finished.set_running_or_notify_cancel()
        countdown = _Countdown(len(futures), self.finished)
        for future in futures:
            future.add_done_callback(countdown)

    def __len__(self) -> int:
        return len(self.futures)

    def cancel(self) -> int:
        """Drop the reads still queued; returns how many."""
        return self.ticket.cancel()

    def result(self) -> dict[str, dict[str, LayerRead]]:
        """``{layer: {date: read}}``, waiting for every read; a failure cancels the
        reads still queued, then raises."""
        try:
            self.finished.result()
        except BaseException:
            self.cancel()  # a failed request leaves no reads queued behind others
            raise
        result: dict[str, dict[str, LayerRead]] = {layer: {} for layer in self._layers}
        for (layer, e), future in zip(self._jobs, self.futures, strict=True):
            result[layer][e.key] = future.result()
        return result


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
        window_bytes: int = WINDOW_BYTES,
        gdal_env: Mapping[str, str] | None = None,
        name: str = "leafcube-read",
    ) -> None:
        threads = max(1, threads)
        tile_threads = max(1, tile_threads or len(os.sched_getaffinity(0)))
        self._lock = threading.Lock()
        self._counts = ReadCounts()
        # lanes and executors start their threads on first use, not here
        self._lanes = [_Lane(f"{name}-{i}", self._counts, self._lock) for i in range(threads)]
        self._tiles = ThreadPoolExecutor(tile_threads, thread_name_prefix=f"{name}-tiles")
        self._per_thread = max(1, max_open // (threads + tile_threads))
        self._windows = Windows(window_bytes) if window_bytes > 0 else None
        self._env = {**HTTP_ENV, **(gdal_env or {})}
        self._local = threading.local()
        self._datasets: list[Datasets] = []
        # id(collection) -> (collection, {date: position}); the collection is kept so
        # its id is not reused while remembered
        self._orders: OrderedDict[int, tuple[Collection, dict[str, int]]] = OrderedDict()
        self._closed = False
        # a reader dropped unclosed still ends its lanes' threads (as executors do)
        weakref.finalize(self, _stop_lanes, self._lanes)

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

    @property
    def cached_windows(self) -> int:
        """How many decoded small windows the reader keeps now."""
        return len(self._windows) if self._windows is not None else 0

    def counts(self) -> ReadCounts:
        """A copy of the lanes' read counts (for monitoring and tests)."""
        with self._lock:
            return ReadCounts(**vars(self._counts))

    # -- scheduling -------------------------------------------------------------------

    def _run(
        self, fn: Callable[Concatenate[Datasets, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn`` on this thread with its open datasets, under the reader's GDAL settings."""
        datasets = getattr(self._local, "datasets", None)
        if datasets is None:
            datasets = self._local.datasets = Datasets(self._per_thread, self._windows)
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
        """Run ``fn(datasets, *args)`` on the lane of (``layer``, ``entry``), on a ticket
        of its own."""
        return self._submit_on(Ticket(), coll, layer, entry, fn, *args, **kwargs)

    def _submit_on(
        self,
        ticket: Ticket,
        coll: Collection,
        layer: str,
        entry: DateEntry,
        fn: Callable[Concatenate[Datasets, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Future[T]:
        call = functools.partial(self._run, fn, *args, **kwargs)
        return self._put(ticket, self.lane(coll, layer, entry), 1, call)

    def _put(self, ticket: Ticket, lane: int, pixels: int, call: Callable[[], T]) -> Future[T]:
        """Queue ``call`` (reading ``pixels``) for ``ticket`` on lane ``lane`` (modulo
        the lanes)."""
        if self._closed:
            raise ReaderClosed("the reader is closed")
        future: Future[T] = Future()
        self._lanes[lane % len(self._lanes)].put(ticket, _Job(future, call, pixels))
        return future

    def _start_read(
        self,
        ticket: Ticket,
        files: CubeFiles,
        coll: Collection,
        entry: DateEntry,
        layer: str,
        grid: RoiGrid,
        qc: QCFilter,
    ) -> Future[LayerRead]:
        """One (layer, date) on ``grid``: one job on its lane, or, larger than
        :data:`~.parts.PART_PIXELS`, a job per block of the layer's lattice on consecutive
        lanes from its own, stitched."""
        lane = self.lane(coll, layer, entry)
        if grid.pixels <= PART_PIXELS:
            call = functools.partial(self._run, read_layer, files, coll, entry, layer, grid, qc)
            return self._put(ticket, lane, grid.pixels, call)
        wins = windows(grid, anchor([entry], layer))
        parts = []
        for i, win in enumerate(wins):
            part = grid.window(*win)
            call = functools.partial(self._run, read_layer, files, coll, entry, layer, part, qc)
            parts.append(self._put(ticket, lane + i, part.pixels, call))
        return _joined(parts, wins, grid.shape)

    def submit_any(
        self, fn: Callable[Concatenate[Datasets, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> Future[T]:
        """Run ``fn(datasets, *args)`` on the first free tile thread."""
        if self._closed:
            raise ReaderClosed("the reader is closed")
        job: Callable[[], T] = functools.partial(self._run, fn, *args, **kwargs)
        try:
            return self._tiles.submit(job)
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
        """One layer of one date on ``grid`` (see :func:`~.read.read_layer`), read on its
        lane (in parts when large)."""
        return self.read_many(files, coll, [entry], [layer], grid, qc)[layer][entry.key]

    def start_many(
        self,
        files: CubeFiles,
        coll: Collection,
        entries: Iterable[DateEntry],
        layers: Iterable[str],
        grid: RoiGrid,
        qc: QCFilter = DEFAULT_QC,
    ) -> ReadBatch:
        """Queue every (layer, date) pair on ``grid`` on the lanes (a large grid in parts),
        on one new ticket, and return at once."""
        layers, entries = list(layers), list(entries)  # each is walked more than once
        jobs = [(layer, e) for layer in layers for e in entries]
        ticket = Ticket()
        futures: list[Future[LayerRead]] = []
        try:
            for layer, e in jobs:
                futures.append(self._start_read(ticket, files, coll, e, layer, grid, qc))
        except BaseException:
            ticket.cancel()
            raise
        return ReadBatch(ticket, layers, jobs, futures)

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
        return self.start_many(files, coll, entries, layers, grid, qc).result()

    # -- lifetime ---------------------------------------------------------------------

    def close(self) -> None:
        """Stop taking work, cancel queued reads, wait for running ones, then close every
        open dataset. Closing twice does nothing."""
        if self._closed:
            return
        self._closed = True
        self._tiles.shutdown(wait=False, cancel_futures=True)
        for lane in self._lanes:
            lane.stop()
        self._tiles.shutdown(wait=True)
        with self._lock:
            for datasets in self._datasets:
                datasets.close()
            self._datasets.clear()
