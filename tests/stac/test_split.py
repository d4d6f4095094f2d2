"""The STAC and GomezEngine views split like the catalogue: a STAC sub-catalogue and an
``items.json`` per part, a GomezEngine view per year with an index, the whole GomezEngine
view joined from the years; and the incremental writers (``only``) giving the very bytes
of a full write while leaving the other parts' files alone."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import orjson
import pystac
import pytest

from leafcube.catalogue import Catalogue, CatalogueError, load, load_root, read_parts, save
from leafcube.catalogue.folder import json_bytes
from leafcube.catalogue.gomez import Joined, write_gomez
from leafcube.ingest.stac import write_stac
from tests.stac import synthetic
from tests.stac.schemas import offline_schema_map
from tests.stac.synthetic import view_files

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
DAILY, MONTHLY = "daily", "monthly"


def make() -> Catalogue:
    """Daily periods over three months (monthly parts), monthly over two years (yearly)."""
    return synthetic.catalogue(
        synthetic.daily(DAILY, dt.date(2022, 12, 20), 50, tiles=2),
        synthetic.monthly(MONTHLY, range(2021, 2023)),
    )


def write(cat: Catalogue, cube: Path, **only: set[str]) -> None:
    """Write both views (every part, or ``only`` those), then the catalogue, as ingest does."""
    write_stac(cat, cube, only=only or None)
    write_gomez(cat, cube, None, only=only or None)
    save(cat, cube)


def test_each_part_has_a_sub_catalogue_and_items_json_walked_by_pystac(tmp_path):
    cat = make()
    write(cat, tmp_path)
    root = load_root(tmp_path)
    walked = pystac.Catalog.from_file(str(tmp_path / "stac" / "catalog.json"))
    for name, coll in load(tmp_path).collections.items():
        parts = root.collections[name].parts
        home = orjson.loads((tmp_path / "stac" / name / "collection.json").read_bytes())
        children = [lk["href"] for lk in home["links"] if lk["rel"] == "child"]
        assert children == [f"{k}/catalog.json" for k in sorted(parts)]
        start, end = home["extent"]["temporal"]["interval"][0]
        assert start == f"{min(coll.dates)}T00:00:00Z"
        assert end == f"{max(e.end for e in coll.dates.values())}T23:59:59Z"
        listed: dict[str, str] = {}  # item id → the part whose items.json lists it
        for key in parts:
            fc = orjson.loads((tmp_path / "stac" / name / key / "items.json").read_bytes())
            for f in fc["features"]:
                assert f["id"] not in listed
                assert f["properties"]["start_datetime"].startswith(key)
                listed[f["id"]] = key
        # the truth: every date and tile of the catalogue, each in its date's part
        tiles = {(k, t) for k, e in coll.dates.items() for f in e.layers.values() for t in f.tiles}
        assert sorted(listed) == sorted(f"{name}-{k}-{t}" for k, t in tiles)
        assert {listed[f"{name}-{k}-{t}"] for k, t in tiles} == set(parts)
        found = walked.get_child(name)
        assert found is not None
        assert sorted(i.id for i in found.get_items(recursive=True)) == sorted(listed)
        assert sorted(c.id for c in found.get_children()) == [f"{name}-{k}" for k in sorted(parts)]
    assert sorted(load_root(tmp_path).collections[DAILY].parts) == ["2022-12", "2023-01", "2023-02"]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_every_document_is_valid_stac_offline(tmp_path):
    """stac-validator on the core schemas: root, collections, part sub-catalogues, items
    and each part's ItemCollection."""
    from stac_validator.validate import StacValidate

    write(make(), tmp_path)
    stac = tmp_path / "stac"
    files = sorted(p for p in stac.rglob("*.json") if p.name != "items.json")
    assert len(files) == 1 + 2 + 3 + 2 + (2 * 50 + 24)  # root, collections, parts, items
    for f in files:
        v = StacValidate(str(f), core=True, schema_map=offline_schema_map())
        assert v.run(), (f, v.message)
    for f in sorted(stac.glob("*/*/items.json")):
        fc = StacValidate(str(f), core=True, item_collection=True, schema_map=offline_schema_map())
        fc.validate_item_collection()
        assert fc.message and all(m["valid_stac"] for m in fc.message), (f, fc.message)


def test_gomez_years_join_into_the_whole_view(tmp_path):
    cat = make()
    write(cat, tmp_path)
    for name, coll in cat.collections.items():
        folder = tmp_path / "gomez" / name
        index = orjson.loads((folder / "index.json").read_bytes())
        assert index["collection"] == name
        joined: dict[str, list[str]] = {}
        for year, ref in index["years"].items():
            data = (folder / ref["href"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == ref["sha256"]
            view = orjson.loads(data)
            assert len(view) == ref["dates"] and all(k.startswith(year) for k in view)
            joined |= view
        data = (tmp_path / "gomez" / f"{name}.json").read_bytes()
        whole = orjson.loads(data)
        assert whole == joined and list(whole) == sorted(whole)
        assert data == json_bytes(whole)  # joined as bytes, written as if dumped whole
        # the truth, from the catalogue's dates: each date's mosaics in the layer order
        assert whole == {
            k: [e.layers[n].mosaic for n in coll.layers] for k, e in sorted(coll.dates.items())
        }
        assert sorted(index["years"]) == sorted({k[:4] for k in coll.dates})


def test_year_views_join_as_bytes_like_their_dumped_union(tmp_path):
    years = [
        {"2021-01-01": ["a/1.vrt", "a/2.vrt"], "2021-02-01": ["b/1.vrt", "b/2.vrt"]},
        {},
        {"2023-05-01": ["c/1.vrt", "c/2.vrt"]},
    ]
    union = {k: v for y in years for k, v in y.items()}
    assert bytes(Joined(tuple(json_bytes(y) for y in years))) == json_bytes(union)
    assert bytes(Joined((json_bytes(years[0]) + b"\n", b"{}\n"))) == json_bytes(years[0])
    assert bytes(Joined((b"{}", b"{}"))) == bytes(Joined(())) == json_bytes({}) == b"{}"
    # years read from their files as it is written, compared before writing
    (tmp_path / "2021.json").write_bytes(json_bytes(years[0]))
    joined = Joined((tmp_path / "2021.json", json_bytes(years[1]), json_bytes(years[2])))
    whole = tmp_path / "whole.json"
    assert joined.write_if_changed(whole) and whole.read_bytes() == json_bytes(union)
    inode = whole.stat().st_ino
    assert not joined.write_if_changed(whole) and whole.stat().st_ino == inode
    whole.write_bytes(json_bytes(union).replace(b"c/1", b"c/9"))  # same size, other bytes
    assert joined.write_if_changed(whole) and whole.read_bytes() == json_bytes(union)


def _change(cat: Catalogue) -> None:
    """Drop the daily December (its part and its year go), add days to February (a month
    beside an untouched January of the same year) and a new March, a new monthly year."""
    d = cat.collections[DAILY]
    for k in [k for k in d.dates if k.startswith("2022-12")]:
        del d.dates[k]
    for day in (dt.date(2023, 2, 10), dt.date(2023, 3, 2)):
        e = synthetic.entry(DAILY, day, 1, tiles=3)  # a third tile, too
        d.dates[e.key] = e
    m = cat.collections[MONTHLY]
    e = synthetic.entry(MONTHLY, dt.date(2023, 1, 1), 28, tiles=1)
    m.dates[e.key] = e


def test_incremental_writes_equal_a_full_write_and_touch_nothing_else(tmp_path):
    full, incremental = tmp_path / "full", tmp_path / "incremental"
    write(make(), full)
    shutil.copytree(full, incremental)
    untouched = {
        p: (incremental / p).stat().st_mtime_ns
        for p in ("stac/daily/2023-01/items.json", "gomez/monthly/2021.json")
    }
    untouched |= {
        p.relative_to(incremental).as_posix(): p.stat().st_mtime_ns
        for p in (incremental / "stac" / DAILY / "items").glob("2023-01-*")
    }

    cat = load(full)
    _change(cat)
    write(cat, full)

    # as an incremental ingest has it: the root, and the parts whose dates change loaded
    root = load_root(incremental)
    daily = root.collections[DAILY]
    root.collections[DAILY] = read_parts(
        incremental, daily, [daily.parts["2022-12"], daily.parts["2023-02"]]
    )
    _change(root)
    write(root, incremental, daily={"2022-12", "2023-02", "2023-03"}, monthly={"2023"})

    assert view_files(incremental) == view_files(full)
    assert (incremental / "catalogue.json").read_bytes().split(b'"updated"')[0] == (
        full / "catalogue.json"
    ).read_bytes().split(b'"updated"')[0]
    for p, mtime in untouched.items():
        assert (incremental / p).stat().st_mtime_ns == mtime, p
    assert not (incremental / "stac" / DAILY / "2022-12").exists()
    assert not (incremental / "gomez" / DAILY / "2022.json").exists()
    assert not list((incremental / "stac" / DAILY / "items").glob("2022-*"))
    assert (incremental / "stac" / DAILY / "items" / "2023-02-10_tile2.json").is_file()


def test_a_collection_that_left_the_catalogue_leaves_the_views(tmp_path):
    cat = make()
    write(cat, tmp_path)
    del cat.collections[MONTHLY]
    write(cat, tmp_path)
    assert not (tmp_path / "stac" / MONTHLY).exists()
    assert not (tmp_path / "gomez" / MONTHLY).exists()
    assert not (tmp_path / "gomez" / f"{MONTHLY}.json").exists()
    assert (tmp_path / "gomez" / f"{DAILY}.json").is_file()


def test_only_naming_a_part_not_loaded_is_refused(tmp_path):
    write(make(), tmp_path)
    before = view_files(tmp_path)
    root = load_root(tmp_path)
    with pytest.raises(CatalogueError, match=r"parts \['2023-01'\] of 'daily' must be loaded"):
        write_stac(root, tmp_path, only={DAILY: {"2023-01"}})
    with pytest.raises(CatalogueError, match=r"parts \['2022'\] of 'monthly' must be loaded"):
        write_gomez(root, tmp_path, None, only={MONTHLY: {"2022"}})
    assert view_files(tmp_path) == before


def test_a_month_rewrites_its_year_from_the_catalogue_when_the_year_view_is_missing(tmp_path):
    """A cube written before the views were split has no year views: the untouched
    months of a touched year come from the catalogue's parts instead."""
    cat = make()
    write(cat, tmp_path)
    expected = view_files(tmp_path)
    shutil.rmtree(tmp_path / "gomez")
    root = load_root(tmp_path)
    daily = root.collections[DAILY]
    root.collections[DAILY] = read_parts(tmp_path, daily, [daily.parts["2023-02"]])
    write_gomez(root, tmp_path, None, only={DAILY: {"2023-02"}})
    assert {p: b for p, b in view_files(tmp_path).items() if p.startswith("gomez/")} == {
        p: b for p, b in expected.items() if p.startswith("gomez/")
    }


def test_a_write_over_the_whole_collection_layout_removes_its_items_json(tmp_path):
    """A cube written before the split had one ``items.json`` a collection: it goes."""
    cat = make()
    old = tmp_path / "stac" / DAILY / "items.json"
    old.parent.mkdir(parents=True)
    old.write_bytes(b'{"type": "FeatureCollection", "features": []}')
    write(cat, tmp_path)
    assert not old.exists()
    assert sorted(p.name for p in old.parent.iterdir()) == [
        "2022-12",
        "2023-01",
        "2023-02",
        "collection.json",
        "items",
    ]
