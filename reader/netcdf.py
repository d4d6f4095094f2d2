"""The CF-1.8 Dataset of a subset and its NetCDF file: the one writer behind the server's
``format=nc`` and the client's ``to_xarray()`` and ``save("x.nc")``, so both make the
same file for the same subset."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from pyproj import CRS

from leafcube.catalogue import Collection, LayerSpec


def layer_attrs(spec: LayerSpec, qc: str) -> dict[str, object]:
    """CF attributes of one layer's variable."""
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
        attrs["qc_filter"] = qc
    return attrs


def decoded_bits(name: str, spec: LayerSpec, stack: np.ndarray) -> dict[str, xr.Variable]:
    """A bitmask layer's fields as variables (``QC_invalid``, v2022's ``LAI_QC_sensor``, …),
    float32 with NaN where the bitmask itself is masked."""
    if spec.kind != "bitmask" or not spec.bits:
        return {}
    masked = np.isnan(stack)
    dn = np.where(masked, 0, stack).astype(np.uint16)
    out = {}
    for b in spec.bits:
        field = ((dn >> b.bit) & ((1 << b.width) - 1)).astype(np.float32)
        field[masked] = np.nan
        attrs = {"long_name": b.description, "units": "1", "grid_mapping": "spatial_ref"}
        out[f"{name}_{b.name}"] = xr.Variable(("time", "y", "x"), field, attrs)
    return out


def cf_dataset(
    coll: Collection,
    stacks: Mapping[str, Any],
    periods: Sequence[tuple[str, str]],
    transform: Affine,
    crs: str,
    qc: str,
    decode_bits: bool = True,
) -> xr.Dataset:
    """``stacks[layer]``: float32 ``(time, y, x)``, NaN where masked, one time step per
    ``(start, end)`` of ``periods`` (numpy arrays, or lazy ones xarray takes); a QC
    bitmask also comes decoded, a variable per field (unless ``decode_bits`` is False:
    for lazy arrays, which decoding would read)."""
    height, width = tuple(next(iter(stacks.values())).shape[1:]) if stacks else (0, 0)
    x = transform.c + transform.a * (np.arange(width) + 0.5)
    y = transform.f + transform.e * (np.arange(height) + 0.5)
    ref = CRS.from_user_input(crs)
    spatial_ref = xr.DataArray(
        0,
        attrs={
            **ref.to_cf(),
            "spatial_ref": ref.to_wkt(),
            "GeoTransform": " ".join(str(v) for v in transform.to_gdal()),
        },
    )
    data_vars: dict[str, xr.Variable] = {}
    for name, stack in stacks.items():
        spec = coll.layers[name]
        data_vars[name] = xr.Variable(("time", "y", "x"), stack, layer_attrs(spec, qc))
    for name, stack in stacks.items() if decode_bits else ():
        data_vars |= decoded_bits(name, coll.layers[name], stack)
    return xr.Dataset(
        data_vars,
        coords={
            "time": ("time", pd.to_datetime([p[0] for p in periods])),
            "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"}),
            "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"}),
            "spatial_ref": spatial_ref,
            "period_end": ("time", pd.to_datetime([p[1] for p in periods])),
        },
        attrs={
            "title": coll.title,
            "collection": coll.name,
            "qc": qc,
            "Conventions": "CF-1.8",
        },
    )


def _encoding(ds: xr.Dataset) -> dict[Hashable, dict[str, object]]:
    return {n: {"zlib": True, "_FillValue": np.float32(np.nan)} for n in ds.data_vars}


def netcdf_bytes(ds: xr.Dataset) -> bytes:
    """NetCDF-4 (h5netcdf) of ``ds``, variables deflated, NaN as the fill value."""
    return bytes(ds.to_netcdf(engine="h5netcdf", encoding=_encoding(ds)))
