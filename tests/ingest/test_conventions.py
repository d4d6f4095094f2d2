"""Newer-style exports (single QC, no year in the name, custom windows) end to end."""

from __future__ import annotations

import numpy as np
import rasterio

from leafcube.catalogue import load
from leafcube.catalogue.qc import observed_v2022
from leafcube.ingest.demo import month_layers, write_geotiff


def test_single_qc_exports_get_their_own_collection(tmp_path, run_ingest):
    layers = month_layers(2023, 8)
    src = tmp_path / "2023"
    src.mkdir()
    write_geotiff(src / "tile42_Aug_LAI_20m.tif", layers["LAI"][:, :300])
    write_geotiff(src / "tile42_Aug_QC_20m.tif", layers["LAI_QC"][:, :300])
    write_geotiff(src / "tile42_2023-08-05_2023-08-20_QC_20m.tif", layers["LAI_QC"][:, :300])
    write_geotiff(src / "tile42_2023-08-05_2023-08-20_fapar_20m.tif", layers["fAPAR"][:, :300])
    cube = tmp_path / "cube"
    out = run_ingest(src, "--cube", cube)
    assert out.returncode == 0, out.stderr
    cat = load(cube, check=True)
    assert sorted(cat.collections) == ["leaf-s2-20m-custom", "leaf-s2-20m-monthly"]
    monthly = cat.collections["leaf-s2-20m-monthly"]
    assert "QC" in monthly.layers and "LAI_QC" not in monthly.layers
    assert monthly.layers["LAI"].qc_layer == "QC"
    custom = cat.collections["leaf-s2-20m-custom"].dates["2023-08-05"]
    assert (custom.start.isoformat(), custom.end.isoformat()) == ("2023-08-05", "2023-08-20")
    with rasterio.open(cube / monthly.dates["2023-08-01"].layers["LAI"].tiles["tile42"].href) as s:
        np.testing.assert_array_equal(s.dataset_mask() == 255, observed_v2022(layers["LAI_QC"][:, :300]))

    v2022 = tmp_path / "v2022"
    v2022.mkdir()
    write_geotiff(v2022 / "tile42_2023_Sep_LAI_QC_20m.tif", layers["LAI_QC"][:, :300])
    mixed = run_ingest(v2022, "--cube", cube)
    assert mixed.returncode == 1
    assert "layer LAI_QC does not belong to collection leaf-s2-20m-monthly" in mixed.stderr
    apart = run_ingest(v2022, "--cube", cube, "--collection", "leaf-v2022")
    assert apart.returncode == 0, apart.stderr
    assert "LAI_QC" in load(cube).collections["leaf-v2022"].layers
