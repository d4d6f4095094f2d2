"""Deterministic, realistic LEAF exports for the demo cube and the tests, as LEAF writes them.

A 12 km square straddling the boundary of CCRS tiles 42 and 43 (x = -800,000 m in
EPSG:3979) with crops, forest, a lake, a river and bare land. LAI follows each cover's
seasonal curve; fCOVER and fAPAR follow from LAI (1 - exp(-k LAI)); QC carries cloud
and snow gaps (bit 2), out-of-domain and out-of-range flags.

The files are what Earth Engine writes for LEAF: 20 m pixels on whole multiples of
20 m from the CRS origin, no nodata value (masked = 0 in every layer), and each tile's
export overhanging its nominal square so that the two overlap by 1.6 km, each tile's
pixels outside its own (slanted) polygon being 0. 2024 is named and encoded as current
LEAF does (``tile42_2024/tile42_Aug_LAI_20m.tif``, one QC of flags only, Date as day of
year, Partition per window); 2023 as LEAF's 2023 code did (``tile42_2023_Aug_LAI_20m.tif``,
no error layers, one QC, Date in days since 1970, a yearly Partition), with one July layer
split the way Earth Engine splits large exports. ``write_month(..., version="v2022")``
writes LEAF v2022's exports (error layers, one QC per product with sensor bits, Date in
thousandths of a year since 1970). Every run writes the same bytes.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from leafcube.catalogue.products import PRODUCTS, leaf_layers
from leafcube.catalogue.qc import encode, observed_v2022

RES = 20.0
#: Top-left corner of the demo square: whole multiples of 20 m, as Earth Engine places it.
X_MIN = -806_000.0
Y_MAX = 614_920.0
SIZE = 600
#: Columns of each tile's export file: 340 px each, overlapping by 80 px (1.6 km).
TILES = {"tile42": (0, 340), "tile43": (260, SIZE)}
DEMO_YEARS: dict[int, str] = {2023: "2023", 2024: "current"}
DEMO_MONTHS: tuple[tuple[int, int], ...] = tuple((y, m) for y in DEMO_YEARS for m in range(1, 13))
#: The layer the demo splits into Earth Engine pieces (tile, year, month, layer).
SPLIT_LAYER = ("tile43", 2023, 7, "LAI")
#: Milliseconds per v2022 Date unit (a thousandth of a 365-day year).
V2022_DATE_MS = 31_536_000
#: Hour (UTC) of the demo's acquisitions (about 10:30 local solar time).
ACQUIRED_UTC_H = 17

# NALCMS classes used in the landscape
NEEDLELEAF, BROADLEAF, MIXED, GRASS, CROP, BARE, WATER = 1, 5, 6, 10, 15, 16, 18
SENTINEL2 = 21


@dataclass(frozen=True)
class Landscape:
    """Land cover and per-pixel traits that stay the same all year."""

    cover: np.ndarray  # NALCMS class
    crop_type: np.ndarray  # 0 early crop, 1 late crop, 2 fallow (real zero LAI)
    vigour: np.ndarray  # multiplies the seasonal LAI curve


def _smooth(rng: np.random.Generator, cell: int, size: int = SIZE) -> np.ndarray:
    """Smooth random field (bilinear upsampling of a coarse normal grid)."""
    coarse = rng.standard_normal((size // cell + 2, size // cell + 2))
    t = np.arange(size) / cell
    i = t.astype(int)
    f = t - i
    rows = coarse[i] * (1 - f)[:, None] + coarse[i + 1] * f[:, None]
    return rows[:, i] * (1 - f)[None, :] + rows[:, i + 1] * f[None, :]


@cache
def landscape() -> Landscape:
    """The demo's land cover: forest types, a field grid, a lake, a river and a quarry."""
    rng = np.random.default_rng(42)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    kind = _smooth(rng, 80)
    cover = np.where(kind > 0.35, NEEDLELEAF, np.where(kind < -0.35, BROADLEAF, MIXED))
    fields = (yy > 320) & (xx < 420 + (yy - 320) // 3)
    cover = np.where(fields, CROP, cover)
    field_id = (yy // 56) * 31 + (xx // 48)
    crop_type = rng.integers(0, 3, field_id.max() + 1)[field_id]
    grass = fields & (_smooth(rng, 40) > 1.0)
    cover = np.where(grass, GRASS, cover)
    cover = np.where((yy > 40) & (yy < 120) & (xx > 60) & (xx < 160), BARE, cover)
    lake = ((yy - 150) / 70.0) ** 2 + ((xx - 330) / 110.0) ** 2 < 1
    river = np.abs(xx - (480 + 40 * np.sin(yy / 60.0))) < 3
    cover = np.where(lake | river, WATER, cover).astype(np.uint8)
    vigour = np.clip(1 + 0.15 * _smooth(rng, 25), 0.6, 1.4)
    return Landscape(cover, crop_type, vigour)


def _season(doy: np.ndarray) -> np.ndarray:
    """0 in winter, 1 in summer: green-up mid-May, senescence early October."""
    return 1 / (1 + np.exp(-(doy - 135) / 9.0)) / (1 + np.exp((doy - 278) / 11.0))


def lai_curve(land: Landscape, doy: np.ndarray) -> np.ndarray:
    """Noise-free LAI of every pixel on (1-based) day of year ``doy``."""
    g = _season(doy)
    early = 5.0 * np.exp(-(((doy - 190) / 26.0) ** 2))
    late = 5.5 * np.exp(-(((doy - 218) / 24.0) ** 2))
    crop = np.choose(land.crop_type, [early, late, np.zeros_like(doy)])
    by_cover = {
        NEEDLELEAF: 2.2 + 0.9 * g,
        BROADLEAF: 0.4 + 4.6 * g,
        MIXED: 1.2 + 3.2 * g,
        GRASS: 0.3 + 2.2 * g,
        CROP: crop,
    }
    lai = np.zeros(doy.shape)
    for cls, curve in by_cover.items():
        lai = np.where(land.cover == cls, curve, lai)
    return lai * land.vigour


def _dn(value: np.ndarray, scale: float) -> np.ndarray:
    """Clamp at 0, scale and saturate at 255, as LEAF stores estimates."""
    return np.clip(np.round(np.maximum(value, 0) / scale), 0, 255).astype(np.uint8)


def month_layers(year: int, month: int) -> dict[str, np.ndarray]:
    """Every layer of one month over the whole demo square, as LEAF would export it."""
    land = landscape()
    rng = np.random.default_rng(year * 100 + month)
    first = dt.date(year, month, 1).timetuple().tm_yday
    ndays = calendar.monthrange(year, month)[1]
    s2_days = first + np.arange(2, ndays, 5)
    ls_days = first + np.arange(6, ndays, 8)
    s2_cloud = _smooth(rng, 60) > (0.9 if month in (6, 7, 8) else 0.5)
    ls_cloud = _smooth(rng, 50) > 0.3
    pick = _smooth(rng, 30)
    s2_doy = s2_days[np.clip(((pick + 2) / 4 * len(s2_days)).astype(int), 0, len(s2_days) - 1)]
    ls_doy = ls_days[np.clip(((pick + 2) / 4 * len(ls_days)).astype(int), 0, len(ls_days) - 1)]
    landsat = s2_cloud & ~ls_cloud
    sensor = np.where(landsat, 8 + (month % 2), SENTINEL2)
    doy = np.where(landsat, ls_doy, s2_doy)
    snow_frac = {12: 0.5, 1: 0.85, 2: 0.85, 3: 0.5, 11: 0.2}.get(month, 0.0)
    snow = _smooth(rng, 45) < (np.quantile(_smooth(rng, 45), snow_frac) if snow_frac else -99)
    unobserved = (_smooth(rng, 70) > 1.6) & (month in (12, 1))
    water = land.cover == WATER
    invalid = (s2_cloud & ls_cloud) | snow | water
    domain = (rng.random((SIZE, SIZE)) < 0.015) | (
        (land.cover == BARE) & (rng.random((SIZE, SIZE)) < 0.3)
    )

    raw_lai = lai_curve(land, doy.astype(float)) + rng.normal(0, 0.12, (SIZE, SIZE)) * (
        land.cover != BARE
    )
    raw_lai = np.where(land.crop_type == 2, raw_lai * (land.cover != CROP), raw_lai)
    lai = np.clip(raw_lai, 0, None)
    raw = {
        "LAI": raw_lai,
        "fCOVER": 1 - np.exp(-0.5 * lai) + rng.normal(0, 0.01, lai.shape),
        "fAPAR": 0.94 * (1 - np.exp(-0.7 * lai)) + rng.normal(0, 0.01, lai.shape),
    }
    fcover = np.clip(raw["fCOVER"], 0, 1)
    soil = np.where(land.cover == BARE, 0.27, 0.17)
    leaf = np.where(land.cover == NEEDLELEAF, 0.09, 0.16)
    raw["Albedo"] = soil * (1 - fcover) + leaf * fcover + rng.normal(0, 0.004, lai.shape)
    specs = leaf_layers(per_product_qc=True)  # LEAF's encoding of each product
    valid_range = {p: specs[p].valid_range[1] for p in PRODUCTS}
    errors = {
        "LAI": 0.2 + 0.18 * lai,
        "fCOVER": 0.04 + 0.06 * fcover,
        "fAPAR": 0.03 + 0.05 * np.clip(raw["fAPAR"], 0, 1),
        "Albedo": 0.01 + 0.03 * np.clip(raw["Albedo"], 0, 1),
    }
    scale = {p: specs[p].scale for p in PRODUCTS}

    no_data = invalid | unobserved
    out: dict[str, np.ndarray] = {}
    for p in PRODUCTS:
        out_of_range = (raw[p] < 0) | (raw[p] > valid_range[p])
        qc = encode(np.where(unobserved, 0, sensor), domain, out_of_range, invalid)
        out[f"{p}_QC"] = np.where(unobserved, 0, qc).astype(np.uint8)
        out[p] = np.where(no_data, 0, _dn(raw[p], scale[p]))
        out[f"error{p}"] = np.where(no_data, 0, _dn(errors[p], scale[p]))
    out["Date"] = np.where(no_data, 0, doy - 1).astype(np.uint16)
    return out


@cache
def footprint(tile: str) -> np.ndarray:
    """Where ``tile``'s own polygon covers the demo square (its data; 0 elsewhere in its file).

    The polygons are slanted (geodesic edges drawn in a conic projection) and widened, so
    they overlap each other by 10-50 px while each file overhangs its polygon.
    """
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    edge = 300 + 12 * np.sin(yy / 95.0) + yy / 60.0
    return (xx < edge + 20) if tile == "tile42" else (xx >= edge - 20)


def v2022_date(doy0: np.ndarray, year: int) -> np.ndarray:
    """Zero-based days of ``year`` as LEAF v2022 stored them (ms since 1970 / 31,536,000)."""
    days = (dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days + doy0.astype(np.int64)
    ms = days * 86_400_000 + ACQUIRED_UTC_H * 3_600_000
    return (ms // V2022_DATE_MS).astype(np.uint16)


def current_layers(year: int, month: int) -> dict[str, np.ndarray]:
    """One month as current LEAF exports it: products, one QC of flags, Date as day of year."""
    v = month_layers(year, month)
    out = {p: v[p] for p in PRODUCTS}
    qc = np.zeros((SIZE, SIZE), dtype=np.uint8)
    for p in PRODUCTS:
        qc |= v[f"{p}_QC"] & 0b111
    out["QC"] = qc
    out["Date"] = v["Date"]
    return out


def export_layers(year: int, month: int, version: str) -> dict[str, np.ndarray]:
    """One month's layers as LEAF ``version`` (``v2022``, ``2023``, ``current``) writes them."""
    if version == "current":
        return current_layers(year, month)
    if version == "2023":
        out = current_layers(year, month)
        days = (dt.date(year, 1, 1) - dt.date(1970, 1, 1)).days + out["Date"].astype(np.int64)
        has = observed_v2022(month_layers(year, month)["LAI_QC"])
        out["Date"] = np.where(has, days, 0).astype(np.uint16)
        return out
    out = dict(month_layers(year, month))
    out["Date"] = np.where(observed_v2022(out["LAI_QC"]), v2022_date(out["Date"], year), 0)
    return out


def write_geotiff(path: Path, data: np.ndarray, col0: int = 0, row0: int = 0) -> Path:
    """Write one layer as Earth Engine does (GeoTIFF, no nodata), from column/row offsets."""
    transform = Affine(RES, 0.0, X_MIN + col0 * RES, 0.0, -RES, Y_MAX - row0 * RES)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[1],
        height=data.shape[0],
        count=1,
        dtype=data.dtype,
        crs="EPSG:3979",
        transform=transform,
        compress="deflate",
    ) as dst:
        dst.write(data, 1)
    return path


def _tile_file(folder: Path, stem: str, tile: str, data: np.ndarray, split: bool) -> list[Path]:
    """One tile's file of a layer (0 outside its polygon), or its two Earth Engine pieces."""
    c0, c1 = TILES[tile]
    part = np.where(footprint(tile), data, 0)[:, c0:c1]
    if not split:
        return [write_geotiff(folder / f"{stem}.tif", part, c0)]
    half = SIZE // 2
    return [
        write_geotiff(folder / f"{stem}-{r0:010d}-0000000000.tif", part[r0 : r0 + half], c0, r0)
        for r0 in (0, half)
    ]


def _folder(folder: Path, tile: str, year: int, version: str) -> Path:
    """LEAF writes each tile and year to a Drive folder ``tile42_2024/`` (v2022: one folder)."""
    out = folder if version == "v2022" else folder / f"{tile}_{year}"
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_month(folder: Path, year: int, month: int, version: str | None = None) -> list[Path]:
    """Write one month's exports of both tiles into ``folder``; return their paths.

    ``version`` defaults to the demo's for that year (2023 style for 2023, else current).
    """
    version = version or DEMO_YEARS.get(year, "current")
    mon = calendar.month_abbr[month]
    layers = export_layers(year, month, version)
    if version == "current":
        layers["Partition"] = landscape().cover
    written = []
    for tile in TILES:
        out = _folder(folder, tile, year, version)
        for name, data in layers.items():
            time = mon if version == "current" else f"{year}_{mon}"
            split = (tile, year, month, name) == SPLIT_LAYER
            written += _tile_file(out, f"{tile}_{time}_{name}_20m", tile, data, split)
    return written


def write_partition(folder: Path, year: int) -> list[Path]:
    """Write the yearly land-cover Partition of each tile (before current LEAF, which
    writes one per window with the month's files). ``{tile}`` in ``folder`` is replaced."""
    cover = landscape().cover
    written = []
    for tile in TILES:
        out = Path(str(folder).replace("{tile}", tile))
        out.mkdir(parents=True, exist_ok=True)
        written += _tile_file(out, f"{tile}_{year}_Partition_20m", tile, cover, False)
    return written


def make_exports(folder: Path, months: Sequence[tuple[int, int]] = DEMO_MONTHS) -> Path:
    """Write the demo's LEAF exports for ``months`` (2023 in LEAF's 2023 style, 2024 as
    current LEAF) into ``folder``."""
    folder = Path(folder)
    for year in sorted({y for y, _ in months}):
        if DEMO_YEARS.get(year, "current") != "current":
            write_partition(folder / f"{{tile}}_{year}", year)
    for year, month in months:
        write_month(folder, year, month)
    return folder
