"""The interface a ``Cube`` reads through: a leafcube server's API
(:class:`~.server_backend.ServerBackend`) or the cube's files, local or on any web
server (:class:`~.file_backend.FileBackend`). Both return the same pixels."""

from __future__ import annotations

import warnings
from typing import Protocol

import numpy as np
import pandas as pd
from tqdm import TqdmWarning

from leafcube.reader.stats import STAT_COLUMNS, layer_stats

from .plan import ExtractPlan

with warnings.catch_warnings():
    warnings.simplefilter("ignore", TqdmWarning)  # no ipywidgets: a text bar will do
    from tqdm.auto import tqdm

Arrays = dict[str, dict[str, np.ma.MaskedArray]]


class Backend(Protocol):
    """Reads a plan's pixels or statistics; closed with its ``Cube``."""

    async def extract(self, plan: ExtractPlan, *, progress: bool = True) -> Arrays:
        """``{layer: {date: float32 masked array}}`` of the plan, NaN under the mask; a
        progress bar when the backend shows them and ``progress``."""
        ...

    async def timeseries(
        self, plan: ExtractPlan, point: tuple[float, float] | None
    ) -> pd.DataFrame:
        """Per (date, layer) statistics of the plan's ROI (or of one lon/lat point)."""
        ...

    def close(self) -> None:
        """Release what the backend holds (threads, open files)."""
        ...


def progress_bar(total: int, what: str, enabled: bool) -> tqdm:
    """A progress bar over ``total`` dates, gone when done."""
    return tqdm(total=total, desc=what, unit="date", disable=not enabled, leave=False)


def timeseries_frame(arrays: Arrays, total: int) -> pd.DataFrame:
    """Per-date statistics of ``{layer: {date: array}}`` over ``total`` ROI pixels, in the
    same columns as the server's answer."""
    rows = [
        {"date": pd.Timestamp(d), "layer": name, **layer_stats(arr, total)}
        for name, by_date in arrays.items()
        for d, arr in by_date.items()
    ]
    return pd.DataFrame(rows, columns=["date", "layer", *STAT_COLUMNS])
