"""The catalogue's JSON form round-trips and the schema rejects what it should."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from leafcube.catalogue import (
    CatalogueError,
    dumps,
    load,
    parse,
    save,
    validate,
)
from leafcube.catalogue.products import EXPORT_DTYPES, NODATA, PRODUCTS, QC_BITS, leaf_layers


def test_round_trip_is_exact(tmp_path, small_catalogue):
    cat = small_catalogue
    assert save(cat, tmp_path) is True
    again = load(tmp_path)
    assert again.to_dict() == cat.to_dict()
    assert dumps(again) == (tmp_path / "catalogue.json").read_bytes()


def test_save_skips_unchanged_content(tmp_path, small_catalogue):
    cat = small_catalogue
    save(cat, tmp_path)
    path = tmp_path / "catalogue.json"
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    assert save(load(tmp_path), tmp_path) is False
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_an_invalid_catalogue_is_neither_written_nor_stamped(tmp_path, small_catalogue):
    cat = small_catalogue
    cat.collections["Not A Name"] = next(iter(cat.collections.values()))
    stamp = cat.updated
    with pytest.raises(ValueError):
        save(cat, tmp_path)
    assert cat.updated == stamp and list(tmp_path.iterdir()) == []  # no part either


def test_leaf_layers_encodings():
    layers = leaf_layers(per_product_qc=True)
    assert list(layers)[:4] == list(PRODUCTS)
    assert layers["LAI"].scale == pytest.approx(0.05)
    assert layers["fCOVER"].scale == pytest.approx(0.005)
    assert layers["LAI"].qc_layer == "LAI_QC" and layers["errorAlbedo"].qc_layer == "Albedo_QC"
    assert layers["Date"].dtype == "int16" and layers["Date"].nodata == NODATA == -9999
    assert layers["LAI"].dtype == "int16" and layers["Partition"].nodata == 0
    assert layers["Partition"].dtype == "uint8"
    for spec in layers.values():  # every DN LEAF exports fits the stored type, nodata too
        info = np.iinfo(spec.dtype)
        assert spec.nodata is not None and info.min <= spec.nodata <= info.max
        assert info.min <= 0 and max(spec.valid_range) <= info.max
        assert spec.nodata < 0 or spec.kind == "categorical"
        export = np.iinfo(EXPORT_DTYPES[spec.kind])
        assert export.max <= info.max or spec.kind == "date"  # days 0-365 fit int16
    assert layers["LAI_QC"].bits == QC_BITS
    single = leaf_layers(per_product_qc=False)
    assert "QC" in single and "LAI_QC" not in single and single["fAPAR"].qc_layer == "QC"


#: Where a date's LAI files stand in a format 1.0 document.
DATE_LAI = ("collections", "leaf-s2-20m-monthly", "dates", "2023-08-01", "layers", "LAI")


@pytest.mark.parametrize(
    "path, value, where",
    [
        (("leafcube",), "3.0", "leafcube"),
        (("collections", "leaf-s2-20m-monthly", "crs"), "3979", "crs"),
        (("collections", "leaf-s2-20m-monthly", "layers", "LAI", "mask"), "maybe", "mask"),
        ((*DATE_LAI, "mosaic"), "../outside.vrt", "mosaic"),
        ((*DATE_LAI, "tiles", "tile42", "href"), "https://elsewhere/x.tif", "href"),
    ],
)
def test_schema_rejects_broken_documents(path, value, where, small_catalogue):
    # a format 1.0 root, dates inline: what the schema still reads (and ingest upgrades)
    coll = small_catalogue.collections["leaf-s2-20m-monthly"]
    doc = copy.deepcopy(small_catalogue.to_dict()) | {"leafcube": "1.0"}
    doc["collections"][coll.name] = {
        k: v for k, v in doc["collections"][coll.name].items() if k not in ("partition", "parts")
    } | {"dates": coll.dates_dict(list(coll.dates))}
    validate(doc)
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(CatalogueError, match=where):
        validate(doc)


def test_schema_requires_qc_layer_for_qc_mask(tmp_path, small_catalogue):
    save(small_catalogue, tmp_path)
    doc = small_catalogue.to_dict()
    del doc["collections"]["leaf-s2-20m-monthly"]["layers"]["LAI"]["qc_layer"]
    with pytest.raises(CatalogueError):
        validate(doc)


def test_parse_errors_are_one_line():
    with pytest.raises(CatalogueError, match="not JSON"):
        parse(b"{not json")
    with pytest.raises(CatalogueError, match="run `leafcube ingest` first"):
        load("/nonexistent/cube")
