"""Exports written the way Earth Engine writes LEAF's, with their truth, for the variant tests.

Independent of leafcube's ingest and QC code: a scene knows which pixels were observed,
which were flagged invalid, and every layer's DN and acquisition day; the writers encode
it as each LEAF version does (names, QC bits, Date encodings, the compact band) on Earth
Engine's lattice (corners on whole multiples of the scale from the CRS origin), with no
nodata value and 0 in every layer where masked.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

PRODUCTS = ("LAI", "fCOVER", "fAPAR", "Albedo")
SENSOR_S2 = 21
EPOCH = dt.date(1970, 1, 1)
ACQUIRED_MS = 17 * 3_600_000  # 17:00 UTC


@dataclass
class Scene:
    """The truth of one region and period: what was seen, flagged and estimated."""

    observed: np.ndarray  # the pixel was looked at (clouds included)
    invalid: np.ndarray  # QC bit 2: cloud, snow, water...
    domain: np.ndarray  # QC bit 0
    out_of_range: dict[str, np.ndarray]  # QC bit 1, per product
    dn: dict[str, np.ndarray]  # products and errors, 0 where no estimate
    doy0: np.ndarray  # zero-based day of year of the acquisition, where an estimate
    partition: np.ndarray  # land-cover class, 0 outside the region
    year: int

    @property
    def has(self) -> np.ndarray:
        """Where an estimate exists: products, errors and Date hold data."""
        return self.observed & ~self.invalid


def scene(seed: int, shape: tuple[int, int], year: int, month: int) -> Scene:
    """A random scene with real zeros (LAI 0 on observed bare soil) and every kind of gap."""
    rng = np.random.default_rng(seed)
    observed = rng.random(shape) > 0.15
    observed[: shape[0] // 4, : shape[1] // 4] = False  # outside the region's polygon
    invalid = observed & (rng.random(shape) < 0.12)
    has = observed & ~invalid
    dn = {}
    for p in PRODUCTS:
        lo = 1 if p == "Albedo" else 0  # a real observation has a non-zero albedo
        values = rng.integers(lo, 256, shape).astype(np.uint8)
        if p == "LAI":
            values[rng.random(shape) < 0.2] = 0  # bare soil: a real LAI of 0
        dn[p] = np.where(has, values, 0).astype(np.uint8)
        dn[f"error{p}"] = np.where(has, rng.integers(0, 60, shape), 0).astype(np.uint8)
    first = dt.date(year, month, 1).timetuple().tm_yday - 1
    days = calendar.monthrange(year, month)[1]
    doy0 = np.where(has, first + rng.integers(0, days, shape), 0).astype(np.uint16)
    return Scene(
        observed=observed,
        invalid=invalid,
        domain=has & (rng.random(shape) < 0.05),
        out_of_range={p: has & (rng.random(shape) < 0.03) for p in PRODUCTS},
        dn=dn,
        doy0=doy0,
        partition=np.where(
            observed | (rng.random(shape) < 0.5), rng.integers(1, 20, shape), 0
        ).astype(np.uint8),
        year=year,
    )


def _days_since_1970(s: Scene) -> np.ndarray:
    return (dt.date(s.year, 1, 1) - EPOCH).days + s.doy0.astype(np.int64)


def single_qc(s: Scene) -> np.ndarray:
    """2023 and current QC: bits 0-2 only; 0 for a clear estimate and for never observed."""
    oor = np.zeros(s.observed.shape, dtype=bool)
    for p in PRODUCTS:
        oor |= s.out_of_range[p]
    qc = s.domain * 1 + oor * 2 + s.invalid * 4
    return np.where(s.observed, qc, 0).astype(np.uint8)


def v2022_qc(s: Scene, product: str) -> np.ndarray:
    """v2022 QC of one product: the sensor code in bits 3-7 and the flags."""
    qc = (SENSOR_S2 << 3) + s.domain * 1 + s.out_of_range[product] * 2 + s.invalid * 4
    return np.where(s.observed, qc, 0).astype(np.uint8)


def layers(s: Scene, version: str) -> dict[str, np.ndarray]:
    """The layer files of a version (names as LEAF spells the layer part)."""
    has = s.has
    if version == "v2022":
        out = {p: s.dn[p] for p in PRODUCTS} | {f"error{p}": s.dn[f"error{p}"] for p in PRODUCTS}
        out |= {f"{p}_QC": v2022_qc(s, p) for p in PRODUCTS}
        ms = _days_since_1970(s) * 86_400_000 + ACQUIRED_MS
        out["Date"] = np.where(has, ms // 31_536_000, 0).astype(np.uint16)
        return out
    out = {p: s.dn[p] for p in PRODUCTS} | {"QC": single_qc(s)}
    if version == "2023":
        out["Date"] = np.where(has, _days_since_1970(s), 0).astype(np.uint16)
    else:
        out["Date"] = s.doy0
    return out


def compact(s: Scene, dtype: str) -> np.ndarray:
    """The compact bioParams_QC band: LAI·2²⁴ + fCOVER·2¹⁶ + fAPAR·2⁸ + Albedo + QC·2³²."""
    v = (
        s.dn["LAI"].astype(np.int64) * 2**24
        + s.dn["fCOVER"].astype(np.int64) * 2**16
        + s.dn["fAPAR"].astype(np.int64) * 2**8
        + s.dn["Albedo"].astype(np.int64)
        + single_qc(s).astype(np.int64) * 2**32
    )
    return v.astype(dtype)


def write(
    path: Path,
    data: np.ndarray,
    left: float,
    top: float,
    res: float = 20.0,
    crs: str = "EPSG:3979",
) -> Path:
    """A GeoTIFF as Earth Engine exports it: no nodata tag, corner at (left, top)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype,
        crs=crs,
        transform=Affine(res, 0.0, left, 0.0, -res, top),
    ) as dst:
        dst.write(data, 1)
    return path


def write_pieces(
    folder: Path, stem: str, data: np.ndarray, left: float, top: float, rows: int, **kw
) -> list[Path]:
    """A layer split the way Earth Engine splits large exports: ``stem-RRRRRRRRRR-CCCCCCCCCC``."""
    res = kw.get("res", 20.0)
    return [
        write(
            folder / f"{stem}-{r:010d}-{0:010d}.tif", data[r : r + rows], left, top - r * res, **kw
        )
        for r in range(0, data.shape[0], rows)
    ]
