"""Zonal statistics of a masked array: what a time series reports per date and layer."""

from __future__ import annotations

import numpy as np

STAT_COLUMNS = ("mean", "std", "min", "max", "valid", "total")


def layer_stats(arr: np.ma.MaskedArray, total: int) -> dict[str, float | int]:
    """Mean, population std, min and max of the unmasked pixels (NaN when none), their
    count, and ``total``, the number of pixels in the ROI."""
    values = np.ma.compressed(arr).astype(np.float64)
    if values.size == 0:
        nan = float("nan")
        return {"mean": nan, "std": nan, "min": nan, "max": nan, "valid": 0, "total": total}
    return {
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
        "valid": int(values.size),
        "total": total,
    }
