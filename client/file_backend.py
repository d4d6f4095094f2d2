"""Pixels read from the cube's COGs themselves, in a local folder or on any web server
(GDAL does the range requests), through :mod:`leafcube.reader`, which the server uses
too: so every mode returns the same pixels."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future

import pandas as pd
import rasterio.errors

from leafcube.reader import CubeFiles, LayerRead, Reader

from . import wire
from .backend import Arrays, progress_bar, timeseries_frame
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
        """Every (layer, date) of the plan, read on the reader's lanes as one request (a
        large ROI in parts of one COG block, on several lanes)."""
        batch = self.reader.start_many(
            self.files, plan.coll, plan.entries, plan.layers, plan.grid, plan.qc
        )
        jobs = [(layer, e.key) for layer in plan.layers for e in plan.entries]
        arrays: Arrays = {n: {} for n in plan.layers}
        shown = self.progress and progress
        with progress_bar(len(jobs), f"{plan.coll.name} reads", shown) as bar:

            async def one(layer: str, key: str, future: Future[LayerRead]) -> None:
                try:
                    read = await asyncio.wrap_future(future)
                except (rasterio.errors.RasterioError, OSError) as exc:
                    raise ExtractError(layer, [key], str(exc)) from None
                arrays[layer][key] = await asyncio.to_thread(wire.normalise, read.data)
                bar.update()

            try:
                await gather_all(
                    one(layer, key, f) for (layer, key), f in zip(jobs, batch.futures, strict=True)
                )
            finally:
                batch.cancel()  # nothing left once all are read; the rest on a failure
        return {n: {k: arrays[n][k] for k in plan.keys} for n in plan.layers}

    async def timeseries(
        self, plan: ExtractPlan, point: tuple[float, float] | None
    ) -> pd.DataFrame:
        """The plan's statistics, computed here from its pixels (``point`` is already the
        plan's ROI)."""
        arrays = await self.extract(plan)
        return timeseries_frame(arrays, int(plan.grid.inside.sum()))
