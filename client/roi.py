"""ROIs for the client: everything :func:`leafcube.catalogue.roi.parse_roi` takes, plus URLs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from shapely.geometry.base import BaseGeometry

from leafcube.catalogue.roi import parse_roi

from .errors import ClientError
from .http import Fetcher
from .source import is_url


async def load_roi(roi: Any, fetcher: Fetcher) -> BaseGeometry | Sequence[float]:
    """A geometry (or a bbox, kept as numbers so a server gets it exactly) from ``roi``.

    An ``http(s)://`` URL is fetched (with retries) and parsed as GeoJSON.
    """
    if roi is None:
        raise ClientError("give an roi: a GeoJSON path, URL, dict or text, a geometry or a bbox")
    if is_url(roi):
        try:
            response = await fetcher.request("GET", roi)
        except (httpx.HTTPError, ClientError) as exc:
            raise ClientError(f"cannot fetch the ROI {roi}: {exc}") from None
        return parse_roi(response.text)
    if isinstance(roi, Sequence) and not isinstance(roi, str) and len(roi) == 4:
        parse_roi(roi)  # checks the numbers
        return tuple(float(v) for v in roi)
    return parse_roi(roi)
