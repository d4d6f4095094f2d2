"""Real clients against both deployments: leafcube's own client and GomezEngine 0.3.

Each runs in a subprocess that trusts the site's self-signed certificate the way a
user would (``SSL_CERT_FILE``, ``GDAL_CURL_CA_BUNDLE``); its pixels must equal
leafcube's client reading the cube folder directly.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from bench.extract import gomez_python as gomez_venv
from bench.extract import roi_file
from leafcube.catalogue import load
from leafcube.client import Cube

LAYERS = ["LAI", "fCOVER"]
DATES = ("2023-05-01", "2023-06-01")
#: 2 km × 2 km, pixel-aligned, straddling tiles 42 and 43 (EPSG:3979).
BBOX = (-801_000.0, 606_920.0, -799_000.0, 608_920.0)  # on the 20 m lattice
NATIVE = "EPSG:3979"

LEAFCUBE_RUNNER = """
import sys, numpy as np
from leafcube.client import Cube
url, mode, out = sys.argv[1:4]
res = Cube(url, mode=mode, progress=False).extract(
    {layers}, {bbox}, start="{start}", end="{end}", qc="data", roi_crs="{crs}"
)
assert res.collection and Cube(url, mode=mode).mode == mode
np.savez(out, **{{f"{{n}}|{{d}}": a.filled(np.nan) for n in res for d, a in res[n].items()}})
"""

GOMEZ_RUNNER = """
import datetime as dt, sys, numpy as np
from GomezEngine import DataStorage, DataStorageSentinel2

class LeafStorage(DataStorageSentinel2):
    # GomezEngine finds a band by its position in valid_bands: the view's layer order
    def __init__(self, url, bands):
        DataStorage.__init__(self, url, max_workers=10)
        self.valid_bands = bands

view, bands, roi, out = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
dates = [dt.date.fromisoformat(d) for d in sys.argv[5:]]
data = LeafStorage(view, bands).extract_band(bands[:2], dates=dates, roi=roi, use_cloud_mask=False)
np.savez(out, **{f"{b}|{d.isoformat()}": a for b, v in data.items() for d, a in v.items()})
"""


def client_env(site) -> dict[str, str]:
    """What a user sets to trust a self-signed certificate: Python's SSL and GDAL's curl."""
    return {
        **os.environ,
        "SSL_CERT_FILE": str(site.cert),
        "GDAL_CURL_CA_BUNDLE": str(site.cert),
        "GDAL_HTTP_VERSION": "2TLS",
    }


@pytest.fixture(scope="module")
def local(demo_cube) -> dict[str, np.ndarray]:
    """leafcube's client on the cube folder itself: the reference values."""
    res = Cube(demo_cube, progress=False).extract(
        LAYERS, BBOX, start=DATES[0], end=DATES[-1], qc="data", roi_crs=NATIVE
    )
    assert res.crs == NATIVE
    return {f"{n}|{d}": a.filled(np.nan) for n in res for d, a in res[n].items()}


def run_leafcube(site, mode: str, tmp_path) -> dict[str, np.ndarray]:
    code = LEAFCUBE_RUNNER.format(
        layers=LAYERS, bbox=BBOX, start=DATES[0], end=DATES[-1], crs=NATIVE
    )
    out = tmp_path / f"{mode}.npz"
    cmd = [sys.executable, "-c", code, site.url, mode, str(out)]
    subprocess.run(cmd, env=client_env(site), check=True, timeout=300)
    with np.load(out) as z:
        return dict(z)


def test_leafcube_client_static_mode(site, local, tmp_path):
    got = run_leafcube(site, "static", tmp_path)
    assert set(got) == set(local) and len(got) == len(LAYERS) * len(DATES)
    for key, ref in local.items():
        assert np.array_equal(got[key], ref, equal_nan=True), key
    assert any(np.isfinite(a).any() for a in got.values())


def test_leafcube_client_server_mode_through_nginx(stack, local, tmp_path):
    got = run_leafcube(stack, "server", tmp_path)
    for key, ref in local.items():
        assert np.array_equal(got[key], ref, equal_nan=True), key


@pytest.fixture(scope="session")
def gomez_python() -> str:
    """A venv with GomezEngine 0.3 over Debian's GDAL bindings (built once, cached)."""
    return str(gomez_venv())


@pytest.mark.slow
def test_gomezengine_reads_the_view(site, local, gomez_python, tmp_path):
    coll = load(site.root).collections[site.collection]
    view = (
        f"{site.url}/api/collections/{coll.name}/gomez.json"
        if site.name == "stack"
        else f"{site.url}/gomez/{coll.name}.json"
    )
    roi = roi_file(BBOX, tmp_path / "roi.geojson")  # in EPSG:3979, as GDAL reads cutlines
    out = tmp_path / "gomez.npz"
    bands = ",".join(coll.layers)  # the view's order; LAI and fCOVER come first
    assert bands.startswith(",".join(LAYERS))
    cmd = [gomez_python, "-c", GOMEZ_RUNNER, view, bands, str(roi), str(out), *DATES]
    subprocess.run(cmd, env=client_env(site), check=True, timeout=300, capture_output=True)
    with np.load(out) as z:
        dns = dict(z)
    assert set(dns) == set(local)
    masked = 0
    for key, ref in local.items():
        spec = coll.layers[key.split("|")[0]]
        values = dns[key].astype(np.float32) * np.float32(spec.scale) + np.float32(spec.offset)
        assert values.shape == ref.shape, key
        have = np.isfinite(ref)
        assert have.any() and np.array_equal(values[have], ref[have]), key
        # no data reaches GomezEngine as nodata (-9999: its own NaN below -9990), never as 0
        assert np.array_equal(np.isnan(dns[key]), ~have), key
        masked += int((~have).sum())
    assert masked > 100  # the area holds no data as well as data
