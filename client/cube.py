"""``Cube``: ROI and date range in, masked arrays, xarray or files out.

Against a leafcube server it asks the subset endpoint (one request per layer and
date range); against a plain web server or a local folder it reads the COGs itself
through :mod:`leafcube.reader`, which the server uses too, so every mode returns
the same pixels. Like an ``httpx.Client``, a ``Cube`` does no I/O when made, keeps one
connection pool (and its read threads) for its whole life, and is closed by
:meth:`Cube.close` or ``with`` / ``async with``.

What it reads of the catalogue grows with the request, not the archive: the root on first
use, then per request only the parts its date range touches, kept in a bounded cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import os
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, get_args

import pandas as pd
import xarray as xr
from shapely.geometry import Point

from leafcube.catalogue import Catalogue, Collection, query
from leafcube.catalogue.parts import touching
from leafcube.catalogue.qc import DEFAULT_QC, QCFilter
from leafcube.catalogue.roi import WGS84, ROILike
from leafcube.catalogue.store import PartCache

from .backend import Arrays, Backend
from .errors import ClientError
from .file_backend import FileBackend
from .http import Fetcher, RetryPolicy
from .lazy import lazy_dataset
from .loop import Loop, LoopClosed
from .plan import ExtractPlan, LayersLike, layer_names, make_plan
from .plan import collection as collection_of
from .result import Extract
from .roi import load_roi
from .server_backend import ServerBackend
from .source import (
    Mode,
    Snapshot,
    Source,
    Unreachable,
    base_of,
    check_mode,
    load_parts,
    locate,
    read_catalogue,
)
from .wire import WireFormat

T = TypeVar("T")


def blocking(method: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """The blocking twin of an ``async`` method (``extract`` of ``extract_async``), with
    its signature and docs; it also works inside a running event loop (Jupyter)."""

    @functools.wraps(method)
    def twin(self: Cube, *args: Any, **kwargs: Any) -> T:
        return self._run(method(self, *args, **kwargs))

    twin.__name__ = method.__name__.removesuffix("_async")
    twin.__qualname__ = method.__qualname__.removesuffix("_async")
    return twin


@dataclass
class _Session:
    """What a ``Cube`` holds once it has found its source: the connection pool, the
    backend, the latest root catalogue and the parts read so far."""

    source: Source
    fetcher: Fetcher
    backend: Backend
    snapshot: Snapshot
    checked: float
    parts: PartCache


class Cube:
    """A LEAF data cube: a leafcube server URL, a static cube URL, or a local folder.

    ``mode`` forces ``"server"``, ``"static"`` or ``"local"`` (default: found on first
    use). ``concurrency`` bounds requests (or file reads) in flight; failed requests are
    retried ``retries`` times with exponential backoff. Server subsets are split by date
    (and, when one date of the ROI is larger, by area on the COGs' 512 px blocks) into
    requests of at most ``max_request_mb`` and sent as ``wire="dn"`` (default: the
    files' DNs and a bit mask, zstd-compressed, decoded here to the same float32 values),
    ``"npy"`` (raw float32) or ``"tif"`` (deflated float32 GeoTIFF). The catalogue is
    checked for changes (a conditional request) when older than ``refresh`` seconds, so a
    notebook left open sees new dates; of its parts, only those a request's dates touch
    are fetched, and again only when their hash changed (:attr:`part_cache`).
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        mode: Mode | None = None,
        *,
        concurrency: int = 16,
        retries: int = 5,
        timeout: float = 60.0,
        max_request_mb: float = 8.0,
        wire: WireFormat | None = None,
        progress: bool = True,
        refresh: float = 2.0,
    ) -> None:
        self._mode = check_mode(mode)
        self.base = base_of(source, self._mode)
        if wire is not None and wire not in get_args(WireFormat):
            raise ClientError(f"wire must be one of {get_args(WireFormat)}, not {wire!r}")
        self.wire: WireFormat = wire or "dn"
        self.concurrency = max(1, concurrency)
        self.policy = RetryPolicy(retries=retries, timeout=timeout)
        self.max_request_bytes = int(max_request_mb * 1e6)
        self.progress = progress
        self.refresh = refresh
        self._loop = Loop()
        self._parts = PartCache()
        self._session: _Session | None = None
        self._opening: asyncio.Lock | None = None
        self._closed = False

    def __repr__(self) -> str:
        if self._session is None:
            return f"<Cube {self.base} (not opened yet)>"
        return f"<Cube {self._session.source.mode} {self.base}>"

    # -- lifetime ---------------------------------------------------------------------

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return self._loop.run(coro)
        except LoopClosed:
            raise ClientError("this Cube is closed") from None

    async def _arun(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return await self._loop.arun(coro)
        except LoopClosed:
            raise ClientError("this Cube is closed") from None

    async def _open(self) -> _Session:
        """The session, found on first use (probe, connection pool, backend, catalogue)."""
        if self._closed:
            raise ClientError("this Cube is closed")
        if self._opening is None:
            self._opening = asyncio.Lock()  # on the Cube's loop, the only one it runs on
        async with self._opening:
            if self._session is None:
                source, client = await locate(self.base, self._mode, self.policy.timeout)
                fetcher = Fetcher(client, concurrency=self.concurrency, policy=self.policy)
                try:
                    snapshot = await read_catalogue(source, fetcher, None)
                except BaseException:
                    await fetcher.aclose()
                    raise
                backend: Backend
                if source.mode == "server":
                    backend = ServerBackend(
                        source,
                        fetcher,
                        wire=self.wire,
                        max_request_bytes=self.max_request_bytes,
                        progress=self.progress,
                    )
                else:
                    backend = FileBackend(source, threads=self.concurrency, progress=self.progress)
                self._session = _Session(
                    source, fetcher, backend, snapshot, time.monotonic(), self._parts
                )
            return self._session

    async def _current(self) -> _Session:
        """The session, its catalogue revalidated when older than ``refresh`` seconds."""
        s = await self._open()
        if time.monotonic() - s.checked >= self.refresh:
            # unreachable: keep the catalogue known so far, and let the reads say what failed
            with contextlib.suppress(Unreachable):
                s.snapshot = await read_catalogue(s.source, s.fetcher, s.snapshot)
            s.checked = time.monotonic()
        return s

    async def _shutdown(self) -> None:
        s, self._session = self._session, None
        if s is not None:
            await s.fetcher.aclose()
            await asyncio.to_thread(s.backend.close)

    def close(self) -> None:
        """Close the connection pool, stop the read threads and close their files.
        Closing twice does nothing; a closed Cube answers nothing more."""
        if self._closed:
            return
        self._closed = True
        if self._session is not None:
            self._loop.run(self._shutdown())
        self._loop.close()

    async def aclose(self) -> None:
        """:meth:`close`, awaitable."""
        if self._closed:
            return
        self._closed = True
        if self._session is not None:
            await self._loop.arun(self._shutdown())
        await asyncio.to_thread(self._loop.close)

    def __enter__(self) -> Cube:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Cube:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the catalogue ----------------------------------------------------------------

    async def _catalogue(self) -> Catalogue:
        return (await self._current()).snapshot.catalogue

    async def _between(
        self,
        s: _Session,
        name: str | None,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
    ) -> Catalogue:
        """The session's root with collection ``name`` (or the only one) holding the parts
        that periods overlapping ``[start, end]`` lie in (a copy; the root is shared)."""
        cat = s.snapshot.catalogue
        coll = collection_of(cat, name)
        lo, hi = query.check_range(start, end)
        loaded = await load_parts(s.source, s.fetcher, coll, touching(coll, lo, hi), s.parts)
        return dataclasses.replace(cat, collections={**cat.collections, coll.name: loaded})

    async def _collection(
        self, name: str | None, start: str | dt.date | None, end: str | dt.date | None
    ) -> Collection:
        s = await self._current()
        return collection_of(await self._between(s, name, start, end), name)

    @property
    def source(self) -> Source:
        """Where the cube is and how it is reached (found on first use)."""
        return self._run(self._open()).source

    @property
    def mode(self) -> Mode:
        """How pixels are fetched: ``server``, ``static`` or ``local`` (found on first use)."""
        return self.source.mode

    @property
    def catalogue(self) -> Catalogue:
        """The cube's root catalogue as it is now: collections, layers, extents and the
        index of their parts, no dates (:meth:`collection` loads them)."""
        return self._run(self._catalogue())

    @property
    def part_cache(self) -> PartCache:
        """The catalogue parts this Cube has read, by SHA-256, with what it has read and
        dropped so far (bounded by ``PART_CACHE_BYTES`` of JSON)."""
        return self._parts

    @property
    def collections(self) -> list[str]:
        """The collection names, sorted."""
        return sorted(self.catalogue.collections)

    def collection(
        self,
        name: str | None = None,
        *,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
    ) -> Collection:
        """The named collection (or the only one) holding the dates of the parts that
        ``[start, end]`` touches: without a range, every part is read (a request each, or
        a file each: a national daily archive has 12 a year)."""
        return self._run(self._collection(name, start, end))

    def layers(self, collection: str | None = None) -> list[str]:
        """The layer names of a collection, in catalogue order (from the root alone)."""
        return list(collection_of(self.catalogue, collection).layers)

    def dates(
        self,
        collection: str | None = None,
        *,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
    ) -> list[str]:
        """The period starts (``YYYY-MM-DD``) of a collection in ``[start, end]``, oldest
        first; without a range every part is read, as for :meth:`collection`."""
        coll = self.collection(collection, start=start, end=end)
        return [e.key for e in query.dates_between(coll, start, end)]

    # -- extract ----------------------------------------------------------------------

    async def _plan(
        self, s: _Session, layers: LayersLike, roi: Any, roi_crs: str, **kw: Any
    ) -> ExtractPlan:
        geom = await load_roi(roi, s.fetcher)
        cat = await self._between(s, kw["collection_name"], kw["start"], kw["end"])
        return make_plan(cat, layers, geom, roi_crs=roi_crs, **kw)

    async def extract_async(
        self,
        layers: LayersLike,
        roi: ROILike,
        *,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
        qc: QCFilter = DEFAULT_QC,
        collection: str | None = None,
        roi_crs: str = WGS84,
    ) -> Extract:
        """The ROI-clipped pixels of ``layers`` on every date in ``[start, end]``.

        ``roi``: a GeoJSON file path or URL, GeoJSON dict or text, a shapely geometry,
        or a bbox ``(minx, miny, maxx, maxy)``, in ``roi_crs`` (default lon/lat).
        ``qc="data"`` (default) masks only missing data; ``"valid"`` also estimates that
        QC flags. ``extract`` is the same call, blocking.
        """

        async def work() -> Extract:
            s = await self._current()
            plan = await self._plan(
                s, layers, roi, roi_crs, start=start, end=end, qc=qc, collection_name=collection
            )
            arrays = await s.backend.extract(plan)
            return Extract(
                collection=plan.coll,
                layers={n: {k: arrays[n][k] for k in plan.keys} for n in plan.layers},
                transform=plan.grid.transform,
                crs=plan.grid.crs,
                inside=plan.grid.inside,
                qc=plan.qc,
                periods={e.key: (e.start.isoformat(), e.end.isoformat()) for e in plan.entries},
            )

        return await self._arun(work())

    # -- time series ------------------------------------------------------------------

    async def timeseries_async(
        self,
        layers: LayersLike,
        *,
        point: tuple[float, float] | None = None,
        roi: ROILike | None = None,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
        qc: QCFilter = DEFAULT_QC,
        collection: str | None = None,
        roi_crs: str = WGS84,
    ) -> pd.DataFrame:
        """Per date and layer: mean, std, min, max, valid and total pixel counts.

        Give a ``point=(lon, lat)`` (lon/lat) or an ``roi`` in ``roi_crs`` (as for
        :meth:`extract`). One row per (date, layer); dates without valid pixels have NaN
        statistics and ``valid == 0``. ``timeseries`` is the same call, blocking.
        """
        if (point is None) == (roi is None):
            raise ClientError("give either point=(lon, lat) or roi=…, not both or neither")

        async def work() -> pd.DataFrame:
            s = await self._current()
            where = Point(*point) if point is not None else roi
            crs = WGS84 if point is not None else roi_crs
            plan = await self._plan(
                s, layers, where, crs, start=start, end=end, qc=qc, collection_name=collection
            )
            return await s.backend.timeseries(plan, point)

        return await self._arun(work())

    extract = blocking(extract_async)
    timeseries = blocking(timeseries_async)

    # -- lazy -------------------------------------------------------------------------

    def open_dataset(
        self,
        layers: LayersLike | None = None,
        roi: ROILike | None = None,
        *,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
        qc: QCFilter = DEFAULT_QC,
        collection: str | None = None,
        roi_crs: str = WGS84,
        chunks: bool = True,
    ) -> xr.Dataset:
        """The collection (``layers``, default all; ``roi``, default its whole extent;
        dates in ``[start, end]``) as a lazy xarray Dataset ``(time, y, x)``: nothing is
        read until computed, then only the windows computed, with ``extract``'s values.
        Dask-chunked on the tiles' 512-px COG blocks unless ``chunks=False`` (then read
        on each access). The Dataset reads through this Cube: keep it open meanwhile."""

        async def work() -> ExtractPlan:
            s = await self._current()
            coll = collection_of(s.snapshot.catalogue, collection)
            names = layer_names(layers) if layers is not None else list(coll.layers)
            where: Any = roi
            crs = roi_crs
            if roi is None:
                if coll.extent is None:
                    raise ClientError(f"collection {coll.name!r} holds no data yet")
                where, crs = coll.extent, coll.crs
            return await self._plan(
                s, names, where, crs, start=start, end=end, qc=qc, collection_name=coll.name
            )

        plan = self._run(work())

        def read(sub: ExtractPlan) -> Arrays:
            async def fetch() -> Arrays:
                return await (await self._open()).backend.extract(sub, progress=False)

            return self._run(fetch())

        return lazy_dataset(plan, read, chunks)

    # -- download ---------------------------------------------------------------------

    def download(
        self,
        layers: LayersLike,
        roi: ROILike,
        *,
        out: str | os.PathLike[str],
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
        qc: QCFilter = DEFAULT_QC,
        collection: str | None = None,
        roi_crs: str = WGS84,
    ) -> list[Path]:
        """Extract and write one NetCDF (``out`` ends in ``.nc``) or a GeoTIFF per layer
        and date into the folder ``out``; returns the files written."""
        if _DATE.fullmatch(Path(out).name):
            raise ClientError(
                f"out={os.fspath(out)!r} looks like a date, not a file or folder: "
                "give the dates as start=/end= and out= where to write"
            )
        res = self.extract(
            layers, roi, start=start, end=end, qc=qc, collection=collection, roi_crs=roi_crs
        )
        return res.save(out)


_DATE = re.compile(r"\d{4}-\d{2}(-\d{2})?")
