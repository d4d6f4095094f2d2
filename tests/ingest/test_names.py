"""LEAF export file names: both conventions, peak season, custom windows, GEE pieces."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from leafcube.ingest.names import NameError_, explicit_export, parse_name


def test_v2022_monthly_product_error_qc_date():
    e = parse_name(Path("tile42_2023_Aug_LAI_20m.tif"))
    assert (e.layer, e.region, e.res, e.period) == ("LAI", "tile42", 20, "monthly")
    assert (e.start, e.end) == (dt.date(2023, 8, 1), dt.date(2023, 8, 31))
    assert e.per_product_qc and e.piece is None
    assert e.default_collection(20) == "leaf-s2-20m-monthly"
    assert parse_name(Path("tile42_2023_Feb_errorfAPAR_30m.tif")).layer == "errorfAPAR"
    assert parse_name(Path("tile42_2023_Feb_fCOVER_QC_20m.tif")).layer == "fCOVER_QC"
    date = parse_name(Path("tile45_911_2024_Feb_Date_30m.tif"))
    assert (date.layer, date.region, date.end) == ("Date", "tile45_911", dt.date(2024, 2, 29))
    assert date.default_collection(30) == "leaf-landsat-30m-monthly"


def test_v2022_peak_season_and_partition():
    peak = parse_name(Path("tile42_2023_Albedo_20m.tif"))
    assert (peak.period, peak.start, peak.end) == (
        "peak",
        dt.date(2023, 6, 15),
        dt.date(2023, 9, 15),
    )
    assert peak.default_collection(20) == "leaf-s2-20m-peak"
    part = parse_name(Path("tile42_2023_Partition_20m.tif"))
    assert (part.period, part.key) == ("yearly", "partition/2023")
    assert part.default_collection(20) == "leaf-s2-20m-monthly"


def test_newer_style_single_qc_and_year_from_folder():
    e = parse_name(Path("exports/2022/tile42_Aug_QC_20m.tif"))
    assert (e.layer, e.start, e.per_product_qc) == ("QC", dt.date(2022, 8, 1), False)
    lai = parse_name(Path("tile42_Aug_lai_20m.tif"), year=2021)
    assert (lai.layer, lai.start, lai.per_product_qc) == ("LAI", dt.date(2021, 8, 1), False)
    with pytest.raises(NameError_, match="no year"):
        parse_name(Path("/data/tile42_Aug_LAI_20m.tif"))


def test_custom_window():
    e = parse_name(Path("my_site_2023-05-10_2023-06-20_fAPAR_20m.tif"))
    assert (e.region, e.period, e.start, e.end) == (
        "my_site",
        "custom",
        dt.date(2023, 5, 10),
        dt.date(2023, 6, 20),
    )
    assert e.default_collection(20) == "leaf-s2-20m-custom"
    assert parse_name(Path("site_20230510_20230620_LAI_20m.tif")).start == dt.date(2023, 5, 10)
    with pytest.raises(NameError_, match="ends before"):
        parse_name(Path("site_2023-06-10_2023-05-20_LAI_20m.tif"))


def test_gee_pieces_share_one_layer():
    a = parse_name(Path("tile42_2023_Aug_LAI_20m-0000000000-0000000000.tif"))
    b = parse_name(Path("tile42_2023_Aug_LAI_20m-0000023296-0000000000.tif"))
    assert a.group == b.group
    assert (a.piece, b.piece) == ((0, 0), (23296, 0))


@pytest.mark.parametrize(
    "name",
    ["notes.txt", "tile42_2023_Aug_NDVI_20m.tif", "tile42_2023_Aug_LAI.tif", "LAI_20m.tif"],
)
def test_unknown_names_name_the_file(name):
    with pytest.raises(NameError_, match=name.split(".")[0]):
        parse_name(Path(name))


def test_explicit_layer_date_tile():
    e = explicit_export(Path("anything.tif"), "lai", dt.date(2023, 4, 1), "tile42")
    assert (e.layer, e.start, e.end, e.region) == (
        "LAI",
        dt.date(2023, 4, 1),
        dt.date(2023, 4, 30),
        "tile42",
    )
    with pytest.raises(NameError_, match="not a LEAF layer"):
        explicit_export(Path("x.tif"), "NDVI", dt.date(2023, 4, 1), "tile42")
