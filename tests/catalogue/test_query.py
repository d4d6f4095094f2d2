"""Queries, the CCRS grid, grid snapping, ROI parsing and QC decoding."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from leafcube.catalogue import CatalogueError, NoDataError, ROIError
from leafcube.catalogue import qc as qcmod
from leafcube.catalogue.grid import CANADA_TILES, intersect, snap_bounds, tile_bounds
from leafcube.catalogue.query import (
    check_layers,
    collection,
    dates_between,
    require_dates,
    tiles_in,
)
from leafcube.catalogue.roi import parse_roi, reproject, transform_bounds


def test_collection_and_layers(small_catalogue):
    cat = small_catalogue
    coll = collection(cat, None)
    assert collection(cat, "leaf-s2-20m-monthly") is coll
    with pytest.raises(CatalogueError, match="unknown collection 'nope'"):
        collection(cat, "nope")
    assert check_layers(coll, ["fCOVER", "LAI"]) == ["fCOVER", "LAI"]
    with pytest.raises(CatalogueError, match=r"unknown layer\(s\) \['NDVI'\]"):
        check_layers(coll, ["LAI", "NDVI"])
    with pytest.raises(CatalogueError, match="at least one layer"):
        check_layers(coll, [])


def test_dates_between_uses_period_overlap(small_catalogue):
    coll = small_catalogue.collections["leaf-s2-20m-monthly"]
    assert [e.key for e in dates_between(coll)] == ["2023-08-01"]
    assert [e.key for e in dates_between(coll, "2023-08-31", "2023-09-30")] == ["2023-08-01"]
    assert dates_between(coll, "2023-09-01") == []
    assert dates_between(coll, None, dt.date(2023, 7, 31)) == []
    with pytest.raises(CatalogueError, match="after end"):
        dates_between(coll, "2023-09-01", "2023-08-01")
    with pytest.raises(CatalogueError, match="is not a date"):
        dates_between(coll, "2023-13-01")


def test_require_dates_says_what_the_collection_holds(small_catalogue):
    coll = small_catalogue.collections["leaf-s2-20m-monthly"]
    assert [e.key for e in require_dates(coll, "2023-08-15")] == ["2023-08-01"]
    with pytest.raises(NoDataError, match="between 2030-01-01 and the end; it holds 2023-08-01 to"):
        require_dates(coll, "2030-01-01")


def test_tiles_in_filters_by_bounds(small_catalogue):
    entry = small_catalogue.collections["leaf-s2-20m-monthly"].dates["2023-08-01"]
    assert list(tiles_in(entry, "LAI", (10, 10, 30, 30))) == ["tile42"]
    assert tiles_in(entry, "LAI", (20, 0, 40, 20)) == {}  # touching is not overlapping
    assert tiles_in(entry, "NDVI") == {}


def test_ccrs_tiles():
    assert tile_bounds("tile42") == (-1_700_000, 314_925, -800_000, 1_214_925)
    assert tile_bounds("tile43")[0] == tile_bounds("tile42")[2]
    assert tile_bounds("tile42_911") == (-1_700_000, 914_925, -1_400_000, 1_214_925)
    assert tile_bounds("tile42_422") == (-1_250_000, 314_925, -800_000, 764_925)
    assert len(CANADA_TILES) == 26
    for bad in ("tile4", "tile42_511", "tile42_433", "region"):
        with pytest.raises(ValueError):
            tile_bounds(bad)


def test_snap_bounds_grows_to_whole_pixels():
    assert snap_bounds((1, 1, 39, 41), (0, 0), 20) == (0, 0, 40, 60)
    assert snap_bounds((0, 0, 40, 40), (0, 0), 20) == (0, 0, 40, 40)
    assert snap_bounds((-801_000.5, 314_930, -799_990, 314_950), (-2_600_000, 3_914_925), 20) == (
        -801_020,
        314_925,
        -799_980,
        314_965,
    )
    assert intersect((0, 0, 1, 1), (1, 0, 2, 1)) is None


def test_parse_roi_forms(tmp_path):
    poly = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    feature = {"type": "Feature", "properties": {}, "geometry": poly}
    fc = {"type": "FeatureCollection", "features": [feature]}
    path = tmp_path / "roi.geojson"
    path.write_text(json.dumps(fc))
    for roi in (
        poly,
        feature,
        fc,
        json.dumps(feature),
        str(path),
        path,
        box(0, 0, 1, 1),
        (0, 0, 1, 1),
    ):
        assert parse_roi(roi).equals(box(0, 0, 1, 1))


def test_parse_roi_repairs_bowtie():
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    geom = parse_roi(bowtie)
    assert shapely.is_valid(geom) and geom.area == pytest.approx(0.5)


@pytest.mark.parametrize(
    "roi, message",
    [
        ({"type": "Polygon", "coordinates": "nope"}, "not a valid GeoJSON"),
        ({"type": "FeatureCollection", "features": []}, "no features"),
        ({"type": "Feature", "geometry": None}, "no geometry"),
        ({"coordinates": []}, "'type' member"),
        ("{broken", "not valid JSON"),
        ("/no/such/file.geojson", "neither GeoJSON text nor an existing file"),
        ((1, 1, 0, 0), "is empty"),
        (("a", "b", "c", "d"), "four numbers"),
        (42, "must be GeoJSON"),
        ({"type": "Polygon", "coordinates": []}, "empty"),
    ],
)
def test_parse_roi_errors(roi, message):
    with pytest.raises(ROIError, match=message):
        parse_roi(roi)


def test_reproject_round_trip():
    geom = box(-100, 50, -99.9, 50.1)
    there = reproject(geom, "EPSG:4326", "EPSG:3979")
    back = reproject(there, "EPSG:3979", "EPSG:4326")
    assert back.symmetric_difference(geom).area < 1e-9
    assert reproject(Point(1, 2), "EPSG:3979", "EPSG:3979").equals(Point(1, 2))
    minx, miny, maxx, maxy = transform_bounds((-100, 50, -99.9, 50.1), "EPSG:4326", "EPSG:3979")
    assert shapely.contains(box(minx, miny, maxx, maxy), there.buffer(-1e-6))


def test_qc_decoding_matches_leaf_bits():
    qc = qcmod.encode(
        np.array([21, 21, 21, 21, 8, 0]),
        input_flag=np.array([0, 1, 0, 0, 0, 0], bool),
        output_flag=np.array([0, 0, 1, 0, 0, 0], bool),
        invalid=np.array([0, 0, 0, 1, 0, 0], bool),
    )
    assert qc.tolist() == [168, 169, 170, 172, 64, 0]
    assert qcmod.sensor_code(qc).tolist() == [21, 21, 21, 21, 8, 0]
    assert qcmod.observed_v2022(qc).tolist() == [True, True, True, False, True, False]
    assert qcmod.observed_v2022(qc, invalid_too=True).tolist() == [True] * 5 + [False]
    # flags only: whether a pixel holds data at all is each COG's mask
    assert qcmod.is_valid(qc).tolist() == [True, False, False, False, True, True]
    assert qcmod.keep(qc, "valid").tolist() == qcmod.is_valid(qc).tolist()
    assert qcmod.keep(qc, "data").all()
    with pytest.raises(ValueError):
        qcmod.keep(qc, "all")


def test_single_qc_rule_tells_never_observed_from_clear():
    """2023 and later: QC 0 is both; the other layers of the period tell them apart."""
    qc = np.array([0, 0, 0, 1, 2, 4, 4], np.uint8)
    lai = np.array([0, 0, 13, 0, 0, 0, 0], np.uint8)
    albedo = np.array([0, 30, 28, 0, 0, 0, 0], np.uint8)
    date = np.array([0, 0, 200, 0, 0, 0, 0], np.uint16)
    seen = qcmod.observed_single(qc, [lai, albedo, date])
    assert seen.tolist() == [False, True, True, True, True, False, False]
    with_clouds = qcmod.observed_single(qc, [lai, albedo, date], invalid_too=True)
    assert with_clouds.tolist() == [False, True, True, True, True, True, True]
