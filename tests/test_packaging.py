"""A notebook user's ``pip install leafcube`` (no extras): the client works against a
server and a plain web server, the server stack is not installed, and ``leafcube serve``
says which extra it needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from leafcube.client import Cube

ROOT = Path(__file__).resolve().parents[1]
BBOX = (-107.43, 53.80, -107.40, 53.82)
EXTRACT = """
import sys, numpy as np
from leafcube.client import Cube
res = Cube(sys.argv[1], progress=False).extract(
    ["LAI", "QC"], (-107.43, 53.80, -107.40, 53.82), start="2024-05-01", end="2024-08-31", qc="data"
)
np.savez(sys.argv[2], **{f"{n}|{d}": a.filled(np.nan) for n in res for d, a in res[n].items()})
print(res.crs, sorted(sys.modules).count("fastapi"), sorted(sys.modules).count("granian"))
"""
LAZY = """
import sys, numpy as np, xarray as xr
from leafcube.client import ClientError, Cube
try:  # no dask in the base install: a clear error, and lazy indexing still works
    Cube(sys.argv[1], progress=False).open_dataset("LAI", start="2024-05-01")
except ClientError as exc:
    assert "dask" in str(exc), exc
else:
    raise AssertionError("chunks without dask")
ds = xr.open_dataset(sys.argv[1], engine="leafcube", layers="LAI", start="2024-05-01")
print(int(np.isfinite(ds.LAI[0].values).sum()))
"""


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("base") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(ROOT)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return venv


@pytest.mark.slow
def test_the_base_install_has_no_server_stack(base_venv):
    missing = subprocess.run(
        [str(base_venv / "bin" / "python"), "-c", "import fastapi"], capture_output=True
    )
    assert missing.returncode != 0
    serve = subprocess.run(
        [str(base_venv / "bin" / "leafcube"), "serve", str(ROOT)], capture_output=True, text=True
    )
    assert serve.returncode == 2 and "Traceback" not in serve.stderr
    assert "pip install 'leafcube[server]'" in serve.stderr


@pytest.mark.slow
@pytest.mark.parametrize("where", ["server_url", "nginx_url"])
def test_the_base_install_extracts(base_venv, where, request, demo_cube, tmp_path):
    url = request.getfixturevalue(where)
    out = tmp_path / "got.npz"
    done = subprocess.run(
        [str(base_venv / "bin" / "python"), "-c", EXTRACT, url, str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["EPSG:3979", "0", "0"]  # and no server module was imported
    ref = Cube(demo_cube, progress=False).extract(
        ["LAI", "QC"], BBOX, start="2024-05-01", end="2024-08-31", qc="data"
    )
    with np.load(out) as got:
        assert sorted(got) == sorted(f"{n}|{d}" for n in ref for d in ref[n])
        for n in ref:
            for d, a in ref[n].items():
                np.testing.assert_array_equal(got[f"{n}|{d}"], a.filled(np.nan))


@pytest.mark.slow
def test_the_base_install_opens_lazily(base_venv, server_url, demo_cube):
    """The xarray entry point is registered by the base install; without dask, chunking
    says what to install and xarray's lazy indexing still reads."""
    done = subprocess.run(
        [str(base_venv / "bin" / "python"), "-c", LAZY, server_url],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    with Cube(demo_cube, progress=False) as cube:
        ds = cube.open_dataset("LAI", start="2024-05-01", chunks=False)
        assert int(done.stdout.split()[-1]) == int(np.isfinite(ds.LAI[0].values).sum()) > 0
