"""LEAF export file names of every version: peak season, custom windows, GEE pieces."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from leafcube.ingest.names import ExportNameError, explicit_export, parse_name
from leafcube.ingest.plan import default_collection


def test_v2022_monthly_product_error_qc_date():
    e = parse_name(Path("tile42_2023_Aug_LAI_20m.tif"))
    assert (e.layer, e.region, e.res, e.period) == ("LAI", "tile42", 20, "monthly")
    assert (e.start, e.end) == (dt.date(2023, 8, 1), dt.date(2023, 8, 31))
    assert e.version is None and e.piece is None  # v2022 or 2023: its siblings decide
    err = parse_name(Path("tile42_2023_Feb_errorfAPAR_30m.tif"))
    assert (err.layer, err.version) == ("errorfAPAR", "v2022")
    qc = parse_name(Path("tile42_2023_Feb_fCOVER_QC_20m.tif"))
    assert (qc.layer, qc.version, qc.per_product_qc) == ("fCOVER_QC", "v2022", True)
    date = parse_name(Path("tile45_911_2024_Feb_Date_30m.tif"))
    assert (date.layer, date.region, date.end) == ("Date", "tile45_911", dt.date(2024, 2, 29))
    tile = parse_name(Path("tile42_2023_Aug_LAI_20m.tif")).with_version("v2022")
    assert default_collection(tile, 20, "EPSG:3979") == "leaf-s2-20m-monthly-v2022"
    assert default_collection(date.with_version("2023"), 30, "EPSG:32614") == (
        "leaf-landsat-30m-monthly-epsg32614"
    )


def test_v2022_peak_season_mone_date_and_partition():
    peak = parse_name(Path("tile42_2022_Albedo_20m.tif"))
    assert (peak.period, peak.start, peak.end) == (
        "peak",
        dt.date(2022, 6, 15),
        dt.date(2022, 9, 15),
    )
    mone = parse_name(Path("tile42_2022_Mone_Date_20m.tif"))
    assert (mone.layer, mone.period, mone.key, mone.version) == (
        "Date",
        "peak",
        "2022-06-15",
        "v2022",
    )
    with pytest.raises(ExportNameError, match="Mone"):
        parse_name(Path("tile42_2022_Mone_LAI_20m.tif"))
    part = parse_name(Path("tile42_2023_Partition_20m.tif"))
    assert (part.period, part.key) == ("yearly", "partition/2023")


def test_2023_single_qc_and_sensor_token():
    qc = parse_name(Path("tile42_2023_Aug_QC_20m.tif"))
    assert (qc.layer, qc.version, qc.per_product_qc) == ("QC", "2023", False)
    s2 = parse_name(Path("tile42_S2_2023_Nov_LAI_20m.tif"))
    assert (s2.region, s2.layer, s2.version, s2.start) == (
        "tile42",
        "LAI",
        "2023",
        dt.date(2023, 11, 1),
    )
    sub = parse_name(Path("tile42_411_L8_2023_Nov_Date_30m.tif"))
    assert (sub.region, sub.version) == ("tile42_411", "2023")


def test_current_names_year_from_the_drive_folder():
    e = parse_name(Path("Downloads/tile42_2024/tile42_Aug_QC_20m.tif"))
    assert (e.layer, e.start, e.version) == ("QC", dt.date(2024, 8, 1), "current")
    assert parse_name(Path("exports/2022/tile42_Aug_LAI_20m.tif")).start == dt.date(2022, 8, 1)
    lai = parse_name(Path("tile42_Aug_lai_20m.tif"), year=2021)
    assert (lai.layer, lai.start, lai.per_product_qc) == ("LAI", dt.date(2021, 8, 1), False)
    season = parse_name(Path("tile42_2024/tile42_season_fAPAR_20m.tif"))
    assert (season.period, season.start, season.end) == (
        "peak",
        dt.date(2024, 6, 15),
        dt.date(2024, 9, 15),
    )
    part = parse_name(Path("tile42_2024/tile42_Aug_Partition_20m.tif"))
    assert (part.period, part.key) == ("monthly", "2024-08-01")  # one per window
    with pytest.raises(ExportNameError, match="no year"):
        parse_name(Path("/data/tile42_Aug_LAI_20m.tif"))


def test_compact_export():
    e = parse_name(Path("tile42_2023_Aug_bioParams_QC_20m.tif"))
    assert (e.layer, e.version, e.start) == ("bioParams_QC", "compact", dt.date(2023, 8, 1))


def test_custom_window():
    e = parse_name(Path("my_site_2023-05-10_2023-06-20_fAPAR_20m.tif"))
    assert (e.region, e.period, e.start, e.end, e.version) == (
        "my_site",
        "custom",
        dt.date(2023, 5, 10),
        dt.date(2023, 6, 20),
        "current",
    )
    assert parse_name(Path("site_20230510_20230620_LAI_20m.tif")).start == dt.date(2023, 5, 10)
    with pytest.raises(ExportNameError, match="ends before"):
        parse_name(Path("site_2023-06-10_2023-05-20_LAI_20m.tif"))


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("tile42_2024/tile42_Agu_LAI_20m.tif", "expected a month"),
        ("tile42_2024/tile42_Aug_LIA_20m.tif", "'LIA' is not a LEAF layer"),
        ("tile42_2024/tile42_Aug_LAI.tif", "end with the resolution"),
    ],
)
def test_near_miss_names_say_what_was_expected(name, says):
    with pytest.raises(ExportNameError, match=says):
        parse_name(Path(name))


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
    with pytest.raises(ExportNameError, match=name.split(".")[0]):
        parse_name(Path(name))


def test_explicit_layer_date_tile():
    e = explicit_export(Path("anything.tif"), "lai", dt.date(2023, 4, 1), "tile42")
    assert (e.layer, e.start, e.end, e.region) == (
        "LAI",
        dt.date(2023, 4, 1),
        dt.date(2023, 4, 30),
        "tile42",
    )
    with pytest.raises(ExportNameError, match="not a LEAF layer"):
        explicit_export(Path("x.tif"), "NDVI", dt.date(2023, 4, 1), "tile42")
