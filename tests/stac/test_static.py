"""The static STAC that ingest writes: relative and self-contained without a base URL,
absolute with ``self`` links with one (as published on plain nginx), and in both what the
STAC tools need (datetime, proj:epsg, raster bands from the layer specs)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pystac
import pytest
import stackstac

from leafcube.catalogue import load, load_root
from leafcube.catalogue.stac import static_documents
from tests.stac.conftest import AREA

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
COLL = "leaf-s2-20m-monthly"


def hrefs(obj: Any) -> list[str]:
    """Every ``href`` in a JSON document."""
    if isinstance(obj, dict):
        return [v for k, v in obj.items() if k == "href"] + [
            h for v in obj.values() for h in hrefs(v)
        ]
    if isinstance(obj, list):
        return [h for v in obj for h in hrefs(v)]
    return []


def part_features(cube: Path) -> list[dict[str, Any]]:
    """The features of every part's ``items.json``, part after part."""
    parts = load_root(cube).collections[COLL].parts
    return [
        f
        for key in sorted(parts)
        for f in json.loads((cube / "stac" / COLL / key / "items.json").read_text())["features"]
    ]


def test_every_item_carries_what_stac_tools_need(demo_cube):
    coll = load(demo_cube).collections[COLL]
    features = part_features(demo_cube)
    assert len(features) == 48
    for f in features:
        p = f["properties"]
        entry = coll.dates[p["start_datetime"][:10]]
        assert p["datetime"] == p["start_datetime"] == f"{entry.start}T00:00:00Z"
        assert p["end_datetime"] == f"{entry.end}T23:59:59Z"
        assert p["proj:epsg"] == 3979 and p["proj:code"] == "EPSG:3979"
        assert set(f["assets"]) == set(entry.layers)
        for name, asset in f["assets"].items():
            spec = coll.layers[name]
            band = asset["raster:bands"][0]
            assert band == {
                "data_type": spec.dtype,
                "nodata": spec.nodata,
                "scale": spec.scale,
                "offset": spec.offset,
                "unit": spec.unit,
            }
    lai = coll.layers["LAI"]
    assert lai.dtype == "int16" and lai.nodata == -9999
    assert coll.layers["Partition"].nodata == 0


def test_without_a_base_url_the_catalogue_is_relative_and_walks(demo_cube):
    stac = demo_cube / "stac"
    for path in stac.rglob("*.json"):
        doc = json.loads(path.read_text())
        for h in hrefs(doc):
            assert "://" not in h and not h.startswith("/"), (path, h)
            assert (path.parent / h).resolve().is_file(), (path, h)
        assert all(lk["rel"] != "self" for lk in doc.get("links", [])), path
    cat = pystac.Catalog.from_file(str(stac / "catalog.json"))
    items = list(cat.get_items(recursive=True))
    assert len(items) == 48
    href = items[0].assets["LAI"].get_absolute_href()
    assert href and Path(href).is_file() and Path(href).is_relative_to(demo_cube.resolve())


def test_static_documents_are_pure_and_absolute_under_a_base_url(demo_cube):
    cat = load(demo_cube)
    base = "https://leaf.example.org/cube"
    docs = static_documents(cat, base)
    assert docs == static_documents(cat, base)  # the same catalogue, the same documents
    for path, doc in docs.items():
        assert all(h.startswith(base + "/") for h in hrefs(doc)), path
        selfs = [lk["href"] for lk in doc.get("links", []) if lk["rel"] == "self"]
        assert selfs == [f"{base}/{path}"], path
    # the relative form is what ingest wrote without a base URL
    for path, doc in static_documents(cat).items():
        assert json.loads((demo_cube / path).read_text()) == doc, path


def test_published_items_json_resolves_over_http(published):
    parts = load_root(published.folder).collections[COLL].parts
    ics = [
        pystac.ItemCollection.from_file(f"{published.url}/stac/{COLL}/{k}/items.json")
        for k in parts
    ]
    assert [len(ic) for ic in ics] == [24, 24]  # the demo's two years
    for item in (it for ic in ics for it in ic):
        key, tile = item.id[len(COLL) + 1 :].rsplit("-", 1)
        assert item.get_self_href() == f"{published.url}/stac/{COLL}/items/{key}_{tile}.json"
        for asset in item.assets.values():
            assert asset.get_absolute_href().startswith(f"{published.url}/{COLL}/")
    first = ics[0].items[0]
    assert httpx.head(first.assets["LAI"].get_absolute_href()).status_code == 200
    assert httpx.get(first.get_self_href()).json()["id"] == first.id
    root = pystac.Catalog.from_file(f"{published.url}/stac/catalog.json")
    assert len(list(root.get_items(recursive=True))) == 48


def test_stackstac_finds_the_crs_in_the_json_itself(published, expected):
    """Given the features as JSON (no pystac in between), stackstac reads ``proj:epsg``."""
    feats = httpx.get(f"{published.url}/stac/{COLL}/2023/items.json").json()["features"]
    one = [f for f in feats if f["id"] == f"{COLL}-2023-08-01-tile42"]
    da = stackstac.stack(one, assets=["LAI"], resolution=20, bounds=AREA)
    assert da.attrs["crs"] == "epsg:3979"
    got = da.sel(band="LAI").compute().values[0]
    want = expected.lai["2023-08-01"]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], atol=1e-6)


def test_gdal_stacit_opens_the_published_items_json(published):
    url = f"{published.url}/stac/{COLL}/2023/items.json"
    out = subprocess.run(
        ["gdalinfo", f'STACIT:"{url}":asset=LAI'], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "NoData Value=-9999" in out.stdout and "Size is 600, 600" in out.stdout
    assert "Origin = (-806000.000000000000000,614920.000000000000000)" in out.stdout
