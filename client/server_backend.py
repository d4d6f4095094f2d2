"""Pixels and statistics from a leafcube server's subset and time-series endpoints: one
request per layer and date chunk, all in flight over the ``Cube``'s connection pool."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, TypeVar

import httpx
import pandas as pd

from leafcube.catalogue import DateEntry

from . import wire
from .backend import Arrays, progress_bar
from .errors import ClientError, ExtractError, TooLarge
from .http import Fetcher
from .plan import ExtractPlan
from .source import Source
from .wire import WireFormat

T = TypeVar("T")


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


class ServerBackend:
    """A leafcube server's API. Subsets are split by date into requests of at most
    ``max_request_bytes`` (8 MB measured best: the server reads the next one while the
    client receives this one) and travel as ``wire``."""

    def __init__(
        self,
        source: Source,
        fetcher: Fetcher,
        *,
        wire: WireFormat,
        max_request_bytes: int,
        progress: bool,
    ) -> None:
        self.source, self.fetcher, self.wire = source, fetcher, wire
        self.max_request_bytes = max_request_bytes
        self.progress = progress

    def close(self) -> None:
        """Nothing of its own: the connection pool is the ``Cube``'s."""

    def _chunks(self, plan: ExtractPlan) -> list[list[DateEntry]]:
        """Date ranges small enough for one request each (under ``max_request_bytes``)."""
        per_date = max(1, plan.grid.pixels * 4)
        n = max(1, self.max_request_bytes // per_date)
        return [plan.entries[i : i + n] for i in range(0, len(plan.entries), n)]

    async def _ask(
        self,
        plan: ExtractPlan,
        what: str,
        request: Callable[[str, list[DateEntry]], dict[str, Any]],
        decode: Callable[[httpx.Response, str, list[str]], T],
        progress: bool = True,
    ) -> dict[str, list[T]]:
        """One request per layer and date chunk, all in flight; ``decode`` runs off the
        event loop. Returns each layer's decoded parts in date order. A chunk over the
        server's pixel budget (413) is asked again in halves; one that fails for good
        raises :class:`ExtractError` naming its layer and dates."""
        chunks = self._chunks(plan)
        out: dict[str, list[list[T]]] = {n: [[] for _ in chunks] for n in plan.layers}
        total = len(plan.layers) * len(plan.entries)
        shown = self.progress and progress
        with progress_bar(total, f"{plan.coll.name} {what}", shown) as bar:

            async def one(layer: str, chunk: list[DateEntry]) -> list[T]:
                keys = [e.key for e in chunk]
                try:
                    response = await self.fetcher.request(**request(layer, chunk))
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

    async def extract(self, plan: ExtractPlan, *, progress: bool = True) -> Arrays:
        """The plan's pixels from the subset endpoint."""
        parts = await self._ask(
            plan,
            "subsets",
            lambda layer, chunk: wire.subset_request(
                self.source, plan, layer, chunk[0].start, chunk[-1].end, self.wire
            ),
            lambda response, layer, keys: wire.decode_subset(
                response, layer, keys, plan.grid, self.wire
            ),
            progress,
        )
        return {n: {k: a for part in parts[n] for k, a in part.items()} for n in plan.layers}

    async def timeseries(
        self, plan: ExtractPlan, point: tuple[float, float] | None
    ) -> pd.DataFrame:
        """The plan's statistics from the time-series endpoint (the server reads the pixels)."""
        parts = await self._ask(
            plan,
            "time series",
            lambda layer, chunk: wire.timeseries_request(
                self.source, plan, layer, chunk[0].start, chunk[-1].end, point
            ),
            wire.decode_timeseries,
        )
        return pd.concat([f for n in plan.layers for f in parts[n]], ignore_index=True)
