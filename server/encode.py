"""Subset encodings: GeoTIFF (a band per layer and date), NetCDF/CF, npy, and ``dn``.

Every format carries the reader's float32 values exactly, NaN where masked: the first
three as float32, ``dn`` as the files' own DNs and a bit mask (zstd-compressed),
which decode to the same float32 values as ``float32(dn) * float32(scale) +
float32(offset)``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import rasterio
from rasterio.io import MemoryFile

from leafcube.catalogue import Collection, DateEntry
from leafcube.reader import LayerRead, RoiGrid
from leafcube.reader.dn import DN_MEDIA_TYPE, OFFSETS_HEADER, SCALES_HEADER, encode_dn, header_value
from leafcube.reader.headers import dates_headers
from leafcube.reader.netcdf import cf_dataset, netcdf_bytes


@dataclass
class Subset:
    """A subset: the reads of ``layers`` on ``entries``, all on ``grid``."""

    coll: Collection
    layers: list[str]
    entries: list[DateEntry]
    grid: RoiGrid
    reads: dict[str, dict[str, LayerRead]]
    qc: str
    _data: np.ndarray | None = field(default=None, init=False, repr=False)

    @property
    def data(self) -> np.ndarray:
        """``data[layer, time, y, x]``: float32 physical values, NaN where masked."""
        if self._data is None:
            self._data = np.full(self.shape, np.nan, dtype=np.float32)
            for i, layer in enumerate(self.layers):
                for j, e in enumerate(self.entries):
                    self._data[i, j] = self.reads[layer][e.key].data.filled(np.nan)
        return self._data

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.layers), len(self.entries), *self.grid.shape)

    @property
    def dates(self) -> list[str]:
        return [e.key for e in self.entries]

    def headers(self) -> dict[str, str]:
        """Georeferencing of the stack as response headers (for every format)."""
        t = self.grid.transform
        return {
            "x-leafcube-crs": self.coll.crs,
            "x-leafcube-transform": ",".join(repr(v) for v in (t.a, t.b, t.c, t.d, t.e, t.f)),
            "x-leafcube-shape": ",".join(str(n) for n in self.shape),
            "x-leafcube-layers": ",".join(self.layers),
            **dates_headers(self.dates),
            "x-leafcube-qc": self.qc,
            SCALES_HEADER: header_value([self.coll.layers[n].scale for n in self.layers]),
            OFFSETS_HEADER: header_value([self.coll.layers[n].offset for n in self.layers]),
        }


def to_npy(stack: Subset) -> bytes:
    """``numpy.save`` of the (layer, time, y, x) float32 array."""
    buf = io.BytesIO()
    np.save(buf, stack.data, allow_pickle=False)
    return buf.getvalue()


def to_dn(stack: Subset) -> bytes:
    """The ``dn`` wire format (:mod:`leafcube.reader.dn`): a quarter of npy's bytes before
    compression for LEAF's 8-bit DNs, and far fewer after."""
    dns, masks = [], []
    for layer in stack.layers:
        reads = [stack.reads[layer][e.key] for e in stack.entries]
        masks.append([r.mask for r in reads])
        dns.append(np.stack([r.dn for r in reads]).astype(stack.coll.layers[layer].dtype))
    return encode_dn(dns, np.array(masks, dtype=bool).reshape(stack.shape))


def to_geotiff(stack: Subset) -> bytes:
    """A float32 GeoTIFF with one band per (layer, date), layer-major, tagged with both."""
    n_layers, n_dates, height, width = stack.shape
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


def to_netcdf(stack: Subset) -> bytes:
    """NetCDF-4 (CF-1.8), the same file the client's ``save("x.nc")`` writes."""
    stacks = {layer: stack.data[i] for i, layer in enumerate(stack.layers)}
    periods = [(e.key, e.end.isoformat()) for e in stack.entries]
    ds = cf_dataset(stack.coll, stacks, periods, stack.grid.transform, stack.coll.crs, stack.qc)
    return netcdf_bytes(ds)


FORMATS = {
    "tif": (to_geotiff, "image/tiff; application=geotiff"),
    "npy": (to_npy, "application/x-npy"),
    "nc": (to_netcdf, "application/x-netcdf"),
    "dn": (to_dn, DN_MEDIA_TYPE),
}
