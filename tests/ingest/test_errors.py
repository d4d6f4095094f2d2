"""Bad input gets one clear line naming the file; the rest of the batch still lands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

from leafcube.catalogue import load
from leafcube.catalogue.products import NODATA
from leafcube.ingest.demo import X_MIN, Y_MAX, write_month

COLL = "leaf-s2-20m-monthly-v2022"


def _tif(path: Path, dtype="uint8", crs="EPSG:3979", x0=X_MIN, res=20.0, driver="GTiff") -> Path:
    with rasterio.open(
        path,
        "w",
        driver=driver,
        width=50,
        height=40,
        count=1,
        dtype=dtype,
        crs=crs,
        transform=Affine(res, 0.0, x0, 0.0, -res, Y_MAX),
    ) as dst:
        dst.write(np.ones((40, 50), dtype), 1)
    return path


def test_bad_files_fail_one_line_each_and_the_rest_lands(tmp_path, run_ingest):
    src = tmp_path / "exports"
    good = write_month(src, 2023, 3, version="v2022")
    bad = {
        "tile42_2023_Apr_LAI_QC_20m.tif": "not a readable GeoTIFF",
        "tile42_2023_Apr_fAPAR_QC_20m.tif": "not a GeoTIFF (GDAL reads it as PNG)",
        "random_name.tif": "not a LEAF export name",
        "tile42_2023_May_LAI_QC_20m.tif": (
            "its pixel lattice is x = 10, y = 0 (mod 20 m), but collection "
            f"{COLL}'s is x = 0, y = 0"
        ),
        "tile42_2023_Aug_LAI_20m.tif": "no LAI_QC layer for 2023-08-01 tile42",
        "tile42_2023_Oct_Date_20m.tif": "Date values 1..1 are day of year, but its LEAF version",
        "tile42_2023_Sep_Albedo_QC_20m.tif": "Albedo_QC must be uint8 (as LEAF writes it)",
        "tile42_2023_Agu_LAI_20m.tif": "expected a month (Jan..Dec)",
        "tile42_2023_Mar_LIA_QC_20m.tif": "'LIA_QC' is not a LEAF layer",
        "missing_2023_Mar_LAI_20m.tif": "no such file or folder",
    }
    (src / "tile42_2023_Apr_LAI_QC_20m.tif").write_text("this is not a GeoTIFF\n")
    _tif(src / "tile42_2023_Apr_fAPAR_QC_20m.tif", driver="PNG")
    _tif(src / "random_name.tif")
    _tif(src / "tile42_2023_May_LAI_QC_20m.tif", x0=X_MIN + 10)
    _tif(src / "tile42_2023_Aug_LAI_20m.tif")
    _tif(src / "tile42_2023_Oct_LAI_QC_20m.tif")
    _tif(src / "tile42_2023_Oct_Date_20m.tif", dtype="uint16")
    _tif(src / "tile42_2023_Sep_Albedo_QC_20m.tif", dtype="uint16")
    _tif(src / "tile42_2023_Agu_LAI_20m.tif")
    _tif(src / "tile42_2023_Mar_LIA_QC_20m.tif")
    cube = tmp_path / "cube"
    out = run_ingest(src, src / "missing_2023_Mar_LAI_20m.tif", "--cube", cube)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if ": error: " in line]
    assert len(errors) == len(bad), out.stderr
    for name, reason in bad.items():
        hits = [line for line in errors if f"/{name}:" in line]
        assert len(hits) == 1 and reason in hits[0], (name, out.stderr)
    assert f"{len(good) + 1} COG(s) written" in out.stderr and f"{len(bad)} failed" in out.stderr
    cat = load(cube, check=True)
    assert list(cat.collections[COLL].dates) == ["2023-03-01", "2023-10-01"]
    assert len(cat.collections[COLL].dates["2023-03-01"].layers) == 13


def test_explicit_layer_date_tile_ingests_any_name(tmp_path, run_ingest):
    src = tmp_path / "x"
    src.mkdir()
    qc = _tif(src / "quality.tif")
    lai = _tif(src / "leaf_area.tif")
    cube = tmp_path / "cube"
    common = ["--cube", cube, "--date", "2023-04-01", "--tile", "tile42"]
    assert run_ingest(qc, *common, "--layer", "LAI_QC").returncode == 0
    out = run_ingest(lai, *common, "--layer", "LAI")
    assert out.returncode == 0, out.stderr
    entry = load(cube).collections[COLL].dates["2023-04-01"]
    assert set(entry.layers) == {"LAI", "LAI_QC"}
    with rasterio.open(cube / entry.layers["LAI"].tiles["tile42"].href) as s:
        # QC 1 (never observed): no data, stored as the nodata DN
        assert (s.read(1) == NODATA).all() and s.dataset_mask().max() == 0
    bad = run_ingest(lai, "--cube", cube, "--layer", "LAI")
    assert bad.returncode == 2 and "--layer, --date and --tile go together" in bad.stderr


def test_an_export_given_twice_is_refused_not_stitched(tmp_path, run_ingest):
    src = tmp_path / "exports"
    write_month(src, 2023, 3, version="v2022")
    (src / "copy").mkdir()
    twin = src / "copy" / "tile42_2023_Mar_errorLAI_20m.tif"
    twin.write_bytes((src / twin.name).read_bytes())
    out = run_ingest(src, "--cube", tmp_path / "cube")
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "the same layer, date and tile as" in errors[0]
    assert str(twin) in errors[0] and str(src / twin.name) in errors[0]
    layers = load(tmp_path / "cube").collections[COLL].dates["2023-03-01"].layers
    assert "errorLAI" in layers and set(layers["errorLAI"].tiles) == {"tile43"}


def test_unusable_cube_folders_give_one_line(tmp_path, run_ingest):
    src = tmp_path / "exports"
    write_month(src, 2023, 3)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    out = run_ingest(src, "--cube", not_a_folder)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"cannot use {not_a_folder} as the cube folder" in out.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "catalogue.json").write_text("{")
    out = run_ingest(src, "--cube", broken)
    assert out.returncode == 2 and "catalogue is not JSON" in out.stderr
    assert (broken / "catalogue.json").read_text() == "{"  # left for the user to look at


def test_a_drive_download_with_a_duplicate(tmp_path, run_ingest):
    """Subfolders as Drive gives them, two LEAF versions in one run, one file downloaded
    twice: one line naming both copies, everything else lands, exit status 1."""
    drive = tmp_path / "Downloads"
    write_month(drive, 2023, 6)  # tile42_2023/, tile43_2023/: LEAF's 2023 style
    write_month(drive, 2024, 6)  # tile42_2024/, tile43_2024/: current LEAF
    again = drive / "tile42_2024 (1)" / "tile42_2024"  # the same folder downloaded again
    again.mkdir(parents=True)
    first = drive / "tile42_2024" / "tile42_Jun_fAPAR_20m.tif"
    (again / first.name).write_bytes(first.read_bytes())
    out = run_ingest(drive, "--cube", tmp_path / "cube")
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "the same layer, date and tile as" in errors[0]
    assert str(again / first.name) in errors[0] and str(first) in errors[0]
    coll = load(tmp_path / "cube").collections["leaf-s2-20m-monthly"]
    assert sorted(coll.dates) == ["2023-06-01", "2024-06-01"]
    assert {t: set(e.layers) for t, e in coll.dates.items()} == {
        "2023-06-01": {"LAI", "fCOVER", "fAPAR", "Albedo", "QC", "Date"},
        "2024-06-01": {"LAI", "fCOVER", "fAPAR", "Albedo", "QC", "Date", "Partition"},
    }  # current LEAF exports Partition with each window
    assert set(coll.dates["2024-06-01"].layers["fAPAR"].tiles) == {"tile43"}
    assert set(coll.dates["2024-06-01"].layers["LAI"].tiles) == {"tile42", "tile43"}
