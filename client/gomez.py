"""``DataStorage``: GomezEngine's interface over a leafcube cube, so its notebooks run unchanged.

GomezEngine users write ``DataStorage(url).extract_band(["LAI"], roi="field.geojson")``
and get ``{band: {datetime.date: array}}``. Here the same call goes through
:class:`~leafcube.client.Cube` (server subsets, or COG reads), with bands found by name.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leafcube.catalogue.gomez import gomez_view
from leafcube.catalogue.qc import DEFAULT_QC, QCFilter
from leafcube.catalogue.roi import WGS84

from .cube import Cube
from .errors import ClientError
from .source import is_url

#: ``…/api/collections/{c}/gomez.json`` (server) and ``…/gomez/{c}.json`` (cube folder).
_SERVER_VIEW = re.compile(r"^(?P<base>.*)/api/collections/(?P<coll>[^/]+)/gomez\.json$")
_STATIC_VIEW = re.compile(r"^(?P<base>.*)/gomez/(?P<coll>[^/]+)\.json$")


def _cube_of_view(url: str) -> tuple[str, str | None]:
    """The cube and collection behind a GomezEngine view URL (or the source itself)."""
    for pattern in (_SERVER_VIEW, _STATIC_VIEW):
        m = pattern.match(url)
        if m:
            return m["base"] or "/", m["coll"]
    if url.endswith(".json") and not url.endswith("catalogue.json"):
        raise ClientError(
            f"{url} is not a leafcube GomezEngine view (…/gomez/NAME.json or "
            "…/api/collections/NAME/gomez.json); give the cube's URL or folder instead"
        )
    return url, None


class DataStorage:
    """A cube as GomezEngine sees it: ``data_db`` maps each date to its layers' URLs.

    ``url``: a leafcube server, a cube folder's URL or path, or a GomezEngine view of
    one. Values come back in physical units (float32, NaN where masked by ``qc``).
    Unlike GomezEngine it holds a connection pool: ``close()`` it, or use ``with``.
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        max_workers: int = 10,
        collection: str | None = None,
        qc: QCFilter = DEFAULT_QC,
    ) -> None:
        source, view_coll = _cube_of_view(os.fspath(url))
        self.cube = Cube(source, concurrency=max_workers)
        self.coll = self.cube.collection(collection or view_coll)
        self.qc = qc
        self.max_workers = max_workers
        self.valid_bands = list(self.coll.layers)
        base = self.cube.source.base
        prefix = base if is_url(base) else str(Path(base).resolve())
        self.data_db: dict[dt.date, list[str]] = {
            dt.date.fromisoformat(k): v for k, v in gomez_view(self.coll, prefix).items()
        }

    def close(self) -> None:
        """Close the underlying :class:`Cube`."""
        self.cube.close()

    def __enter__(self) -> DataStorage:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def extract_band(
        self,
        bands: str | Sequence[str],
        dates: dt.date | Sequence[dt.date] | None = None,
        roi: Any = None,
    ) -> dict[str, dict[dt.date, np.ndarray]]:
        """``{band: {date: float32 array}}`` clipped to ``roi`` (default: the whole extent).

        Like GomezEngine, dates with no data in a band are left out of that band, but
        a warning names them.
        """
        names = [bands] if isinstance(bands, str) else list(bands)
        unknown = [b for b in names if b not in self.valid_bands]
        if unknown:
            raise ValueError(f"unknown band(s) {unknown}; available: {self.valid_bands}")
        wanted = sorted(self.data_db) if dates is None else _as_dates(dates)
        missing = sorted(set(wanted) - set(self.data_db))
        if missing:
            raise ValueError(f"{[d.isoformat() for d in missing]} not present in DB!")
        roi_crs = WGS84
        if roi is None:
            roi, roi_crs = self.coll.extent, self.coll.crs
        res = self.cube.extract(
            names,
            roi,
            start=min(wanted),
            end=max(wanted),
            qc=self.qc,
            collection=self.coll.name,
            roi_crs=roi_crs,
        )
        keys = {d.isoformat(): d for d in wanted}
        out: dict[str, dict[dt.date, np.ndarray]] = {}
        for band in names:
            arrays = {keys[k]: a for k, a in res[band].items() if k in keys}
            empty = [d for d, a in arrays.items() if np.ma.getmaskarray(a).all()]
            if empty:
                warnings.warn(
                    f"{band}: no data in the ROI on {', '.join(d.isoformat() for d in empty)}"
                    " (left out, as GomezEngine does)",
                    stacklevel=2,
                )
            out[band] = {d: a.filled(np.nan) for d, a in arrays.items() if d not in empty}
        return out


def _as_dates(dates: dt.date | Sequence[dt.date | str]) -> list[dt.date]:
    """A list of dates from one date, or a list of dates or ``YYYY-MM-DD`` strings."""
    items = [dates] if isinstance(dates, dt.date | str) else list(dates)
    try:
        return [d if isinstance(d, dt.date) else dt.date.fromisoformat(d) for d in items]
    except ValueError as exc:
        raise ValueError(f"dates must be datetime.date or YYYY-MM-DD: {exc}") from None
