"""Decoding LEAF's QC bitmask (numpy only): which pixels hold data, and which are valid.

Whether a pixel *has data* depends on the LEAF version (docs/ingest.md):

- v2022 QC carries the sensor code in bits 3-7, so a pixel has data when it was
  observed (sensor != 0) and is not flagged invalid (bit 2): :func:`observed_v2022`.
- 2023 and current QC keep bits 0-2 only, and a clear valid estimate is QC 0 exactly
  like a pixel never observed. A pixel has data when it is not flagged invalid and
  either a flag is set or any of the other layers of its region and period is
  non-zero (a never-observed pixel is 0 in every layer): :func:`observed_single`.

The QC layer itself has data wherever the pixel was observed (``invalid_too``: a cloud
flag is information). Ingest applies the rule once and stores the result as each COG's
mask; readers then only need :func:`keep` for ``qc=valid`` (no flag of bits 0-2 set).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np

INPUT_OUT_OF_DOMAIN = 1 << 0
OUTPUT_OUT_OF_RANGE = 1 << 1
INVALID = 1 << 2
FLAGS = INPUT_OUT_OF_DOMAIN | OUTPUT_OUT_OF_RANGE | INVALID
SENSOR_SHIFT = 3

#: ``data``: hide only pixels without data; ``valid``: also hide flagged estimates.
QCFilter = Literal["data", "valid"]
QC_FILTERS: tuple[QCFilter, ...] = ("data", "valid")
#: The filter of every entry point (client, server, tiles, ``DataStorage``, CLIs) unless
#: told otherwise: every estimate LEAF exports, as LEAF's own GeoTIFFs show them.
DEFAULT_QC: QCFilter = "data"


def check_filter(value: object) -> QCFilter:
    """``value`` as a QC filter; ValueError naming the choices otherwise."""
    for name in QC_FILTERS:
        if value == name:
            return name
    raise ValueError(f"qc must be one of {list(QC_FILTERS)}, not {value!r}")


def encode(sensor: np.ndarray | int, input_flag=False, output_flag=False, invalid=False):
    """Build QC bytes from a sensor code (0 for 2023 and later) and the three flags."""
    qc = np.left_shift(np.asarray(sensor, dtype=np.uint8), SENSOR_SHIFT)
    qc = qc | np.where(input_flag, INPUT_OUT_OF_DOMAIN, 0).astype(np.uint8)
    qc = qc | np.where(output_flag, OUTPUT_OUT_OF_RANGE, 0).astype(np.uint8)
    return qc | np.where(invalid, INVALID, 0).astype(np.uint8)


def sensor_code(qc: np.ndarray) -> np.ndarray:
    """The v2022 sensor code of each pixel (5, 7, 8, 9 Landsat; 21 Sentinel-2; 0 none)."""
    return np.right_shift(qc, SENSOR_SHIFT)


def observed_v2022(qc: np.ndarray, invalid_too: bool = False) -> np.ndarray:
    """v2022: True where the pixel holds an estimate (a sensor code, not flagged invalid).

    ``invalid_too`` keeps invalid pixels as well: the QC layer itself has data wherever
    the pixel was observed, clouds included.
    """
    seen = sensor_code(qc) != 0
    return seen if invalid_too else seen & ((qc & INVALID) == 0)


def observed_single(
    qc: np.ndarray, others: Iterable[np.ndarray], invalid_too: bool = False
) -> np.ndarray:
    """2023 and current: True where not invalid and a flag or any other layer is non-zero."""
    seen = (qc & (FLAGS if invalid_too else INPUT_OUT_OF_DOMAIN | OUTPUT_OUT_OF_RANGE)) != 0
    for layer in others:
        seen |= layer != 0
    return seen if invalid_too else seen & ((qc & INVALID) == 0)


def is_valid(qc: np.ndarray) -> np.ndarray:
    """True where no flag is set (the has-data part lives in each COG's mask)."""
    return (qc & FLAGS) == 0


def keep(qc: np.ndarray, qc_filter: QCFilter) -> np.ndarray:
    """The pixels (already known to hold data) that a request with ``qc=qc_filter`` keeps."""
    if check_filter(qc_filter) == "valid":
        return is_valid(qc)
    return np.ones(np.shape(qc), dtype=bool)
