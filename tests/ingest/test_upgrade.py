"""A cube written before the int16 + nodata encoding (LEAF's uint8 DNs and an internal mask
band) is brought to the current encoding by the next ingest, from its own COGs, and ends up
pixel for pixel the cube a fresh ingest of the exports makes."""

from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import orjson
import rasterio
from rasterio.enums import MaskFlags

from leafcube.catalogue import load, save
from leafcube.catalogue.products import EXPORT_DTYPES, NODATA
from leafcube.ingest.pipeline import ingest

COLL = "leaf-s2-20m-monthly"


def write_old_style(path, dtype: str) -> None:
    """Rewrite one COG as leafcube wrote it before: LEAF's type, no nodata, the no-data
    pixels kept as 0 behind an internal mask band."""
    with rasterio.open(path) as src:
        data, mask = src.read(1), src.read_masks(1)
        profile = src.profile | {"dtype": dtype, "nodata": None, "driver": "GTiff"}
        tags, scale, offset = src.tags(1), src.scales, src.offsets
    path.unlink()
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **profile) as dst:
        dst.write(np.where(mask > 0, data, 0).astype(dtype), 1)
        dst.write_mask(mask)
        dst.update_tags(1, **tags)
        dst.scales, dst.offsets = scale, offset


def test_an_old_cube_is_upgraded_losslessly(demo_cube, demo_exports, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(demo_cube, old)
    cat = load(old)
    coll = cat.collections[COLL]
    rewritten = 0
    for entry in coll.sorted_dates():
        for name, files in entry.layers.items():
            spec = coll.layers[name]
            if spec.nodata != NODATA:
                continue
            for tile in files.tiles.values():
                write_old_style(old / tile.href, EXPORT_DTYPES[spec.kind])
                rewritten += 1
    coll.layers = {
        n: replace(s, dtype=EXPORT_DTYPES[s.kind], nodata=None) if s.nodata == NODATA else s
        for n, s in coll.layers.items()
    }
    save(cat, old)
    sample = next(iter(coll.sorted_dates()[3].layers["LAI"].tiles.values())).href
    with rasterio.open(old / sample) as s:
        assert s.mask_flag_enums[0] == [MaskFlags.per_dataset] and s.dtypes[0] == "uint8"

    one_month = sorted(p for p in demo_exports.rglob("*2024_Jun*") if p.suffix == ".tif")
    report = ingest(one_month, old, workers=1, progress=False)
    assert report.ok, report.failures
    assert report.upgraded == rewritten > 100

    got, want = load(old).collections[COLL], load(demo_cube).collections[COLL]
    assert got.layers == want.layers
    for entry in want.sorted_dates():
        for files in entry.layers.values():
            for tile in files.tiles.values():
                with rasterio.open(old / tile.href) as a, rasterio.open(demo_cube / tile.href) as b:
                    assert (a.dtypes, a.nodata) == (b.dtypes, b.nodata), tile.href
                    assert np.array_equal(a.read(1), b.read(1)), tile.href
            vrt = (old / files.mosaic).read_text()
            assert vrt == (demo_cube / files.mosaic).read_text()

    again = ingest(one_month, old, workers=1, progress=False)
    assert again.upgraded == 0 and again.ok


def test_a_format_1_catalogue_becomes_root_and_parts_on_the_next_ingest(
    cube_copy, demo_exports, run_ingest
):
    """Cubes of catalogue format 1.0 (every date inline in catalogue.json) are rewritten as
    a root and yearly parts by the next ingest, even one that adds nothing."""
    whole = load(cube_copy)
    doc = whole.to_dict() | {"leafcube": "1.0"}
    for name, coll in whole.collections.items():
        body = {
            k: v for k, v in doc["collections"][name].items() if k not in ("partition", "parts")
        }
        doc["collections"][name] = body | {"dates": coll.dates_dict(list(coll.dates))}
    shutil.rmtree(cube_copy / "catalogue")
    (cube_copy / "catalogue.json").write_bytes(orjson.dumps(doc))
    assert sorted(load(cube_copy).collections[COLL].dates) == sorted(whole.collections[COLL].dates)

    out = run_ingest(demo_exports, "--cube", cube_copy)
    assert out.returncode == 0, out.stderr
    assert "catalogue unchanged" not in out.stderr
    root = orjson.loads((cube_copy / "catalogue.json").read_bytes())
    coll = root["collections"][COLL]
    assert root["leafcube"] == "2.0" and "dates" not in coll
    assert list(coll["parts"]) == ["2023", "2024"]
    assert all((cube_copy / p["href"]).is_file() for p in coll["parts"].values())
    again = load(cube_copy)
    again.updated = whole.updated
    assert again.to_dict() == whole.to_dict()
