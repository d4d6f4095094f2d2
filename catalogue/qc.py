"""Decoding LEAF's QC bitmask into masks (numpy only).

A pixel *has data* when it was observed (sensor code != 0) and is not flagged
invalid (bit 2). It is *valid* when it has data and neither the input-domain
(bit 0) nor the output-range (bit 1) flag is set.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

INPUT_OUT_OF_DOMAIN = 1 << 0
OUTPUT_OUT_OF_RANGE = 1 << 1
INVALID = 1 << 2
SENSOR_SHIFT = 3

#: ``data``: hide only pixels without data; ``valid``: also hide flagged estimates.
QCFilter = Literal["data", "valid"]


def encode(sensor: np.ndarray | int, input_flag=False, output_flag=False, invalid=False):
    """Build QC bytes from a sensor code and the three flags (arrays or scalars)."""
    qc = np.left_shift(np.asarray(sensor, dtype=np.uint8), SENSOR_SHIFT)
    qc = qc | np.where(input_flag, INPUT_OUT_OF_DOMAIN, 0).astype(np.uint8)
    qc = qc | np.where(output_flag, OUTPUT_OUT_OF_RANGE, 0).astype(np.uint8)
    return qc | np.where(invalid, INVALID, 0).astype(np.uint8)


def sensor_code(qc: np.ndarray) -> np.ndarray:
    """The sensor code of each pixel (5, 7, 8, 9 Landsat; 21 Sentinel-2; 0 none)."""
    return np.right_shift(qc, SENSOR_SHIFT)


def has_data(qc: np.ndarray) -> np.ndarray:
    """True where the pixel holds an estimate (observed and not invalid)."""
    return (sensor_code(qc) != 0) & ((qc & INVALID) == 0)


def is_valid(qc: np.ndarray) -> np.ndarray:
    """True where the pixel holds an estimate with no QC flag set."""
    return has_data(qc) & ((qc & (INPUT_OUT_OF_DOMAIN | OUTPUT_OUT_OF_RANGE)) == 0)


def keep(qc: np.ndarray, qc_filter: QCFilter) -> np.ndarray:
    """The pixels a request with ``qc=qc_filter`` keeps."""
    if qc_filter == "valid":
        return is_valid(qc)
    if qc_filter == "data":
        return has_data(qc)
    raise ValueError(f"qc filter must be 'data' or 'valid', not {qc_filter!r}")
