"""An extract's result: float32 masked arrays per layer and date, with their georeferencing."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr
from affine import Affine

from leafcube.catalogue import Collection
from leafcube.reader import RoiGrid
from leafcube.reader.netcdf import cf_dataset, netcdf_bytes


def paste(grid: RoiGrid, parts: Sequence[tuple[RoiGrid, np.ma.MaskedArray]]) -> np.ma.MaskedArray:
    """One float32 array on ``grid`` from arrays on windows of it: NaN and masked outside
    the ROI and where no window lies (a large ROI read a window at a time)."""
    t = grid.transform
    data = np.full(grid.shape, np.float32(np.nan), dtype=np.float32)
    for part, arr in parts:
        row = round((part.transform.f - t.f) / t.e)
        col = round((part.transform.c - t.c) / t.a)
        data[row : row + part.height, col : col + part.width] = np.ma.filled(arr, np.nan)
    data[~grid.inside] = np.nan
    return np.ma.MaskedArray(data, mask=np.isnan(data), fill_value=np.float32(np.nan))


@dataclass(eq=False)
class Extract(Mapping[str, dict[str, np.ma.MaskedArray]]):
    """``res[layer][date]``: a float32 masked array in physical units on one ROI grid.

    Dates are ``YYYY-MM-DD`` period starts, oldest first. Masked pixels (outside the
    ROI, no data, or flagged by QC) hold NaN. ``empty_dates`` lists the dates on which
    no requested layer has a single unmasked pixel in the ROI; they are kept, not dropped.
    """

    collection: Collection
    layers: dict[str, dict[str, np.ma.MaskedArray]]
    transform: Affine
    crs: str
    inside: np.ndarray
    qc: str
    periods: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __getitem__(self, layer: str) -> dict[str, np.ma.MaskedArray]:
        return self.layers[layer]

    def __iter__(self) -> Iterator[str]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        h, w = self.shape
        return (
            f"<Extract {self.collection.name}: {list(self.layers)} × {len(self.dates)} dates, "
            f"{h}×{w} px, {len(self.empty_dates)} empty>"
        )

    @property
    def dates(self) -> list[str]:
        """The dates of the extract, oldest first."""
        first = next(iter(self.layers.values()), {})
        return list(first)

    @property
    def shape(self) -> tuple[int, int]:
        return self.inside.shape

    @property
    def empty_dates(self) -> list[str]:
        """Dates with no unmasked pixel in any requested layer."""
        return [
            d
            for d in self.dates
            if all(bool(np.ma.getmaskarray(stack[d]).all()) for stack in self.layers.values())
        ]

    def stack(self, layer: str) -> np.ndarray:
        """One layer as a float32 ``(time, y, x)`` array with NaN where masked."""
        arrays = [a.filled(np.nan) for a in self.layers[layer].values()]
        if not arrays:
            return np.empty((0, *self.shape), dtype=np.float32)
        return np.stack(arrays).astype(np.float32, copy=False)

    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre x and y coordinates in :attr:`crs`."""
        h, w = self.shape
        t = self.transform
        x = t.c + t.a * (np.arange(w) + 0.5)
        y = t.f + t.e * (np.arange(h) + 0.5)
        return x, y

    def to_xarray(self) -> xr.Dataset:
        """A CF Dataset ``(time, y, x)`` per layer, with units, QC attributes and the CRS;
        a requested QC bitmask also comes decoded, a variable per field."""
        stacks = {name: self.stack(name) for name in self.layers}
        periods = [(d, self.periods[d][1]) for d in self.dates]
        return cf_dataset(self.collection, stacks, periods, self.transform, self.crs, self.qc)

    def save(self, out: str | os.PathLike[str]) -> list[Path]:
        """Write one NetCDF (``out`` ends in ``.nc``) or a GeoTIFF per layer and date in ``out``."""
        target = Path(out)
        if target.suffix == ".nc":
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(netcdf_bytes(self.to_xarray()))
            return [target]
        if target.suffix:
            raise ValueError(f"out must be a .nc file or a folder, not {target.name!r}")
        target.mkdir(parents=True, exist_ok=True)
        written = []
        h, w = self.shape
        profile = {
            "driver": "GTiff",
            "width": w,
            "height": h,
            "count": 1,
            "dtype": "float32",
            "crs": self.crs,
            "transform": self.transform,
            "nodata": float("nan"),
            "compress": "deflate",
            "tiled": w >= 256 and h >= 256,
        }
        for name, by_date in self.layers.items():
            spec = self.collection.layers[name]
            for date, arr in by_date.items():
                path = target / f"{name}_{date}.tif"
                with rasterio.open(path, "w", **profile) as dst:
                    dst.write(arr.filled(np.nan).astype(np.float32), 1)
                    dst.update_tags(1, units=spec.unit, date=date, period_end=self.periods[date][1])
                    dst.set_band_description(1, name)
                written.append(path)
        return written
