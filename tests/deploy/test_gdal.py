"""GDAL's CLI (Debian's gdal-bin) over /vsicurl/, HTTP/2 and TLS, against both deployments.

Every answer must equal what the same tool says of the local file; nginx's access log
shows the requests really went over HTTP/2 with byte ranges.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from leafcube.catalogue import load
from leafcube.ingest.demo import SIZE, TILES

#: A window straddling the boundary of tiles 42 and 43 (x = -800,000 m, EPSG:3979).
WINDOW = ["-801000", "610000", "-799000", "607000"]
POINTS = [(-803_010.0, 611_990.0), (-799_990.0, 605_010.0)]


def files(site, kind: str) -> str:
    """A path under the site root: a COG of tile 42 or the mosaic VRT (May 2023, LAI)."""
    entry = load(site.root).collections[site.collection].dates["2023-05-01"].layers["LAI"]
    return entry.tiles["tile42"].href if kind == "cog" else entry.mosaic


def run(cmd: list[str], env: dict[str, str] | None = None) -> str:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout


def essentials(info: str) -> dict:
    """What gdalinfo says of a raster, without the names of its files."""
    doc = json.loads(info)
    bands = [{k: v for k, v in b.items() if k != "description"} for b in doc["bands"]]
    keep = ("size", "geoTransform", "coordinateSystem", "metadata", "cornerCoordinates")
    return {k: doc.get(k) for k in keep} | {"bands": bands}


@pytest.mark.parametrize("kind", ["cog", "vrt"])
def test_gdalinfo(site, kind):
    rel = files(site, kind)
    remote = run(["gdalinfo", "-json", f"/vsicurl/{site.url}/{rel}"], site.gdal_env())
    local = run(["gdalinfo", "-json", str(site.root / rel)])
    assert essentials(remote) == essentials(local)
    first, last = TILES["tile42"]
    assert essentials(remote)["size"] == ([last - first, SIZE] if kind == "cog" else [SIZE, SIZE])


@pytest.mark.parametrize("kind", ["cog", "vrt"])
def test_gdallocationinfo(site, kind):
    rel = files(site, kind)
    for x, y in POINTS[:1] if kind == "cog" else POINTS:
        cmd = ["gdallocationinfo", "-valonly", "-geoloc"]
        remote = run([*cmd, f"/vsicurl/{site.url}/{rel}", str(x), str(y)], site.gdal_env())
        local = run([*cmd, str(site.root / rel), str(x), str(y)])
        assert remote.strip() == local.strip() != ""


@pytest.mark.parametrize("kind", ["cog", "vrt"])
def test_gdal_translate_projwin(site, kind, tmp_path):
    rel = files(site, kind)
    remote, local = tmp_path / "remote.tif", tmp_path / "local.tif"
    cmd = ["gdal_translate", "-q", "-projwin", *WINDOW]
    run([*cmd, f"/vsicurl/{site.url}/{rel}", str(remote)], site.gdal_env())
    run([*cmd, str(site.root / rel), str(local)])
    assert remote.read_bytes() == local.read_bytes()
    size = essentials(run(["gdalinfo", "-json", str(remote)]))["size"]
    assert size == [100, 150]
    # nginx logged GDAL's range requests for this file, all over HTTP/2 (GDAL 3.6 sends
    # no User-Agent; curl, the other client of these tests, does)
    log = (site.out / "logs" / "access.log").read_text().splitlines()
    mine = [ln for ln in log if f"/{rel} " in ln and "curl/" not in ln]
    assert mine and all(' HTTP/2.0" ' in ln for ln in mine)
    assert any(' HTTP/2.0" 206 ' in ln for ln in mine)
