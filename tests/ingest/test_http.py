"""The cube over HTTP: mosaics over /vsicurl/ from a plain nginx; `leafcube demo` serves it."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import httpx
import numpy as np
import orjson
import pytest
import rasterio

from leafcube.catalogue import load
from tests.conftest import free_port, start_nginx, start_process, stop_process

COLL = "leaf-s2-20m-monthly"
GDAL_HTTP = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.vrt",
}


def test_mosaic_vrt_and_gomez_urls_open_over_vsicurl(cube_copy, demo_exports, run_ingest, tmp_path):
    nginx_tmp = tmp_path / "nginx"
    nginx_tmp.mkdir()
    proc, url = start_nginx(cube_copy, nginx_tmp)
    try:
        out = run_ingest(demo_exports, "--cube", cube_copy, "--base-url", url)
        assert out.returncode == 0, out.stderr
        view = orjson.loads((cube_copy / "gomez" / f"{COLL}.json").read_bytes())
        lai_url = view["2023-05-01"][0]
        assert lai_url == f"{url}/{COLL}/2023-05-01/LAI.vrt"
        with rasterio.Env(**GDAL_HTTP):
            with rasterio.open(f"/vsicurl/{lai_url}") as remote:
                data, mask = remote.read(1), remote.dataset_mask()
            with rasterio.open(f"/vsicurl/{view['2023-05-01'][-1]}") as part:
                assert part.nodata == 0 and part.read(1).max() == 18
        with rasterio.open(cube_copy / COLL / "2023-05-01" / "LAI.vrt") as local:
            np.testing.assert_array_equal(data, local.read(1))
            np.testing.assert_array_equal(mask, local.dataset_mask())
        assert (mask == 0).any() and (mask == 255).any()
        # Debian's own GDAL (3.6) reads the same VRT through the same URL
        env = {**GDAL_HTTP, "PATH": "/usr/bin:/bin"}
        remote_info = subprocess.run(
            ["gdalinfo", "-checksum", f"/vsicurl/{lai_url}"],
            capture_output=True,
            text=True,
            env=env,
        )
        local_info = subprocess.run(
            ["gdalinfo", "-checksum", str(cube_copy / COLL / "2023-05-01" / "LAI.vrt")],
            capture_output=True,
            text=True,
        )
        assert remote_info.returncode == 0, remote_info.stderr
        checksum = [ln for ln in local_info.stdout.splitlines() if "Checksum=" in ln]
        assert checksum and checksum == [
            ln for ln in remote_info.stdout.splitlines() if "Checksum=" in ln
        ]
    finally:
        stop_process(proc)


@pytest.mark.slow
def test_leafcube_demo_builds_the_same_cube_and_serves_it(demo_cube, tmp_path):
    cube = tmp_path / "demo"
    port = free_port()
    proc = start_process(
        [
            sys.executable,
            "-m",
            "leafcube.cli.main",
            "demo",
            "--cube",
            str(cube),
            "--port",
            str(port),
        ],
        f"http://127.0.0.1:{port}/catalogue.json",
        timeout=240,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        served = httpx.get(f"http://127.0.0.1:{port}/catalogue.json", timeout=10)
        assert served.status_code == 200
        parts = served.json()["collections"][COLL]["parts"]
        assert parts == load(demo_cube).to_dict()["collections"][COLL]["parts"]
        for ref in parts.values():  # the parts the root names are served, byte for byte
            part = httpx.get(f"http://127.0.0.1:{port}/{ref['href']}", timeout=10)
            assert hashlib.sha256(part.content).hexdigest() == ref["sha256"]
    finally:
        stop_process(proc)
    ours, ref = load(cube).to_dict(), load(demo_cube).to_dict()
    ours.pop("updated"), ref.pop("updated")
    assert ours == ref
    for cog in sorted((demo_cube / COLL / "2023-08-01").rglob("*.tif")):
        twin = cube / cog.relative_to(demo_cube)
        assert twin.read_bytes() == cog.read_bytes()  # deterministic exports and COGs
