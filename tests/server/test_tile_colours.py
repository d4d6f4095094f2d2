"""Tile colours from a running ``leafcube serve``, checked pixel by pixel against a reference.

The reference is made without the server's code: rio-tiler reads the date's mosaic VRT
(the href the catalogue gives) into the tile with GDAL's warper, nearest neighbour and
a 0.001 px error threshold (0 makes rio-tiler's WarpedVRT fail); the colour of each
reference DN is then worked out here from the layer's catalogue entry (``dn * scale +
offset`` stretched over ``display_range`` onto rio-tiler's 256-colour table of its
``colormap``, viridis for names rio-tiler does not know; Partition takes the NALCMS
legend). Pillow decodes the server's PNG.

Tolerances, and why:

- A colour on a ramp may be the table entry next to the exact one: 255 opaque palette
  entries carry a 256-entry table (tests/server/test_colormaps.py pins this down).
- ``CCRS3979`` is the collection's own CRS: both sides sample the same source pixel
  for every tile pixel, so footprint and colours must agree exactly.
- ``WebMercatorQuad``: the server reprojects a 17 x 17 lattice of each tile and
  interpolates in between; GDAL's warper (even at 0.001 px tolerance) is not exact
  either. A tile pixel whose centre falls on a source pixel's edge may take either
  side. So at most 0.5 % of a layer's data pixels may differ, in colour or in the
  footprint (measured on the demo cube at zooms 12-13: 0.04 % at most, LAI), and every
  one must be such an edge pixel: its centre, transformed exactly with PROJ, lies
  within EDGE (0.01) source pixels of a pixel edge, and the server shows what a source
  pixel touching that point holds (the measured differences all lie within 0.001).
  GDAL's default approximate transformer (0.125 px) alone puts about 3 % of pixels on
  the wrong side, hence the near-exact reference.
- Zooms 12 (the data's resolution) and 13 are compared: both sides read full
  resolution there; overview levels are not compared.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import pyproj
import pytest
import rasterio
from PIL import Image
from rio_tiler.colormap import cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

from leafcube.catalogue import load
from leafcube.server.tms import TMS
from tests.server.legend import NALCMS_LEGEND

DATE = "2023-07-01"
#: Every layer kind of a current export: continuous (two colormaps), bitmask, date,
#: categorical.
LAYERS = ["LAI", "Albedo", "QC", "Date", "Partition"]
#: The fraction of a layer's data pixels whose colour or footprint may differ (above).
TOLERANCE = {"CCRS3979": 0.0, "WebMercatorQuad": 0.005}
#: How close (in source pixels) to a source pixel's edge a tile pixel centre must fall
#: for the server and the reference to be allowed to take different sides of it.
EDGE = 0.01


def _server_rgba(h2, collection: str, layer: str, tms: str, tile, qc: str = "") -> np.ndarray:
    url = f"/api/collections/{collection}/tiles/{layer}/{DATE}/{tms}/{tile.z}/{tile.x}/{tile.y}.png"
    r = h2.get(url + (f"?qc={qc}" if qc else ""))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png", r.text
    image = Image.open(io.BytesIO(r.content))
    assert (image.format, image.size) == ("PNG", (256, 256))
    return np.asarray(image.convert("RGBA"))


def _reference(cube, href: str, tms: str, tile) -> tuple[np.ndarray, np.ndarray]:
    """DNs and has-data of the tile, warped by GDAL (nearest, exact transformer)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rio-tiler's NoOverviewWarning for a VRT
        with Reader(str(cube / href), tms=TMS[tms]) as src:
            img = src.tile(
                tile.x,
                tile.y,
                tile.z,
                reproject_method="nearest",
                resampling_method="nearest",
                vrt_options={"tolerance": 0.001},  # in pixels: effectively exact
            )
    return img.data[0], img.mask > 0


def _allowed_colours(spec, dn: np.ndarray) -> list[np.ndarray]:
    """For each pixel, the colours its DN may take: (n, h, w, 3) candidates."""
    if spec.colormap == "nalcms":
        legend = np.array([list(bytes.fromhex(c)) for c in NALCMS_LEGEND], dtype=np.uint8)
        classes = np.clip(dn.astype(np.int64), 1, 19) - 1
        return [legend[classes]]
    name = spec.colormap if spec.colormap in cmap.list() else "viridis"
    table = np.array([cmap.get(name)[i][:3] for i in range(256)], dtype=np.uint8)
    lo, hi = spec.display_range
    t = np.clip((dn.astype(np.float64) * spec.scale + spec.offset - lo) / (hi - lo), 0, 1)
    exact = t * 255
    out = []
    for step in (-1, 0, 1, 2):
        j = np.floor(exact).astype(np.intp) + step
        near = (j >= 0) & (j <= 255) & (np.abs(j - exact) <= 1.0 + 1e-9)
        # a candidate that is not near repeats the exact-nearest entry (always allowed)
        out.append(table[np.where(near, np.clip(j, 0, 255), np.rint(exact).astype(np.intp))])
    return out


def _matches(rgb: np.ndarray, allowed: list[np.ndarray]) -> np.ndarray:
    ok = np.zeros(rgb.shape[:2], dtype=bool)
    for colours in allowed:
        ok |= (rgb == colours).all(axis=-1)
    return ok


class Mosaic:
    """The date's mosaic of a layer at full resolution, read straight with rasterio."""

    def __init__(self, path):
        with rasterio.open(path) as ds:
            self.dn = ds.read(1)
            self.has = ds.read_masks(1) > 0
            self.transform = ds.transform
            self.crs = ds.crs

    def explains(self, spec, tms: str, tile, ys, xs, rgba) -> np.ndarray:
        """For tile pixels (ys, xs): True where the pixel centre's exact position in the
        mosaic lies within EDGE source pixels of a pixel edge and the server's pixel is
        what one of the source pixels touching there holds (colour, or no data)."""
        b = TMS[tms].xy_bounds(tile)
        px = b.left + (xs + 0.5) * (b.right - b.left) / 256
        py = b.top - (ys + 0.5) * (b.top - b.bottom) / 256
        to_src = pyproj.Transformer.from_crs(
            TMS[tms].rasterio_crs.to_wkt(), self.crs.to_wkt(), always_xy=True
        )
        sx, sy = to_src.transform(px, py)
        col, row = ~self.transform * (np.asarray(sx), np.asarray(sy))
        out = np.zeros(len(ys), dtype=bool)
        h, w = self.dn.shape
        for k in range(len(ys)):
            c, r = col[k], row[k]
            cols = {int(np.floor(c - EDGE)), int(np.floor(c + EDGE))}
            rows = {int(np.floor(r - EDGE)), int(np.floor(r + EDGE))}
            if len(cols) == len(rows) == 1:
                continue  # well inside one source pixel: no excuse
            server_has = rgba[ys[k], xs[k], 3] > 0
            for rr in rows:
                for cc in cols:
                    if not (0 <= rr < h and 0 <= cc < w) or not self.has[rr, cc]:
                        out[k] |= not server_has
                        continue
                    allowed = _allowed_colours(spec, np.array([[self.dn[rr, cc]]]))
                    out[k] |= server_has and bool(
                        _matches(rgba[ys[k], xs[k], :3][None, None], allowed)[0, 0]
                    )
        return out


def _tiles(coll, tms: str, z: int):
    return list(TMS[tms].tiles(*coll.extent_wgs84, [z]))


def _compare(h2, served, coll, layer, tms, tile, ref_dn, ref_has, mosaic, qc=""):
    """Server's tile vs the reference: (data pixels, footprint differences, colour
    differences, differences not explained by a source pixel edge)."""
    rgba = _server_rgba(h2, served.collection, layer, tms, tile, qc)
    has = rgba[..., 3] > 0
    assert (rgba[..., 3][has] == 255).all(), "data pixels are opaque"
    spec = coll.layers[layer]
    off = has != ref_has
    differ = has & ref_has & ~_matches(rgba[..., :3], _allowed_colours(spec, ref_dn))
    ys, xs = np.nonzero(off | differ)
    unexplained = 0
    if len(ys):
        unexplained = int((~mosaic.explains(spec, tms, tile, ys, xs, rgba)).sum())
    return int(ref_has.sum()), int(off.sum()), int(differ.sum()), unexplained


@pytest.mark.parametrize("tms", list(TMS))
@pytest.mark.parametrize("layer", LAYERS)
def test_tile_colours_match_reference_rendering(h2, served, layer, tms):
    coll = load(served.cube).collections[served.collection]
    assert coll.layers[layer].kind in {"continuous", "bitmask", "date", "categorical"}
    href = coll.dates[DATE].layers[layer].mosaic
    data = footprint_off = differ = unexplained = 0
    distinct = set()
    mosaic = Mosaic(served.cube / href)
    for z in (12, 13):
        tiles = _tiles(coll, tms, z)
        if z == 13:
            tiles = tiles[:: max(1, len(tiles) // 8)]  # a spread of 8 or so
        for tile in tiles:
            try:
                ref_dn, ref_has = _reference(served.cube, href, tms, tile)
            except TileOutsideBounds:  # rio-tiler refuses tiles that miss the mosaic
                rgba = _server_rgba(h2, served.collection, layer, tms, tile)
                assert not rgba[..., 3].any(), tile
                continue
            n, off, d, u = _compare(h2, served, coll, layer, tms, tile, ref_dn, ref_has, mosaic)
            data, footprint_off, differ, unexplained = (
                data + n,
                footprint_off + off,
                differ + d,
                unexplained + u,
            )
            distinct |= set(np.unique(ref_dn[ref_has]).tolist())
    assert data > 100_000, "the tiles must hold plenty of data to compare"
    assert len(distinct) > 5, "and many distinct values"
    allowed = TOLERANCE[tms]
    assert footprint_off <= allowed * data, (footprint_off, data)
    assert differ <= allowed * data, f"{differ} of {data} data pixels differ"
    assert unexplained == 0, f"{unexplained} differing pixels are not at a source pixel edge"


@pytest.mark.parametrize("tms", list(TMS))
def test_qc_valid_tile_matches_reference(h2, served, tms):
    """``?qc=valid`` shows exactly the LAI pixels whose QC (read independently) sets none
    of bits 0-2, in the same colours."""
    coll = load(served.cube).collections[served.collection]
    entry = coll.dates[DATE]
    qc_name = coll.layers["LAI"].qc_layer
    valid = Mosaic(served.cube / entry.layers["LAI"].mosaic)
    qc_mosaic = Mosaic(served.cube / entry.layers[qc_name].mosaic)
    valid.has &= qc_mosaic.has & (qc_mosaic.dn.astype(np.int64) % 8 == 0)
    hidden = data = footprint_off = differ = 0
    for tile in _tiles(coll, tms, 12):
        try:
            lai_dn, lai_has = _reference(served.cube, entry.layers["LAI"].mosaic, tms, tile)
            qc_dn, qc_has = _reference(served.cube, entry.layers[qc_name].mosaic, tms, tile)
        except TileOutsideBounds:
            continue
        flagged = (qc_dn.astype(np.int64) % 8) != 0
        ref_has = lai_has & qc_has & ~flagged
        n, off, d, u = _compare(
            h2, served, coll, "LAI", tms, tile, lai_dn, ref_has, valid, qc="valid"
        )
        assert u == 0, (tile, u)
        hidden += int((lai_has & ~ref_has).sum())
        data, footprint_off, differ = data + n, footprint_off + off, differ + d
    assert data > 50_000 and hidden > 1_000, (data, hidden)
    assert footprint_off <= TOLERANCE[tms] * data, (footprint_off, data)
    assert differ <= TOLERANCE[tms] * data, (differ, data)
