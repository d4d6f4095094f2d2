"""The leafcube server's subset and time-series endpoints, as the client speaks them.

A subset comes back as the files' DNs and a bit mask in one zstd frame (``format=dn``:
the fewest bytes, decoded here to the reader's exact float32 values), as one ``.npy``
float32 array ``(layer, time, y, x)`` (``format=npy``: no work to encode, 4 bytes a
pixel) or as a deflated float32 GeoTIFF with a band per date (``format=tif``), NaN
where masked, its georeferencing in ``X-Leafcube-*`` headers. A time series is JSON
with one list per statistic, following ``dates``.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import Any, Literal

import httpx
import numpy as np
import orjson
import pandas as pd
import rasterio.errors
import zstandard
from rasterio.io import MemoryFile
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from leafcube.catalogue.roi import bbox_geometry
from leafcube.reader import RoiGrid
from leafcube.reader.dn import OFFSETS_HEADER, SCALES_HEADER, decode_dn, header_values
from leafcube.reader.headers import DATES_COUNT_HEADER, DATES_HEADER, dates_match
from leafcube.reader.stats import STAT_COLUMNS

from .errors import ClientError
from .plan import ExtractPlan
from .source import Source

#: How subsets travel: ``dn`` (DNs and mask, zstd), ``npy`` (raw float32) or ``tif``
#: (deflated float32 GeoTIFF).
WireFormat = Literal["dn", "npy", "tif"]


def normalise(arr: np.ma.MaskedArray) -> np.ma.MaskedArray:
    """A float32 masked array with NaN under its mask, whatever mode produced it."""
    mask = np.ma.getmaskarray(arr)
    data = np.where(mask, np.float32(np.nan), np.ma.getdata(arr)).astype(np.float32)
    return np.ma.MaskedArray(data, mask=mask, fill_value=np.float32(np.nan))


def _roi_params(plan: ExtractPlan) -> tuple[dict[str, str], Any]:
    """Query parameters and JSON body that carry the plan's ROI exactly."""
    if not isinstance(plan.roi, BaseGeometry):
        bbox: Sequence[float] = plan.roi
        return {"bbox": ",".join(repr(float(v)) for v in bbox), "bbox-crs": plan.roi_crs}, None
    return {"crs": plan.roi_crs}, {
        "type": "Feature",
        "properties": {},
        "geometry": mapping(plan.roi),
    }


def subset_request(
    source: Source, plan: ExtractPlan, layer: str, start: dt.date, end: dt.date, fmt: WireFormat
) -> dict[str, Any]:
    """``fetcher.request`` arguments for one layer over ``[start, end]``."""
    params, body = _roi_params(plan)
    params |= {
        "layers": layer,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "qc": plan.qc,
        "format": fmt,
    }
    url = source.url(f"api/collections/{plan.coll.name}/subset")
    if body is None:
        return {"method": "GET", "url": url, "params": params}
    return {"method": "POST", "url": url, "params": params, "json": body}


def _from_dn(response: httpx.Response) -> np.ndarray:
    """The float32 ``(layer, time, y, x)`` array of a ``dn`` subset, NaN where masked."""
    h = response.headers
    return decode_dn(
        response.content, header_values(h[SCALES_HEADER]), header_values(h[OFFSETS_HEADER])
    )


def _stack(response: httpx.Response, fmt: WireFormat) -> np.ndarray:
    """The float32 ``(layer, time, y, x)`` array of a subset answer."""
    if fmt == "dn":
        return _from_dn(response)
    if fmt == "npy":
        return np.load(io.BytesIO(response.content), allow_pickle=False)
    with MemoryFile(response.content) as mem, mem.open() as ds:
        return ds.read()[np.newaxis]  # one layer: a band per date


def decode_subset(
    response: httpx.Response, layer: str, keys: list[str], grid: RoiGrid, fmt: WireFormat
) -> dict[str, np.ma.MaskedArray]:
    """``{date: masked array}`` from a subset answer, checked against the plan."""
    try:
        stack = _stack(response, fmt)
    except (
        ValueError,
        KeyError,
        EOFError,
        IndexError,
        zstandard.ZstdError,
        rasterio.errors.RasterioError,
    ) as exc:
        raise ClientError(f"the server's subset is not a readable {fmt}: {exc}") from None
    h = response.headers
    if not dates_match(h, keys) or h.get("x-leafcube-layers") != layer:
        raise ClientError(
            f"the server sent {h.get('x-leafcube-layers')} on {h.get(DATES_HEADER)} "
            f"({h.get(DATES_COUNT_HEADER)} dates), not {layer} on {len(keys)} dates"
        )
    t = grid.transform
    expected = ",".join(repr(v) for v in (t.a, t.b, t.c, t.d, t.e, t.f))
    if h.get("x-leafcube-transform") != expected or stack.shape != (1, len(keys), *grid.shape):
        raise ClientError(
            f"the server's grid {h.get('x-leafcube-transform')} {stack.shape} differs from "
            f"the ROI's {expected} {(1, len(keys), *grid.shape)}"
        )
    stack = stack[0].astype(np.float32, copy=False)
    return {
        k: np.ma.MaskedArray(stack[i], mask=np.isnan(stack[i]), fill_value=np.float32(np.nan))
        for i, k in enumerate(keys)
    }


def timeseries_request(
    source: Source,
    plan: ExtractPlan,
    layer: str,
    start: dt.date,
    end: dt.date,
    point: tuple[float, float] | None,
) -> dict[str, Any]:
    """``fetcher.request`` arguments for one layer's time series of the plan's ROI or a
    point over ``[start, end]``."""
    params: dict[str, str] = {
        "layers": layer,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "qc": plan.qc,
    }
    url = source.url(f"api/collections/{plan.coll.name}/timeseries")
    if point is not None:
        params |= {"lon": repr(float(point[0])), "lat": repr(float(point[1]))}
        return {"method": "GET", "url": url, "params": params}
    # an ROI, a bbox included, goes as GeoJSON in its own CRS
    roi = plan.roi if isinstance(plan.roi, BaseGeometry) else bbox_geometry(plan.roi)
    body = {"type": "Feature", "properties": {}, "geometry": mapping(roi)}
    params["crs"] = plan.roi_crs
    return {"method": "POST", "url": url, "params": params, "json": body}


def decode_timeseries(response: httpx.Response, layer: str, keys: list[str]) -> pd.DataFrame:
    """One layer of the server's columnar time series as rows of the client's DataFrame."""
    body = orjson.loads(response.content)
    if body.get("dates") != keys or layer not in body.get("layers", {}):
        raise ClientError(f"the server sent {list(body.get('layers', {}))} on {body.get('dates')}")
    cols = body["layers"][layer]
    frame = pd.DataFrame({c: cols[c] for c in STAT_COLUMNS})
    frame.insert(0, "layer", layer)
    frame.insert(0, "date", [pd.Timestamp(d) for d in keys])
    stats = ["mean", "std", "min", "max"]
    frame[stats] = frame[stats].astype(np.float64)
    return frame
