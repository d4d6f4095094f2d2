"""The partitioned catalogue: a root naming per-year or per-month parts by their hash."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib

import orjson
import pytest

from leafcube.catalogue import (
    Catalogue,
    CatalogueError,
    DateEntry,
    load,
    load_root,
    parse_part,
    query,
    read_parts,
    save,
    validate,
)
from leafcube.catalogue.parts import choose_partition, touching
from leafcube.catalogue.store import PartCache


def _with_dates(cat: Catalogue, days: list[dt.date], length: int) -> Catalogue:
    """``cat`` with its one date replaced by periods of ``length`` days starting on ``days``."""
    coll = next(iter(cat.collections.values()))
    template = next(iter(coll.dates.values()))
    coll.dates = {}
    for day in days:
        entry = DateEntry(day, day + dt.timedelta(days=length - 1), copy.deepcopy(template.layers))
        coll.dates[entry.key] = entry
    return cat


def _monthly(cat: Catalogue, years: range) -> Catalogue:
    return _with_dates(cat, [dt.date(y, m, 1) for y in years for m in range(1, 13)], 28)


def test_monthly_dates_get_a_part_per_year_named_by_its_hash(tmp_path, small_catalogue):
    cat = _monthly(small_catalogue, range(2021, 2024))
    save(cat, tmp_path)
    root = orjson.loads((tmp_path / "catalogue.json").read_bytes())
    coll = root["collections"]["leaf-s2-20m-monthly"]
    assert root["leafcube"] == "2.0" and "dates" not in coll and coll["partition"] == "year"
    assert list(coll["parts"]) == ["2021", "2022", "2023"]
    ref = coll["parts"]["2022"]
    assert ref["href"] == "catalogue/leaf-s2-20m-monthly/2022.json"
    assert (ref["start"], ref["end"], ref["dates"]) == ("2022-01-01", "2022-12-28", 12)
    data = (tmp_path / ref["href"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == ref["sha256"]
    part = orjson.loads(data)
    validate(part, "part")
    assert sorted(part["dates"]) == [f"2022-{m:02d}-01" for m in range(1, 13)]
    assert load(tmp_path).to_dict() == cat.to_dict()


def test_daily_dates_get_a_part_per_month(tmp_path, small_catalogue):
    days = [dt.date(2024, 1, 30) + dt.timedelta(days=i) for i in range(5)]
    cat = _with_dates(small_catalogue, days, 1)
    assert choose_partition(next(iter(cat.collections.values())).dates.values()) == "month"
    save(cat, tmp_path)
    coll = load_root(tmp_path).collections["leaf-s2-20m-monthly"]
    assert coll.partition == "month" and list(coll.parts) == ["2024-01", "2024-02"]
    assert [p.count for p in coll.parts.values()] == [2, 3]


def test_adding_a_date_rewrites_its_part_and_the_root_only(tmp_path, small_catalogue):
    cat = _monthly(small_catalogue, range(2021, 2024))
    save(cat, tmp_path)
    folder = tmp_path / "catalogue/leaf-s2-20m-monthly"
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert save(load(tmp_path), tmp_path) is False  # nothing new: nothing written
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    # a writer that loaded only the newest part adds a date to it
    root = load_root(tmp_path)
    coll = root.collections["leaf-s2-20m-monthly"]
    coll = read_parts(tmp_path, coll, touching(coll, dt.date(2023, 6, 1)))
    assert coll.loaded == {"2023"} and len(coll.dates) == 12
    new = dataclasses.replace(coll.dates["2023-12-01"], start=dt.date(2024, 1, 1))
    new.end = dt.date(2024, 1, 31)
    coll.dates[new.key] = new
    root.collections[coll.name] = coll
    assert save(root, tmp_path) is True
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert {k for k in after if after[k] != before.get(k)} == {"2024.json"}
    again = load(tmp_path).collections[coll.name]
    assert len(again.dates) == 37 and list(again.parts) == ["2021", "2022", "2023", "2024"]


def test_a_writer_cannot_add_to_a_part_it_did_not_load(tmp_path, small_catalogue):
    save(_monthly(small_catalogue, range(2021, 2023)), tmp_path)
    root = load_root(tmp_path)
    coll = root.collections["leaf-s2-20m-monthly"]
    coll.dates["2021-05-01"] = DateEntry(dt.date(2021, 5, 1), dt.date(2021, 5, 31))
    with pytest.raises(CatalogueError, match=r"parts \['2021'\].*must be loaded"):
        save(root, tmp_path)


def test_dropped_dates_drop_their_part_file(tmp_path, small_catalogue):
    save(_monthly(small_catalogue, range(2021, 2024)), tmp_path)
    cat = load(tmp_path)
    coll = cat.collections["leaf-s2-20m-monthly"]
    coll.dates = {k: e for k, e in coll.dates.items() if not k.startswith("2022")}
    save(cat, tmp_path)
    names = sorted(p.name for p in (tmp_path / "catalogue/leaf-s2-20m-monthly").iterdir())
    assert names == ["2021.json", "2023.json"]
    assert list(load_root(tmp_path).collections[coll.name].parts) == ["2021", "2023"]


def test_queries_need_the_parts_they_touch(tmp_path, small_catalogue):
    save(_monthly(small_catalogue, range(2021, 2024)), tmp_path)
    coll = load_root(tmp_path).collections["leaf-s2-20m-monthly"]
    assert coll.dates == {} and query.span(coll) == (dt.date(2021, 1, 1), dt.date(2023, 12, 28))
    with pytest.raises(CatalogueError, match=r"parts \['2022'\] .* not loaded"):
        query.dates_between(coll, "2022-03-01", "2022-04-15")
    refs = touching(coll, dt.date(2022, 3, 1), dt.date(2022, 4, 15))
    view = read_parts(tmp_path, coll, refs)
    assert [e.key for e in query.dates_between(view, "2022-03-01", "2022-04-15")] == [
        "2022-03-01",
        "2022-04-01",
    ]
    assert coll.dates == {} and coll.loaded == set()  # the shared root is left as it was
    with pytest.raises(CatalogueError, match="holds 2021-01-01 to 2023-12-28"):
        query.require_dates(view, "2022-03-29", "2022-03-30")


def test_a_part_is_checked_against_its_root(tmp_path, small_catalogue):
    save(_monthly(small_catalogue, range(2021, 2023)), tmp_path)
    coll = load_root(tmp_path).collections["leaf-s2-20m-monthly"]
    ref = coll.parts["2021"]
    other = (tmp_path / coll.parts["2022"].href).read_bytes()
    with pytest.raises(CatalogueError, match="holds 'leaf-s2-20m-monthly' '2022'"):
        parse_part(coll, ref, other)
    with pytest.raises(CatalogueError, match="2021.json is not JSON"):
        parse_part(coll, ref, b"{")
    broken = orjson.loads(other) | {"part": "22"}
    with pytest.raises(CatalogueError, match="2021.json is not valid at part"):
        parse_part(coll, ref, orjson.dumps(broken))
    (tmp_path / ref.href).unlink()
    with pytest.raises(CatalogueError, match="no catalogue part at"):
        load(tmp_path)


def test_a_format_1_catalogue_loads_and_saves_as_parts(tmp_path, small_catalogue):
    cat = _monthly(small_catalogue, range(2022, 2024))
    coll = cat.collections["leaf-s2-20m-monthly"]
    doc = {"leafcube": "1.0", "updated": "2023-01-01T00:00:00Z", "views": {}}
    doc["collections"] = {
        coll.name: {k: v for k, v in coll.to_dict().items() if k not in ("partition", "parts")}
        | {"dates": coll.dates_dict(list(coll.dates))}
    }
    (tmp_path / "catalogue.json").write_bytes(orjson.dumps(doc))
    old = load(tmp_path)
    assert sorted(old.collections[coll.name].dates) == sorted(coll.dates)
    assert query.dates_between(old.collections[coll.name], "2023-01-01", "2023-01-31")
    assert save(old, tmp_path) is True
    root = orjson.loads((tmp_path / "catalogue.json").read_bytes())
    assert root["leafcube"] == "2.0" and list(root["collections"][coll.name]["parts"]) == [
        "2022",
        "2023",
    ]
    assert load(tmp_path).to_dict() == old.to_dict()


def test_a_reader_with_a_cache_reads_only_the_parts_that_changed(tmp_path, small_catalogue):
    save(_monthly(small_catalogue, range(2021, 2024)), tmp_path)
    cache = PartCache()
    first = load(tmp_path, cache=cache).collections["leaf-s2-20m-monthly"]
    assert len(cache) == 3
    part_2022 = tmp_path / first.parts["2022"].href
    good = part_2022.read_bytes()
    part_2022.write_text("{")  # a part whose hash is cached is not read again
    assert load(tmp_path, cache=cache).collections[first.name].dates.keys() == first.dates.keys()
    with pytest.raises(CatalogueError, match="2022.json is not JSON"):
        load(tmp_path)
    part_2022.write_bytes(good)
    cat = load(tmp_path)
    del cat.collections[first.name].dates["2023-12-01"]
    save(cat, tmp_path)
    again = load(tmp_path, cache=cache).collections[first.name]
    assert again.dates["2022-05-01"] is first.dates["2022-05-01"]  # 2022 not parsed again
    assert again.dates["2023-05-01"] is not first.dates["2023-05-01"]  # 2023 changed
    assert "2023-12-01" not in again.dates and len(cache) == 4
    assert (cache.reads, cache.hits) == (4, 5)  # 3 parts, then 3 cached, then 2023 anew
