"""A small hand-made catalogue for the contract's tests."""

from __future__ import annotations

import datetime as dt

import pytest

from leafcube.catalogue import Catalogue, Collection, DateEntry, LayerFiles, TileFile
from leafcube.catalogue.products import leaf_layers


@pytest.fixture
def small_catalogue() -> Catalogue:
    layers = leaf_layers(per_product_qc=True)
    entry = DateEntry(dt.date(2023, 8, 1), dt.date(2023, 8, 31))
    for name in layers:
        entry.layers[name] = LayerFiles(
            mosaic=f"c/2023-08-01/{name}.vrt",
            tiles={"tile42": TileFile(f"c/2023-08-01/tile42/{name}.tif", (0, 0, 20, 20), (1, 1))},
        )
    coll = Collection(
        "leaf-s2-20m-monthly",
        "LEAF",
        "test",
        "EPSG:3979",
        20.0,
        (0.0, 0.0),
        layers,
        {entry.key: entry},
        (0, 0, 20, 20),
        (-100, 40, -99, 41),
    )
    return Catalogue({coll.name: coll}, views={"stac": "stac/catalog.json"})
