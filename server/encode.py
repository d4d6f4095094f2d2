"""Subset encodings: GeoTIFF (a band per layer and date), NetCDF/CF, and npy with headers.

Every format carries the reader's float32 values exactly, NaN where masked.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
import rasterio
import xarray as xr
from pyproj import CRS
from rasterio.io import MemoryFile

from leafcube.catalogue import Collection, DateEntry
from leafcube.reader import LayerRead, RoiGrid


@dataclass
class Stack:
    """A subset: ``data[layer, time, y, x]`` (float32, NaN = masked) on ``grid``."""

    coll: Collection
    layers: list[str]
    entries: list[DateEntry]
    grid: RoiGrid
    data: np.ndarray
    qc: str

    @classmethod
    def from_reads(
        cls,
        coll: Collection,
        layers: list[str],
        entries: list[DateEntry],
        grid: RoiGrid,
        reads: dict[str, dict[str, LayerRead]],
        qc: str,
    ) -> Stack:
        data = np.full((len(layers), len(entries), *grid.shape), np.nan, dtype=np.float32)
        for i, layer in enumerate(layers):
            for j, e in enumerate(entries):
                data[i, j] = reads[layer][e.key].data.filled(np.nan)
        return cls(coll, layers, entries, grid, data, qc)

    @property
    def dates(self) -> list[str]:
        return [e.key for e in self.entries]

    def headers(self) -> dict[str, str]:
        """Georeferencing of the stack as response headers (for every format)."""
        t = self.grid.transform
        return {
            "x-leafcube-crs": self.coll.crs,
            "x-leafcube-transform": ",".join(repr(v) for v in (t.a, t.b, t.c, t.d, t.e, t.f)),
            "x-leafcube-shape": ",".join(str(n) for n in self.data.shape),
            "x-leafcube-layers": ",".join(self.layers),
            "x-leafcube-dates": ",".join(self.dates),
            "x-leafcube-qc": self.qc,
        }


def to_npy(stack: Stack) -> bytes:
    """``numpy.save`` of the (layer, time, y, x) float32 array."""
    buf = io.BytesIO()
    np.save(buf, stack.data, allow_pickle=False)
    return buf.getvalue()


def to_geotiff(stack: Stack) -> bytes:
    """A float32 GeoTIFF with one band per (layer, date), layer-major, tagged with both."""
    n_layers, n_dates, height, width = stack.data.shape
    profile = {
        "driver": "GTiff",
        "dtype": "float32",
        "count": n_layers * n_dates,
        "width": width,
        "height": height,
        "crs": stack.coll.crs,
        "transform": stack.grid.transform,
        "nodata": float("nan"),
        "compress": "deflate",
        "predictor": 3,
        "interleave": "band",
    }
    if width >= 256 and height >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    with rasterio.Env(), MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.update_tags(
                collection=stack.coll.name,
                layers=",".join(stack.layers),
                dates=",".join(stack.dates),
                qc=stack.qc,
            )
            band = 1
            for i, layer in enumerate(stack.layers):
                spec = stack.coll.layers[layer]
                for j, e in enumerate(stack.entries):
                    dst.write(stack.data[i, j], band)
                    dst.set_band_description(band, f"{layer} {e.key}")
                    dst.update_tags(
                        band,
                        layer=layer,
                        date=e.key,
                        start=e.start.isoformat(),
                        end=e.end.isoformat(),
                        unit=spec.unit,
                    )
                    band += 1
        return mem.read()


def to_netcdf(stack: Stack) -> bytes:
    """NetCDF-4 (CF-1.8): a (time, y, x) variable per layer, with a CF grid mapping."""
    t = stack.grid.transform
    _, _, height, width = stack.data.shape
    xs = t.c + t.a * (np.arange(width) + 0.5)
    ys = t.f + t.e * (np.arange(height) + 0.5)
    crs = CRS.from_user_input(stack.coll.crs)
    grid_mapping = crs.to_cf()
    grid_mapping["spatial_ref"] = crs.to_wkt()
    grid_mapping["GeoTransform"] = " ".join(repr(v) for v in (t.c, t.a, t.b, t.f, t.d, t.e))
    data_vars = {}
    for i, layer in enumerate(stack.layers):
        spec = stack.coll.layers[layer]
        data_vars[layer] = (
            ("time", "y", "x"),
            stack.data[i],
            {
                "long_name": spec.description,
                "units": spec.unit,
                "grid_mapping": "spatial_ref",
            },
        )
    ds = xr.Dataset(
        data_vars,
        coords={
            "time": pd.to_datetime(stack.dates),
            "y": ("y", ys, {"standard_name": "projection_y_coordinate", "units": "m"}),
            "x": ("x", xs, {"standard_name": "projection_x_coordinate", "units": "m"}),
            "spatial_ref": ((), 0, grid_mapping),
        },
        attrs={
            "Conventions": "CF-1.8",
            "title": f"leafcube subset of {stack.coll.name}",
            "source": "leafcube",
            "qc": stack.qc,
        },
    )
    encoding = {name: {"_FillValue": np.float32(np.nan)} for name in stack.layers}
    return bytes(ds.to_netcdf(engine="h5netcdf", encoding=encoding))


FORMATS = {
    "tif": (to_geotiff, "image/tiff; application=geotiff"),
    "npy": (to_npy, "application/x-npy"),
    "nc": (to_netcdf, "application/x-netcdf"),
}
