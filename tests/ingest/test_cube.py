"""What one ingest of the demo exports writes: COGs, masks, mosaics, catalogue and views."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
import rasterio
from rio_cogeo.cogeo import cog_validate

from leafcube.catalogue import load
from leafcube.catalogue.grid import BLOCK
from leafcube.catalogue.products import NODATA, leaf_layers
from leafcube.ingest.demo import (
    SPLIT_LAYER,
    TILES,
    current_layers,
    footprint,
    landscape,
    month_layers,
)
from leafcube.ingest.mosaic import overview_factors
from leafcube.ingest.names import parse_name

COLL = "leaf-s2-20m-monthly"


def _cogs(cube: Path) -> list[Path]:
    return sorted(p for p in cube.rglob("*.tif") if ".leafcube" not in p.parts)


def test_layout_and_catalogue_valid(demo_cube):
    cat = load(demo_cube, check=True)  # validates against the JSON Schema
    coll = cat.collections[COLL]
    assert list(coll.layers) == ["LAI", "fCOVER", "fAPAR", "Albedo", "QC", "Date", "Partition"]
    assert len(coll.dates) == 24
    for key, entry in coll.dates.items():
        assert set(entry.layers) == set(coll.layers)
        for name, files in entry.layers.items():
            assert (demo_cube / files.mosaic).is_file()
            assert set(files.tiles) == set(TILES)
            for tile, tf in files.tiles.items():
                if name == "Partition" and key < "2024":  # yearly before current LEAF
                    assert tf.href == f"{COLL}/partition/2023/{tile}/Partition.tif"
                else:
                    assert tf.href == f"{COLL}/{key}/{tile}/{name}.tif"
                assert (demo_cube / tf.href).is_file()
    assert cat.views == {
        f"gomez/{COLL}": f"gomez/{COLL}.json",
        f"gomez/{COLL}/index": f"gomez/{COLL}/index.json",
        "stac": "stac/catalog.json",
    }
    assert coll.extent == (-806000.0, 602920.0, -794000.0, 614920.0)
    assert coll.origin == (0.0, 0.0)  # Earth Engine's lattice, read from the files


def test_every_cog_is_valid(demo_cube):
    cogs = _cogs(demo_cube)
    assert len(cogs) == 24 * 6 * 2 + 12 * 2 + 2
    for path in cogs:
        valid, errors, _ = cog_validate(str(path), strict=True)
        assert valid, (path, errors)
    one = cogs[0]
    out = subprocess.run(
        [str(Path(sys.executable).parent / "rio"), "cogeo", "validate", str(one)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "is a valid cloud optimized GeoTIFF" in out.stdout
    with rasterio.open(one) as src:
        assert src.block_shapes[0] == (BLOCK, BLOCK) == (256, 256)
        assert src.overviews(1) == overview_factors(src.shape) == [2, 4]  # 600 x 340 px
        assert src.compression.name in ("zstd", "deflate")


def test_decoded_values_equal_source_dn_times_scale(demo_cube, demo_exports):
    specs = leaf_layers(per_product_qc=False)
    sources = [p for p in sorted(demo_exports.rglob("*.tif")) if not parse_name(p).piece]
    assert len(sources) > 300
    for src_path in sources:
        exp = parse_name(src_path)
        spec = specs[exp.layer]
        cog = demo_cube / COLL / exp.key / exp.region / f"{exp.layer}.tif"
        with rasterio.open(src_path) as s, rasterio.open(cog) as c:
            dn = s.read(1).astype(np.int64)
            assert c.bounds == s.bounds and c.dtypes[0] == spec.dtype
            assert c.scales[0] == spec.scale and c.offsets[0] == spec.offset
            assert c.descriptions[0] == exp.layer and c.units[0] == spec.unit
            if exp.layer == "Date" and exp.start.year == 2023:  # days since 1970 -> day of year
                dn = np.where(dn == 0, 0, dn - (dt.date(2023, 1, 1) - dt.date(1970, 1, 1)).days)
            stored = c.read(1)
            kept = stored != spec.nodata  # masked pixels hold the nodata DN, nothing else
            assert c.nodata == spec.nodata and (c.read_masks(1) > 0).tolist() == kept.tolist()
            decoded = stored * c.scales[0] + c.offsets[0]
            np.testing.assert_array_equal(decoded[kept], (dn * spec.scale + spec.offset)[kept])


def _truth(key: str, tile: str | None) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """The demo's own layers of a month (current encoding), where they hold an estimate and
    where they were observed, on a tile's file (or the whole square for None)."""
    year, month = int(key[:4]), int(key[5:7])
    full = month_layers(year, month)
    sensor = full["LAI_QC"] >> 3  # the generator's record of what was observed
    observed = sensor != 0
    has = observed & ((full["LAI_QC"] & 4) == 0)
    inside = (footprint("tile42") | footprint("tile43")) if tile is None else footprint(tile)
    cols = slice(None) if tile is None else slice(*TILES[tile])
    month_files = current_layers(year, month) | {"Partition": landscape().cover}
    layers = {k: np.where(inside, v, 0)[:, cols] for k, v in month_files.items()}
    return layers, (has & inside)[:, cols], (observed & inside)[:, cols]


def test_overviews_average_continuous_and_nearest_bitmask(demo_cube):
    base = demo_cube / COLL / "2024-07-01" / "tile42"
    with rasterio.open(base / "QC.tif") as qc:
        full, ov = qc.read(1), qc.read(1, out_shape=(300, 170))
    assert set(np.unique(ov)) <= set(np.unique(full))  # nearest never invents QC codes
    with rasterio.open(base / "Date.tif") as d:
        full, ov = d.read(1), d.read(1, out_shape=(300, 170))
    assert set(np.unique(ov)) <= set(np.unique(full))
    with rasterio.open(base / "LAI.tif") as lai:
        full, ov = lai.read(1).astype(float), lai.read(1, out_shape=(300, 170))
        valid = lai.dataset_mask() > 0
    assert not np.array_equal(ov, full[::2, ::2])  # averaged, not decimated
    blocks, keep = full.reshape(300, 2, 170, 2), valid.reshape(300, 2, 170, 2)
    count = keep.sum(axis=(1, 3))
    mean_of_data = (blocks * keep).sum(axis=(1, 3)) / np.maximum(count, 1)
    mixed = (count > 0) & (count < 4)  # blocks where some pixels are no data
    assert mixed.sum() > 50
    assert np.abs(ov[mixed] - mean_of_data[mixed]).max() <= 1  # no-data zeros left out


@pytest.mark.parametrize("key", ["2023-05-01", "2024-05-01", "2024-01-01"])
def test_mask_rule_zero_lai_stays_data_no_data_is_masked(demo_cube, key):
    """2023 and current QC has no sensor bits and clear = 0: the other layers decide."""
    for tile in TILES:
        base = demo_cube / COLL / key / tile
        _, has, observed = _truth(key, tile)
        with rasterio.open(base / "LAI.tif") as s:
            lai, mask = s.read(1), s.dataset_mask() == 255
            # no data is a GDAL nodata value every client sees, not a mask band
            assert s.mask_flag_enums[0] == [rasterio.enums.MaskFlags.nodata]
            assert s.nodata == NODATA and np.array_equal(lai == NODATA, ~mask)
        zero_and_data = (lai == 0) & has
        assert zero_and_data.sum() > 500  # bare land and fallow fields: a real zero LAI
        assert (~has).sum() > 1000
        np.testing.assert_array_equal(mask, has)
        for name in ("fCOVER", "Date"):
            with rasterio.open(base / f"{name}.tif") as d:
                np.testing.assert_array_equal(d.dataset_mask() == 255, has)
        with rasterio.open(base / "QC.tif") as q:  # clouds are QC data, never-observed not
            qc, qc_mask = q.read(1), q.dataset_mask() == 255
        np.testing.assert_array_equal(qc_mask, observed)
        assert ((qc == 0) & has).sum() > 1000  # a clear estimate: QC 0 and data
        assert ((qc & 4) != 0).any() and not mask[(qc & 4) != 0].any()
    with rasterio.open(demo_cube / COLL / "partition/2023/tile42/Partition.tif") as p:
        assert p.nodata == 0


@pytest.mark.parametrize("layer", ["LAI", "QC", "Date", "Partition"])
def test_mosaic_vrt_takes_each_pixel_from_a_tile_with_data(demo_cube, layer):
    vrt = demo_cube / COLL / "2024-05-01" / f"{layer}.vrt"
    text = vrt.read_text()
    assert f'relativeToVRT="1">tile42/{layer}.tif<' in text and str(demo_cube) not in text
    with rasterio.open(vrt) as m:
        assert m.shape == (600, 600)
        mosaic, mask = m.read(1), m.dataset_mask() == 255
    layers, has, observed = _truth("2024-05-01", None)
    if layer == "Partition":
        has = layers["Partition"] != 0
    elif layer == "QC":
        has = observed
    np.testing.assert_array_equal(mask, has)
    np.testing.assert_array_equal(mosaic[has], layers[layer][has])
    assert (mosaic[~has] == (0 if layer == "Partition" else NODATA)).all()
    overlap = slice(TILES["tile43"][0], TILES["tile42"][1])
    assert has[:, overlap].mean() > 0.5  # the tiles' overlap is served from both
    out = subprocess.run(["gdalinfo", "-checksum", str(vrt)], capture_output=True, text=True)
    flags = "NoData Value=0" if layer == "Partition" else f"NoData Value={NODATA}"
    assert out.returncode == 0 and flags in out.stdout


def test_split_pieces_are_stitched_into_one_layer(demo_cube, demo_exports):
    tile, year, month, layer = SPLIT_LAYER
    pieces = sorted(demo_exports.rglob(f"{tile}_{year}_Jul_{layer}_20m-*.tif"))
    assert len(pieces) == 2
    c0, c1 = TILES[tile]
    expected = np.where(footprint(tile), month_layers(year, month)[layer], 0)[:, c0:c1]
    with rasterio.open(demo_cube / COLL / f"{year}-07-01" / tile / f"{layer}.tif") as c:
        assert c.shape == (600, 340)
        got, kept = c.read(1), c.read_masks(1) > 0
    np.testing.assert_array_equal(got[kept], expected[kept])
    assert kept.mean() > 0.5 and (got[~kept] == NODATA).all()
    assert (expected[~footprint(tile)[:, c0:c1]] == 0).all() and not kept[
        ~footprint(tile)[:, c0:c1]
    ].any()  # outside the export's footprint: no data, from both pieces


def test_gomez_view_shape(demo_cube):
    view = orjson.loads((demo_cube / "gomez" / f"{COLL}.json").read_bytes())
    assert list(view) == sorted(view) and len(view) == 24
    order = list(load(demo_cube).collections[COLL].layers)
    for date, urls in view.items():
        assert len(urls) == len(order)
        for name, url in zip(order, urls, strict=True):
            assert url.endswith(f"/{name}.vrt") and not url.startswith("/")
            assert (demo_cube / url).is_file()
            assert date in url or name == "Partition"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_stac_is_valid_offline(demo_cube):
    """stac-validator on core schemas (pystac ships them; the machine is offline)."""
    from stac_validator.validate import StacValidate

    from tests.stac.schemas import offline_schema_map

    schema_map = offline_schema_map()
    stac = demo_cube / "stac"
    years = ("2023", "2024")
    files = [
        stac / "catalog.json",
        stac / COLL / "collection.json",
        *(stac / COLL / y / "catalog.json" for y in years),
        *sorted((stac / COLL / "items").glob("*.json")),
    ]
    assert len(files) == 2 + 2 + 48
    for f in files:
        v = StacValidate(str(f), core=True, schema_map=schema_map)
        assert v.run(), (f, v.message)
    for y in years:
        fc = StacValidate(
            str(stac / COLL / y / "items.json"),
            core=True,
            item_collection=True,
            schema_map=schema_map,
        )
        fc.validate_item_collection()
        assert len(fc.message) == 24 and all(m["valid_stac"] for m in fc.message), fc.message
    # extension fields (their schemas are online only; checked here by hand)
    item = orjson.loads((stac / COLL / "items" / "2023-08-01_tile43.json").read_bytes())
    assert item["properties"]["proj:code"] == "EPSG:3979"
    assert item["properties"]["proj:shape"] == [600, 340]
    assert item["properties"]["proj:transform"][:6] == [20.0, 0.0, -800800.0, 0.0, -20.0, 614920.0]
    asset = item["assets"]["LAI"]
    assert asset["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
    assert asset["raster:bands"] == [
        {"data_type": "int16", "nodata": NODATA, "scale": 0.05, "offset": 0.0, "unit": "m2 m-2"}
    ]
    assert item["assets"]["Partition"]["raster:bands"][0]["nodata"] == 0
    assert (stac / COLL / "items" / asset["href"]).resolve() == (
        demo_cube / COLL / "2023-08-01" / "tile43" / "LAI.tif"
    ).resolve()
    coll = orjson.loads((stac / COLL / "collection.json").read_bytes())
    assert set(coll["item_assets"]) == set(load(demo_cube).collections[COLL].layers)
    assert coll["cube:dimensions"]["time"]["extent"] == [
        "2023-01-01T00:00:00Z",
        "2024-12-31T23:59:59Z",
    ]
    children = [lk["href"] for lk in coll["links"] if lk["rel"] == "child"]
    assert children == [f"{y}/catalog.json" for y in years]
    fc = orjson.loads((stac / COLL / "2024" / "items.json").read_bytes())
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 24
    first = fc["features"][0]["assets"]["LAI"]["href"]
    assert (stac / COLL / "2024" / first).is_file()
