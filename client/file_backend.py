"""Pixels read from the cube's COGs themselves, in a local folder or on any web server
(GDAL does the range requests), through :mod:`leafcube.reader`, which the server uses
too: so every mode returns the same pixels."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import rasterio.errors

from leafcube.catalogue import DateEntry
from leafcube.reader import CubeFiles, Datasets, Reader
from leafcube.reader.read import read_layer
from leafcube.reader.stats import STAT_COLUMNS, layer_stats

from . import wire
from .backend import Arrays, progress_bar
from .errors import ExtractError
from .plan import ExtractPlan
from .server_backend import gather_all
from .source import Source


class FileBackend:
    """The cube's files, read on a :class:`~leafcube.reader.Reader` kept for the
    backend's life, so each thread's open datasets (a request each to reopen over HTTP)
    serve the next extract too."""

    def __init__(self, source: Source, *, threads: int, progress: bool) -> None:
        self.files = CubeFiles(source.base)
        self.reader = Reader(threads=threads, gdal_env=source.gdal_env(), name="leafcube")
        self.progress = progress

    def close(self) -> None:
        """Stop the read threads and close their files."""
        self.reader.close()

    async def extract(self, plan: ExtractPlan, *, progress: bool = True) -> Arrays:
        """Every (layer, date) of the plan, read on the reader's threads."""
        jobs = [(layer, e) for layer in plan.layers for e in plan.entries]
        arrays: Arrays = {n: {} for n in plan.layers}

        def read(datasets: Datasets, layer: str, entry: DateEntry) -> np.ma.MaskedArray:
            return read_layer(
                datasets, self.files, plan.coll, entry, layer, plan.grid, plan.qc
            ).data

        shown = self.progress and progress
        with progress_bar(len(jobs), f"{plan.coll.name} reads", shown) as bar:

            async def one(layer: str, entry: DateEntry) -> None:
                try:
                    arr = await asyncio.wrap_future(
                        self.reader.submit(plan.coll, layer, entry, read, layer, entry)
                    )
                except (rasterio.errors.RasterioError, OSError) as exc:
                    raise ExtractError(layer, [entry.key], str(exc)) from None
                arrays[layer][entry.key] = wire.normalise(arr)
                bar.update()

            await gather_all(one(layer, e) for layer, e in jobs)
        return {n: {k: arrays[n][k] for k in plan.keys} for n in plan.layers}

    async def timeseries(
        self, plan: ExtractPlan, point: tuple[float, float] | None
    ) -> pd.DataFrame:
        """The plan's statistics, computed here from its pixels (``point`` is already the
        plan's ROI)."""
        arrays = await self.extract(plan)
        return timeseries_frame(arrays, int(plan.grid.inside.sum()))


def timeseries_frame(arrays: Arrays, total: int) -> pd.DataFrame:
    """Per-date statistics of ``{layer: {date: array}}`` over ``total`` ROI pixels, in the
    same columns as the server's answer."""
    rows = [
        {"date": pd.Timestamp(d), "layer": name, **layer_stats(arr, total)}
        for name, by_date in arrays.items()
        for d, arr in by_date.items()
    ]
    return pd.DataFrame(rows, columns=["date", "layer", *STAT_COLUMNS])
