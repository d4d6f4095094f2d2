"""``Cube``: ROI and date range in, masked arrays, xarray or files out.

Against a leafcube server it asks the subset endpoint (one request per layer and
date range); against a plain web server or a local folder it reads the COGs itself
through :mod:`leafcube.reader`, which the server uses too, so every mode returns
the same pixels.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import os
import warnings
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, get_args

import httpx
import numpy as np
import pandas as pd
import rasterio
import rasterio.errors
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from tqdm import TqdmWarning

from leafcube.catalogue import Collection, DateEntry, query
from leafcube.catalogue.qc import QCFilter
from leafcube.catalogue.roi import WGS84, ROILike, bbox_geometry
from leafcube.reader import CubeFiles, Lanes, read_layer, roi_grid
from leafcube.reader.stats import STAT_COLUMNS, layer_stats

from . import wire
from .errors import ClientError, ExtractError, TooLarge
from .http import Fetcher, RetryPolicy
from .plan import ExtractPlan, LayersLike, layer_names
from .result import Extract
from .roi import load_roi
from .source import Mode, open_source
from .wire import WireFormat

with warnings.catch_warnings():
    warnings.simplefilter("ignore", TqdmWarning)  # no ipywidgets: a text bar will do
    from tqdm.auto import tqdm

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion, also from code already inside an event loop (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def gather_all(coros: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run ``coros`` together; on the first failure cancel the rest, then raise it."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def blocking(method: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """The blocking twin of an ``async`` method (``extract`` of ``extract_async``), with
    its signature and docs; it also works inside a running event loop."""

    @functools.wraps(method)
    def twin(self: Any, *args: Any, **kwargs: Any) -> T:
        return run_sync(method(self, *args, **kwargs))

    twin.__name__ = method.__name__.removesuffix("_async")
    twin.__qualname__ = method.__qualname__.removesuffix("_async")
    return twin


class Cube:
    """A LEAF data cube: a leafcube server URL, a static cube URL, or a local folder.

    ``mode`` forces ``"server"``, ``"static"`` or ``"local"`` (default: detected).
    ``concurrency`` bounds requests (or file reads) in flight; failed requests are
    retried ``retries`` times with exponential backoff. Server subsets are split by date
    into requests of at most ``max_request_mb`` (8 MB measured best: the server reads
    the next one while the client receives this one), sent as ``wire="dn"`` (default:
    the files' DNs and a bit mask, zstd-compressed, decoded here to the same float32
    values), ``"npy"`` (raw float32) or ``"tif"`` (deflated float32 GeoTIFF).
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
    ) -> None:
        self.source = open_source(source, mode)
        self.concurrency = max(1, concurrency)
        self.policy = RetryPolicy(retries=retries, timeout=timeout)
        self.max_request_bytes = int(max_request_mb * 1e6)
        if wire is not None and wire not in get_args(WireFormat):
            raise ClientError(f"wire must be one of {get_args(WireFormat)}, not {wire!r}")
        self.wire: WireFormat = wire or "dn"
        self.progress = progress
        self._readers: Lanes | None = None

    def __repr__(self) -> str:
        return f"<Cube {self.source.mode} {self.source.base}: {self.collections}>"

    @property
    def mode(self) -> Mode:
        """How pixels are fetched: ``server``, ``static`` or ``local``."""
        return self.source.mode

    @property
    def collections(self) -> list[str]:
        """The collection names, sorted."""
        return sorted(self.source.catalogue.collections)

    def collection(self, name: str | None = None) -> Collection:
        """The named collection (or the only one)."""
        try:
            return query.collection(self.source.catalogue, name)
        except ValueError as exc:
            raise ClientError(str(exc)) from None

    def layers(self, collection: str | None = None) -> list[str]:
        """The layer names of a collection, in catalogue order."""
        return list(self.collection(collection).layers)

    def dates(self, collection: str | None = None) -> list[str]:
        """The period starts (``YYYY-MM-DD``) of a collection, oldest first."""
        return [e.key for e in self.collection(collection).sorted_dates()]

    # -- planning ---------------------------------------------------------------------

    def _plan(
        self,
        layers: LayersLike,
        roi: Any,
        start: str | dt.date | None,
        end: str | dt.date | None,
        qc: QCFilter,
        collection: str | None,
        roi_crs: str,
    ) -> ExtractPlan:
        if qc not in ("valid", "data"):
            raise ClientError(f"qc must be 'valid' or 'data', not {qc!r}")
        coll = self.collection(collection)
        names = query.check_layers(coll, layer_names(layers))
        entries = query.require_dates(coll, start, end)
        # the ROI stays in its own CRS in every mode (the server takes it as is)
        geom = roi if isinstance(roi, BaseGeometry) else bbox_geometry(roi)
        grid = roi_grid(coll, geom, roi_crs)
        hits = any(query.tiles_in(e, n, grid.bounds) for e in entries for n in names)
        if not hits or not grid.inside.any():
            raise ClientError(
                f"the ROI holds no data of {coll.name!r}: it overlaps none of its tiles; "
                f"the data cover {list(coll.extent_wgs84 or ())} (lon/lat)"
            )
        return ExtractPlan(coll, names, entries, grid, roi, roi_crs, qc)

    # -- extract ----------------------------------------------------------------------

    async def extract_async(
        self,
        layers: LayersLike,
        roi: ROILike,
        *,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
        qc: QCFilter = "valid",
        collection: str | None = None,
        roi_crs: str = WGS84,
    ) -> Extract:
        """The ROI-clipped pixels of ``layers`` on every date in ``[start, end]``.

        ``roi``: a GeoJSON file path or URL, GeoJSON dict or text, a shapely geometry,
        or a bbox ``(minx, miny, maxx, maxy)``, in ``roi_crs`` (default lon/lat).
        ``qc="valid"`` also masks estimates that QC flags; ``"data"`` only missing data.
        ``extract`` is the same call, blocking.
        """
        async with Fetcher(self.source.h2c, self.concurrency, self.policy) as fetcher:
            geom = await load_roi(roi, fetcher)
            plan = self._plan(layers, geom, start, end, qc, collection, roi_crs)
            if self.mode == "server":
                arrays = await self._from_server(plan, fetcher)
            else:
                arrays = await self._from_files(plan)
        return Extract(
            collection=plan.coll,
            layers={n: {k: arrays[n][k] for k in plan.keys} for n in plan.layers},
            transform=plan.grid.transform,
            crs=plan.grid.crs,
            inside=plan.grid.inside,
            qc=plan.qc,
            periods={e.key: (e.start.isoformat(), e.end.isoformat()) for e in plan.entries},
        )

    def _lanes(self) -> Lanes:
        """The threads that read COGs; kept for the Cube's life, so each thread's open
        datasets (a request each to reopen over HTTP) serve the next extract too."""
        if self._readers is None:
            self._readers = Lanes(self.concurrency, name="leafcube")
        return self._readers

    def _bar(self, total: int, what: str) -> tqdm:
        return tqdm(total=total, desc=what, unit="date", disable=not self.progress, leave=False)

    def _chunks(self, plan: ExtractPlan) -> list[list[DateEntry]]:
        """Date ranges small enough for one request each (under ``max_request_mb``)."""
        per_date = max(1, plan.grid.pixels * 4)
        n = max(1, self.max_request_bytes // per_date)
        return [plan.entries[i : i + n] for i in range(0, len(plan.entries), n)]

    async def _ask_server(
        self,
        plan: ExtractPlan,
        fetcher: Fetcher,
        what: str,
        request: Callable[[str, list[DateEntry]], dict[str, Any]],
        decode: Callable[[httpx.Response, str, list[str]], T],
    ) -> dict[str, list[T]]:
        """One request per layer and date chunk, all in flight; ``decode`` runs off the
        event loop. Returns each layer's decoded parts in date order. A chunk over the
        server's pixel budget (413) is asked again in halves; one that fails for good
        raises :class:`ExtractError` naming its layer and dates."""
        chunks = self._chunks(plan)
        out: dict[str, list[list[T]]] = {n: [[] for _ in chunks] for n in plan.layers}
        with self._bar(len(plan.layers) * len(plan.entries), f"{plan.coll.name} {what}") as bar:

            async def one(layer: str, chunk: list[DateEntry]) -> list[T]:
                keys = [e.key for e in chunk]
                try:
                    response = await fetcher.request(**request(layer, chunk))
                    part = await asyncio.to_thread(decode, response, layer, keys)
                except TooLarge as exc:
                    if len(chunk) == 1:
                        raise ExtractError(layer, keys, str(exc)) from None
                    half = len(chunk) // 2
                    return await one(layer, chunk[:half]) + await one(layer, chunk[half:])
                except ClientError as exc:
                    raise ExtractError(layer, keys, str(exc)) from None
                except httpx.HTTPError as exc:  # transport errors that survived retries
                    raise ExtractError(layer, keys, f"{type(exc).__name__}: {exc}") from None
                bar.update(len(chunk))
                return [part]

            async def fill(layer: str, i: int, chunk: list[DateEntry]) -> None:
                out[layer][i] = await one(layer, chunk)

            await gather_all(
                fill(layer, i, chunk) for layer in plan.layers for i, chunk in enumerate(chunks)
            )
        return {n: [part for parts in out[n] for part in parts] for n in plan.layers}

    async def _from_server(self, plan: ExtractPlan, fetcher: Fetcher) -> dict[str, dict[str, Any]]:
        """The plan's pixels from the subset endpoint, in ``max_request_mb`` requests."""
        parts = await self._ask_server(
            plan,
            fetcher,
            "subsets",
            lambda layer, chunk: wire.subset_request(
                self.source, plan, layer, chunk[0].start, chunk[-1].end, self.wire
            ),
            lambda response, layer, keys: wire.decode_subset(
                response, layer, keys, plan.grid, self.wire
            ),
        )
        return {n: {k: a for part in parts[n] for k, a in part.items()} for n in plan.layers}

    async def _from_files(self, plan: ExtractPlan) -> dict[str, dict[str, np.ma.MaskedArray]]:
        """Every (layer, date) read from the COGs in a thread pool (GDAL does the I/O)."""
        files = CubeFiles(self.source.base)
        env = self.source.gdal_env() if self.source.remote else {}
        jobs = [(layer, e) for layer in plan.layers for e in plan.entries]
        arrays: dict[str, dict[str, np.ma.MaskedArray]] = {n: {} for n in plan.layers}

        def read(layer: str, entry: DateEntry) -> np.ma.MaskedArray:
            with rasterio.Env(**env):
                return read_layer(files, plan.coll, entry, layer, plan.grid, plan.qc).data

        lanes = self._lanes()
        with self._bar(len(jobs), f"{plan.coll.name} reads") as bar:

            async def one(layer: str, entry: DateEntry) -> None:
                try:
                    arr = await asyncio.wrap_future(
                        lanes.submit(plan.coll, layer, entry, read, layer, entry)
                    )
                except (rasterio.errors.RasterioError, OSError) as exc:
                    raise ExtractError(layer, [entry.key], str(exc)) from None
                arrays[layer][entry.key] = wire.normalise(arr)
                bar.update()

            await gather_all(one(layer, e) for layer, e in jobs)
        return arrays

    # -- time series ------------------------------------------------------------------

    async def timeseries_async(
        self,
        layers: LayersLike,
        *,
        point: tuple[float, float] | None = None,
        roi: ROILike | None = None,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
        qc: QCFilter = "valid",
        collection: str | None = None,
        roi_crs: str = WGS84,
    ) -> pd.DataFrame:
        """Per date and layer: mean, std, min, max, valid and total pixel counts.

        Give a ``point=(lon, lat)`` (lon/lat) or an ``roi`` in ``roi_crs`` (as for
        :meth:`extract`). One row per
        (date, layer); dates without valid pixels have NaN statistics and ``valid == 0``.
        ``timeseries`` is the same call, blocking.
        """
        if (point is None) == (roi is None):
            raise ClientError("give either point=(lon, lat) or roi=…, not both or neither")
        if self.mode == "server":
            async with Fetcher(self.source.h2c, self.concurrency, self.policy) as fetcher:
                geom = Point(*point) if point is not None else await load_roi(roi, fetcher)
                crs = WGS84 if point is not None else roi_crs
                plan = self._plan(layers, geom, start, end, qc, collection, crs)
                parts = await self._ask_server(
                    plan,
                    fetcher,
                    "time series",
                    lambda layer, chunk: wire.timeseries_request(
                        self.source, plan, layer, chunk[0].start, chunk[-1].end, point
                    ),
                    wire.decode_timeseries,
                )
            return pd.concat([f for n in plan.layers for f in parts[n]], ignore_index=True)
        res = await self.extract_async(
            layers,
            Point(*point) if point is not None else roi,
            start=start,
            end=end,
            qc=qc,
            collection=collection,
            roi_crs=WGS84 if point is not None else roi_crs,
        )
        return timeseries_frame(res)

    extract = blocking(extract_async)
    timeseries = blocking(timeseries_async)

    # -- download ---------------------------------------------------------------------

    def download(
        self,
        layers: LayersLike,
        roi: ROILike,
        out: str | os.PathLike[str],
        *,
        start: str | dt.date | None = None,
        end: str | dt.date | None = None,
        qc: QCFilter = "valid",
        collection: str | None = None,
        roi_crs: str = WGS84,
    ) -> list[Path]:
        """Extract and write one NetCDF (``out`` ends in ``.nc``) or a GeoTIFF per layer
        and date into the folder ``out``; returns the files written."""
        res = self.extract(
            layers, roi, start=start, end=end, qc=qc, collection=collection, roi_crs=roi_crs
        )
        return res.save(out)


def timeseries_frame(res: Extract) -> pd.DataFrame:
    """Per-date statistics of an extract, in the same columns as the server's answer."""
    total = int(res.inside.sum())
    rows = [
        {"date": pd.Timestamp(d), "layer": name, **layer_stats(arr, total)}
        for name, by_date in res.layers.items()
        for d, arr in by_date.items()
    ]
    return pd.DataFrame(rows, columns=["date", "layer", *STAT_COLUMNS])
