"""Pixels and statistics from a leafcube server's subset and time-series endpoints: one
request per layer and piece (a date range, or one date's window of a large ROI), all in
flight over the ``Cube``'s connection pool."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import replace
from typing import Any, TypeVar

import httpx
import pandas as pd

from . import wire
from .backend import Arrays, progress_bar, timeseries_frame
from .errors import ClientError, ExtractError, TooLarge
from .http import Fetcher
from .plan import ExtractPlan
from .result import paste
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
    """A leafcube server's API. Subsets are split into requests of at most
    ``max_request_bytes`` (8 MB measured best: the server reads the next one while the
    client receives this one), by date and, when one date of the ROI is larger, by area
    on the COGs' block lattice; they travel as ``wire``."""

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

    def _fits(self, plan: ExtractPlan) -> bool:
        """Whether one date of the plan's ROI fits one request."""
        return plan.grid.pixels * 4 <= self.max_request_bytes

    def _pieces(self, plan: ExtractPlan) -> list[ExtractPlan]:
        """The plan's ROI whole when one date of it fits a request, else in windows that do."""
        return [plan] if self._fits(plan) else plan.area_parts(self.max_request_bytes // 4)

    def _dates(self, plan: ExtractPlan) -> list[ExtractPlan]:
        """Date ranges of the plan of at most ``max_request_bytes`` each (one date at least)."""
        n = max(1, self.max_request_bytes // max(1, plan.grid.pixels * 4))
        return [
            replace(plan, entries=plan.entries[i : i + n]) for i in range(0, len(plan.entries), n)
        ]

    async def _ask(
        self,
        plan: ExtractPlan,
        what: str,
        request: Callable[[str, ExtractPlan], dict[str, Any]],
        decode: Callable[[httpx.Response, str, ExtractPlan], T],
        *,
        by_area: bool,
        progress: bool = True,
    ) -> dict[str, list[tuple[ExtractPlan, T]]]:
        """One request per layer and piece of the plan, all in flight; ``decode`` runs
        off the event loop. Returns each layer's pieces and their decoded answers in
        order. A piece over the server's pixel budget (413) is asked again in halves of
        its dates, or, with one date and ``by_area``, of its window; one that fails for
        good raises :class:`ExtractError` naming its layer and dates."""
        pieces = self._pieces(plan) if by_area else [plan]
        pieces = [p for whole in pieces for p in self._dates(whole)]
        out: dict[str, list[list[tuple[ExtractPlan, T]]]] = {
            n: [[] for _ in pieces] for n in plan.layers
        }
        shown = self.progress and progress
        with progress_bar(
            len(plan.layers) * len(plan.entries), f"{plan.coll.name} {what}", shown
        ) as bar:

            async def one(layer: str, piece: ExtractPlan) -> list[tuple[ExtractPlan, T]]:
                keys = piece.keys
                try:
                    response = await self.fetcher.request(**request(layer, piece))
                    answer = await asyncio.to_thread(decode, response, layer, piece)
                except TooLarge as exc:
                    halves = _halves(piece, by_area)
                    if not halves:
                        raise ExtractError(layer, keys, str(exc)) from None
                    return [got for half in halves for got in await one(layer, half)]
                except ClientError as exc:
                    raise ExtractError(layer, keys, str(exc)) from None
                except httpx.HTTPError as exc:  # transport errors that survived retries
                    raise ExtractError(layer, keys, f"{type(exc).__name__}: {exc}") from None
                bar.update(len(keys) * piece.grid.pixels / plan.grid.pixels)
                return [(piece, answer)]

            async def fill(layer: str, i: int, piece: ExtractPlan) -> None:
                out[layer][i] = await one(layer, piece)

            await gather_all(
                fill(layer, i, piece) for layer in plan.layers for i, piece in enumerate(pieces)
            )
        return {n: [got for answers in out[n] for got in answers] for n in plan.layers}

    async def extract(self, plan: ExtractPlan, *, progress: bool = True) -> Arrays:
        """The plan's pixels from the subset endpoint, windows pasted onto its grid."""
        answers = await self._ask(
            plan,
            "subsets",
            lambda layer, piece: wire.subset_request(
                self.source, piece, layer, piece.entries[0].start, piece.entries[-1].end, self.wire
            ),
            lambda response, layer, piece: wire.decode_subset(
                response, layer, piece.keys, piece.grid, self.wire
            ),
            by_area=True,
            progress=progress,
        )
        arrays: Arrays = {}
        for layer, got in answers.items():
            if all(piece.grid is plan.grid for piece, _ in got):
                arrays[layer] = {k: a for _, part in got for k, a in part.items()}
                continue
            arrays[layer] = {
                k: paste(plan.grid, [(p.grid, part[k]) for p, part in got if k in part])
                for k in plan.keys
            }
        return arrays

    async def timeseries(
        self, plan: ExtractPlan, point: tuple[float, float] | None
    ) -> pd.DataFrame:
        """The plan's statistics from the time-series endpoint (the server reads the
        pixels); an ROI of which one date does not fit a request is extracted (by area)
        and its statistics computed here, as the server computes them."""
        if not self._fits(plan):
            return timeseries_frame(await self.extract(plan), int(plan.grid.inside.sum()))
        answers = await self._ask(
            plan,
            "time series",
            lambda layer, piece: wire.timeseries_request(
                self.source, piece, layer, piece.entries[0].start, piece.entries[-1].end, point
            ),
            lambda response, layer, piece: wire.decode_timeseries(response, layer, piece.keys),
            by_area=False,
        )
        return pd.concat([f for n in plan.layers for _, f in answers[n]], ignore_index=True)


def _halves(piece: ExtractPlan, by_area: bool) -> list[ExtractPlan]:
    """A piece in two halves of its dates, or with one date and ``by_area`` in windows of
    half its pixels on the block lattice; none when it cannot be cut (one date, and one
    block or not ``by_area``)."""
    if len(piece.entries) > 1:
        half = len(piece.entries) // 2
        return [
            replace(piece, entries=piece.entries[:half]),
            replace(piece, entries=piece.entries[half:]),
        ]
    if not by_area:
        return []
    parts = piece.area_parts(piece.grid.pixels // 2)
    return parts if len(parts) > 1 or (parts and parts[0].grid.shape != piece.grid.shape) else []
