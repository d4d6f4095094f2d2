"""GDAL clients over /vsicurl/: the system gdal-bin (3.6) CLI and rasterio's own GDAL."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest
import rasterio

from leafcube.reader.read import HTTP_ENV

COG = "{c}/2023-05-01/tile42/LAI.tif"
VRT = "{c}/2023-05-01/LAI.vrt"


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **HTTP_ENV, "CPL_VSIL_CURL_CACHE_SIZE": "0", **extra}


@pytest.mark.parametrize("version", ["1.1", "2PRIOR_KNOWLEDGE"])
def test_gdalinfo_over_vsicurl(served, version):
    rel = COG.format(c=served.collection)
    out = subprocess.run(
        ["gdalinfo", "-json", f"/vsicurl/{served.url}/{rel}"],
        env=_env(GDAL_HTTP_VERSION=version),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    local = subprocess.run(
        ["gdalinfo", "-json", str(served.cube / rel)], capture_output=True, text=True, check=True
    ).stdout
    assert '"size":[' in out.replace(" ", "").replace("\n", "")
    strip = lambda s: [ln for ln in s.splitlines() if rel not in ln and '"description"' not in ln]  # noqa: E731
    assert strip(out) == strip(local)


@pytest.mark.parametrize("multirange", ["", "SINGLE_GET"])
def test_gdal_translate_projwin_matches_local(served, tmp_path, multirange):
    rel = COG.format(c=served.collection)
    win = ["-projwin", "-805000", "612000", "-801000", "606000"]
    remote, local = tmp_path / "remote.tif", tmp_path / "local.tif"
    env = _env(GDAL_HTTP_VERSION="2PRIOR_KNOWLEDGE", GDAL_HTTP_MULTIRANGE=multirange)
    subprocess.run(
        ["gdal_translate", "-q", *win, f"/vsicurl/{served.url}/{rel}", str(remote)],
        env=env,
        check=True,
    )
    subprocess.run(["gdal_translate", "-q", *win, str(served.cube / rel), str(local)], check=True)
    assert remote.read_bytes() == local.read_bytes()
    with rasterio.open(remote) as ds:
        assert ds.shape == (300, 200)


def test_rasterio_reads_cog_and_vrt_over_h2(served):
    with rasterio.Env(**HTTP_ENV, GDAL_HTTP_VERSION="2PRIOR_KNOWLEDGE"):
        for rel in (COG.format(c=served.collection), VRT.format(c=served.collection)):
            with rasterio.open(f"/vsicurl/{served.url}/{rel}") as remote:
                got, got_mask = remote.read(1), remote.read_masks(1)
            with rasterio.open(served.cube / rel) as local:
                assert np.array_equal(got, local.read(1))
                assert np.array_equal(got_mask, local.read_masks(1))
