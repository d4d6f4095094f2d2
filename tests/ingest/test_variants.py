"""Every LEAF export variant, written as Earth Engine writes it, ingested and read back
pixel for pixel against the scene's own truth (tests/ingest/ee.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import rasterio

from leafcube.catalogue import load
from leafcube.client import Cube
from tests.ingest import ee

SHAPE = (48, 64)
#: Earth Engine's lattice: whole multiples of 20 m and 30 m from the CRS origin. The file
#: overhangs tile42's nominal square (x <= -800,000) and is off the old CCRS anchor.
LEFT, TOP = -801_000.0, 614_940.0


@dataclass(frozen=True)
class Variant:
    """One way LEAF names and encodes a region's period, and where the cube files it."""

    version: str  # how the layers are encoded (tests/ingest/ee.py)
    folder: str
    stem: str  # the name before ``_{layer}_{res}m``
    collection: str
    key: str
    year: int
    month: int
    res: float = 20.0
    crs: str = "EPSG:3979"
    date_encoding: str | None = None
    partition: str | None = None  # the Partition file's stem, if any
    compact: str | None = None  # dtype of the compact export
    split: bool = False
    extra: dict = field(default_factory=dict)


VARIANTS = {
    "current-monthly": Variant(
        "current",
        "tile42_2024",
        "tile42_Aug",
        "leaf-s2-20m-monthly",
        "2024-08-01",
        2024,
        8,
        date_encoding="day of year",
        partition="tile42_Aug",
    ),
    "current-season-split": Variant(
        "current",
        "tile42_2024",
        "tile42_season",
        "leaf-s2-20m-peak",
        "2024-06-15",
        2024,
        7,
        date_encoding="day of year",
        partition="tile42_season",
        split=True,
    ),
    "current-custom": Variant(
        "current",
        "exports",
        "farm_2024-05-03_2024-05-28",
        "leaf-s2-20m-custom",
        "2024-05-03",
        2024,
        5,
        date_encoding="day of year",
    ),
    "2023-sensor-token": Variant(
        "2023",
        "tile42_2023",
        "tile42_S2_2023_Nov",
        "leaf-s2-20m-monthly",
        "2023-11-01",
        2023,
        11,
        date_encoding="days since 1970-01-01",
        partition="tile42_2023",
    ),
    "2023": Variant(
        "2023",
        "tile42_2023",
        "tile42_2023_Aug",
        "leaf-s2-20m-monthly",
        "2023-08-01",
        2023,
        8,
        date_encoding="days since 1970-01-01",
    ),
    "v2022-monthly": Variant(
        "v2022",
        "tile42_2022",
        "tile42_2022_Aug",
        "leaf-s2-20m-monthly-v2022",
        "2022-08-01",
        2022,
        8,
        date_encoding="thousandths of a 365-day year since 1970-01-01",
        partition="tile42_2022",
    ),
    "v2022-peak-mone": Variant(
        "v2022",
        "tile42_2022",
        "tile42_2022",
        "leaf-s2-20m-peak-v2022",
        "2022-06-15",
        2022,
        7,
        date_encoding="thousandths of a 365-day year since 1970-01-01",
    ),
    **{
        f"compact-{dtype}": Variant(
            "compact",
            "tile42_2024",
            "tile42_2024_Aug",
            "leaf-s2-20m-monthly",
            "2024-08-01",
            2024,
            8,
            compact=dtype,
        )
        for dtype in ("int64", "float64")
    },
    "utm-30m": Variant(
        "current",
        "tile42_2024",
        "tile42_Aug",
        "leaf-landsat-30m-monthly-epsg32614",
        "2024-08-01",
        2024,
        8,
        res=30.0,
        crs="EPSG:32614",
        date_encoding="day of year",
    ),
}


def write_variant(v: Variant, root: Path, seed: int = 7) -> ee.Scene:
    """Write the variant's files under ``root/v.folder``; return the scene's truth."""
    s = ee.scene(seed, SHAPE, v.year, v.month)
    folder = root / v.folder
    res = f"{round(v.res)}m"
    kw = {"res": v.res, "crs": v.crs}
    if v.compact:
        ee.write(
            folder / f"{v.stem}_bioParams_QC_{res}.tif", ee.compact(s, v.compact), LEFT, TOP, **kw
        )
        return s
    for name, data in ee.layers(s, v.version).items():
        if name == "Date" and v.stem == "tile42_2022":  # v2022 peak season: "Mone" Date
            name = "Mone_Date"
        stem = f"{v.stem}_{name}_{res}"
        if v.split and name == "LAI":
            ee.write_pieces(folder, stem, data, LEFT, TOP, rows=20, **kw)
        else:
            ee.write(folder / f"{stem}.tif", data, LEFT, TOP, **kw)
    if v.partition:
        ee.write(folder / f"{v.partition}_Partition_{res}.tif", s.partition, LEFT, TOP, **kw)
    return s


def expected(s: ee.Scene, v: Variant) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per cube layer: the DNs it must hold and where it holds data (independent truth)."""
    has = s.has
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {p: (s.dn[p], has) for p in ee.PRODUCTS}
    if v.compact:
        out["QC"] = (ee.single_qc(s), s.observed)
        return out
    if v.version == "v2022":
        out |= {f"error{p}": (s.dn[f"error{p}"], has) for p in ee.PRODUCTS}
        out |= {f"{p}_QC": (ee.v2022_qc(s, p), s.observed) for p in ee.PRODUCTS}
    else:
        out["QC"] = (ee.single_qc(s), s.observed)
    out["Date"] = (s.doy0, has)
    if v.partition:
        out["Partition"] = (s.partition, s.partition != 0)
    return out


def _check_cogs(cube: Path, v: Variant, truth: dict, tile: str = "tile42") -> None:
    cat = load(cube, check=True)
    coll = cat.collections[v.collection]
    assert coll.crs == v.crs and coll.resolution == v.res
    entry = coll.dates[v.key]
    assert set(entry.layers) == set(truth), sorted(entry.layers)
    for name, (dn, has) in truth.items():
        tf = entry.layers[name].tiles[tile]
        assert tf.bbox == (LEFT, TOP - SHAPE[0] * v.res, LEFT + SHAPE[1] * v.res, TOP)
        with rasterio.open(cube / tf.href) as src:
            data, mask = src.read(1), src.read_masks(1) > 0
        np.testing.assert_array_equal(mask, has, err_msg=f"{v} {name}: mask")
        np.testing.assert_array_equal(data[has], dn[has], err_msg=f"{v} {name}: values")
        if name == "Date":
            assert dict(tf.source)["date_encoding"] == v.date_encoding
        assert dict(tf.source)["leaf"] == v.version


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_ingested_pixel_for_pixel(name, tmp_path, run_ingest):
    v = VARIANTS[name]
    s = write_variant(v, tmp_path / "drive")
    cube = tmp_path / "cube"
    out = run_ingest(tmp_path / "drive", "--cube", cube)
    assert out.returncode == 0, out.stderr
    truth = expected(s, v)
    _check_cogs(cube, v, truth, tile=v.stem.split("_")[0])

    # the client (local mode) gives the same pixels, real zeros kept and no data masked
    bbox = (LEFT, TOP - SHAPE[0] * v.res, LEFT + SHAPE[1] * v.res, TOP)
    res = Cube(str(cube)).extract(
        ["LAI", "QC" if "QC" in truth else "LAI_QC"],
        bbox,
        start=v.key,
        end=v.key,
        qc="data",
        collection=v.collection,
        roi_crs=v.crs,
    )
    for layer in res:
        got = res[layer][v.key]
        dn, has = truth[layer]
        scale = 1 / 20 if layer == "LAI" else 1.0
        np.testing.assert_array_equal(~got.mask, has)
        np.testing.assert_allclose(got.data[has], dn[has].astype(np.float32) * np.float32(scale))
    assert (res["LAI"][v.key].data[~res["LAI"][v.key].mask] == 0).any()  # real zeros


def test_rerun_of_variants_changes_nothing(tmp_path, run_ingest, snapshot):
    for i, name in enumerate(("current-monthly", "v2022-monthly", "2023-sensor-token")):
        write_variant(VARIANTS[name], tmp_path / "drive", seed=i)
    cube = tmp_path / "cube"
    assert run_ingest(tmp_path / "drive", "--cube", cube).returncode == 0
    before = snapshot(cube)
    again = run_ingest(tmp_path / "drive", "--cube", cube)
    assert again.returncode == 0 and "0 COG(s) written" in again.stderr
    assert snapshot(cube) == before
