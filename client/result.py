"""An extract's result: float32 masked arrays per layer and date, with their georeferencing."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from affine import Affine
from pyproj import CRS

from leafcube.catalogue import Collection, LayerSpec


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
        x, y = self.coords()
        crs = CRS.from_user_input(self.crs)
        spatial_ref = xr.DataArray(
            0,
            attrs={
                **crs.to_cf(),
                "spatial_ref": crs.to_wkt(),
                "GeoTransform": " ".join(str(v) for v in self.transform.to_gdal()),
            },
        )
        time = pd.to_datetime(self.dates)
        data_vars = {
            name: xr.Variable(("time", "y", "x"), self.stack(name), self._attrs(name))
            for name in self.layers
        }
        for name in self.layers:
            data_vars |= self._decoded_bits(name)
        ds = xr.Dataset(
            data_vars,
            coords={
                "time": ("time", time),
                "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
                "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"}),
                "spatial_ref": spatial_ref,
                "period_end": ("time", pd.to_datetime([self.periods[d][1] for d in self.dates])),
            },
            attrs={
                "title": self.collection.title,
                "collection": self.collection.name,
                "qc": self.qc,
                "Conventions": "CF-1.8",
            },
        )
        return ds

    def _decoded_bits(self, name: str) -> dict[str, xr.Variable]:
        """A bitmask layer's fields as variables (``LAI_QC_sensor``, ``LAI_QC_invalid``, …),
        float32 with NaN where the bitmask itself is masked."""
        spec: LayerSpec = self.collection.layers[name]
        if spec.kind != "bitmask" or not spec.bits:
            return {}
        stack = self.stack(name)
        masked = np.isnan(stack)
        dn = np.where(masked, 0, stack).astype(np.uint16)
        out = {}
        for b in spec.bits:
            field = ((dn >> b.bit) & ((1 << b.width) - 1)).astype(np.float32)
            field[masked] = np.nan
            attrs = {"long_name": b.description, "units": "1", "grid_mapping": "spatial_ref"}
            out[f"{name}_{b.name}"] = xr.Variable(("time", "y", "x"), field, attrs)
        return out

    def _attrs(self, name: str) -> dict[str, object]:
        spec: LayerSpec = self.collection.layers[name]
        attrs: dict[str, object] = {
            "long_name": spec.description,
            "units": spec.unit,
            "grid_mapping": "spatial_ref",
            "valid_range": list(spec.valid_range),
        }
        if spec.kind == "bitmask" and spec.bits:
            attrs["flag_meanings"] = " ".join(b.name for b in spec.bits)
            attrs["flag_masks"] = [((1 << b.width) - 1) << b.bit for b in spec.bits]
        if spec.qc_layer:
            attrs["ancillary_variables"] = spec.qc_layer
            attrs["qc_filter"] = self.qc
        return attrs

    def save(self, out: str | os.PathLike[str]) -> list[Path]:
        """Write one NetCDF (``out`` ends in ``.nc``) or a GeoTIFF per layer and date in ``out``."""
        target = Path(out)
        if target.suffix == ".nc":
            target.parent.mkdir(parents=True, exist_ok=True)
            ds = self.to_xarray()
            encoding = {n: {"zlib": True, "_FillValue": np.float32(np.nan)} for n in self.layers}
            ds.to_netcdf(target, engine="h5netcdf", encoding=encoding)
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
