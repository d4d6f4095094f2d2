"""docs/recipes.md's recipes, run as written with the real programs (GDAL's CLI, rioxarray,
R terra, GomezEngine 0.3, QGIS 3.22) against a real ``leafcube serve`` and the cube on a
plain nginx: each gives leafcube's client's LAI on an area that holds both real zeros and
no data, no data as nodata / NA / NaN / transparent and real zeros as zeros."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from bench.extract import gomez_python as gomez_venv
from tests.clients.conftest import SERVE_URL, STATIC_URL, Area, assign, recipe, same

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

TIMEOUT = 180
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, which python3-qgis installs into


def gdal_script(area: Area, url: str, *names: str, **values: str) -> str:
    """The GDAL setup recipe for ``url`` followed by the named recipes."""
    setup = assign(recipe("gdal-setup"), CUBE=url, C=area.collection, DATE=area.date)
    body = "\n".join(recipe(n) for n in names)
    return setup + "\n" + (assign(body, **values) if values else body)


def bash(script: str, cwd: Path) -> str:
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def physical(tif: Path, area: Area) -> tuple[np.ndarray, rasterio.Affine]:
    """A GeoTIFF of LAI DNs that a tool wrote, as LAI with NaN where it says no data."""
    with rasterio.open(tif) as src:
        assert src.nodata == area.nodata and src.scales[0] == area.scale
        dn = src.read(1).astype("float64")
        return np.where(dn == area.nodata, np.nan, dn * area.scale), src.transform


def python(executable: str, code: str, cwd: Path, **env: str) -> str:
    out = subprocess.run(
        [executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **env},
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return out.stdout


# -- GDAL's command line ------------------------------------------------------------------


def test_gdalinfo_shows_nodata_and_scale(site, area, tmp_path):
    name, url = site
    out = bash(gdal_script(area, url, "gdalinfo"), tmp_path)
    assert "Driver: VRT/Virtual Raster" in out and "Size is 600, 600" in out
    assert f"NoData Value={area.nodata}" in out and "Scale:0.05" in out, out
    assert "Unit Type: m2 m-2" in out
    assert f"/vsicurl/{url}/{area.collection}/{area.date}/tile42/LAI.tif" in out


@pytest.mark.parametrize("kind", ["zero", "nodata", "value"])
def test_gdallocationinfo_at_a_point(site, area, kind, tmp_path):
    name, url = site
    x, y = area.points[kind]
    out = bash(gdal_script(area, url, "gdallocationinfo", X=str(x), Y=str(y)), tmp_path).split()
    want = area.at[kind]
    assert len(out) == 1, out
    if math.isnan(want):
        assert out == ["nodata"]
    else:
        assert float(out[0]) == pytest.approx(want, abs=1e-6)
        assert (out == ["0"]) == (kind == "zero")


def test_gdalwarp_cutline_gives_the_polygons_pixels(site, area, tmp_path):
    name, url = site
    area.roi_file(tmp_path)
    out = bash(gdal_script(area, url, "gdalwarp"), tmp_path)
    assert "NoData Value=-9999" in out
    lai, transform = physical(tmp_path / "lai_roi.tif", area)
    assert (transform.c, transform.f) == (area.bounds[0], area.bounds[3])
    same(lai, area.roi, f"gdalwarp {name}")


def test_gdal_translate_projwin_gives_the_box(site, area, tmp_path):
    name, url = site
    x0, y0, x1, y1 = (str(v) for v in area.bounds)
    script = gdal_script(area, url, "gdal_translate", ULX=x0, ULY=y1, LRX=x1, LRY=y0)
    bash(script, tmp_path)
    lai, transform = physical(tmp_path / "lai_box.tif", area)
    assert (transform.c, transform.f) == (area.bounds[0], area.bounds[3])
    same(lai, area.box, f"gdal_translate {name}")
    with rasterio.open(tmp_path / "lai_box_m2.tif") as src:  # -unscale: LAI, NaN = no data
        assert src.dtypes[0] == "float32" and math.isnan(src.nodata) and src.scales[0] == 1
        assert src.transform == transform
        same(src.read(1), area.box, f"gdal_translate -unscale {name}")


# -- rioxarray ----------------------------------------------------------------------------


def test_rioxarray_open_rasterio_masked(site, area, tmp_path):
    name, url = site
    code = assign(recipe("rioxarray"), CUBE=repr(url), DATE=repr(area.date), AREA=repr(area.bounds))
    code += (
        "\nimport numpy as np\n"
        "np.save('lai.npy', lai.values)\n"
        "print(lai.dtype, float(lai.x[0]), float(lai.y[0]))\n"
    )
    dtype, x, y = python(sys.executable, code, tmp_path).split()
    assert dtype == "float32"  # masked=True: NaN for no data, not a 0
    assert (float(x), float(y)) == (area.bounds[0] + 10, area.bounds[3] - 10)  # pixel centres
    same(np.load(tmp_path / "lai.npy"), area.box, f"rioxarray {name}")


# -- R terra ------------------------------------------------------------------------------


def test_r_terra_extract_and_crop(site, area, tmp_path):
    name, url = site
    kinds = ["zero", "nodata", "value"]
    xs = ", ".join(str(area.points[k][0]) for k in kinds)
    ys = ", ".join(str(area.points[k][1]) for k in kinds)
    x0, y0, x1, y1 = area.bounds
    code = assign(
        recipe("terra"),
        cube=json.dumps(url),
        date=json.dumps(area.date),
        pts=f"cbind(x = c({xs}), y = c({ys}))",
        box=f"crop(lai, ext({x0}, {x1}, {y0}, {y1}))",
    )
    code += (
        '\nwrite.csv(at_points, "points.csv", row.names = FALSE)\n'
        'writeLines(as.character(v), "box.txt")\n'
        'writeLines(as.character(c(nrow(box), ncol(box), xmin(box), ymax(box))), "grid.txt")\n'
    )
    (tmp_path / "recipe.R").write_text(code)
    out = subprocess.run(
        ["Rscript", "recipe.R"], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert out.returncode == 0, out.stderr[-4000:]
    rows, cols, xmin, ymax = (float(v) for v in (tmp_path / "grid.txt").read_text().split())
    assert (rows, cols, xmin, ymax) == (*area.box.shape, area.bounds[0], area.bounds[3])
    text = (tmp_path / "box.txt").read_text().split()
    values = [float("nan") if v == "NA" else float(v) for v in text]
    same(np.array(values).reshape(area.box.shape), area.box, f"terra crop {name}")
    with open(tmp_path / "points.csv") as f:
        got = [r["LAI"] for r in csv.DictReader(f)]
    for kind, v in zip(kinds, got, strict=True):
        want = area.at[kind]
        if math.isnan(want):
            assert v == "NA", kind
        else:
            assert float(v) == pytest.approx(want, abs=1e-6), kind
    assert got[kinds.index("zero")] == "0"


# -- GomezEngine 0.3 ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def gomez_python() -> str:
    """A venv with GomezEngine 0.3 over Debian's GDAL bindings (built once, cached)."""
    return str(gomez_venv())


@pytest.fixture(scope="session", params=["serve", "published"])
def gomez_view(request, area) -> tuple[str, str]:
    """(name, URL of the GomezEngine view): the server's, and the published cube's on nginx."""
    if request.param == "serve":
        url = request.getfixturevalue("server_url")
        return "serve", f"{url}/api/collections/{area.collection}/gomez.json"
    return "published", f"{request.getfixturevalue('published').url}/gomez/{area.collection}.json"


@pytest.mark.slow
def test_gomezengine_extract_band(gomez_view, area, gomez_python, tmp_path):
    name, view = gomez_view
    assert httpx.get(view).json()[area.date][0].endswith(f"/{area.date}/LAI.vrt")
    area.roi_file(tmp_path)
    y, m, d = (int(p) for p in area.date.split("-"))
    code = assign(
        recipe("gomezengine"),
        VIEW=repr(view),
        LAYERS=repr(area.layers),
        DAY=f"dt.date({y}, {m}, {d})",
    )
    code += "\nimport numpy as np\nnp.save('lai.npy', lai)\nprint(lai.dtype)\n"
    out = python(gomez_python, code, tmp_path)
    assert out.split()[-1] == "float64"
    same(np.load(tmp_path / "lai.npy"), area.roi, f"GomezEngine {name}")


def test_a_copied_cube_folder_has_a_relative_gomez_view(nginx_url, area):
    """What docs/recipes.md says: GomezEngine needs a cube published for its URL."""
    urls = httpx.get(f"{nginx_url}/gomez/{area.collection}.json").json()[area.date]
    assert urls[0] == f"{area.collection}/{area.date}/LAI.vrt"


# -- QGIS ---------------------------------------------------------------------------------

QGIS_DUMP = """
import json
samples = {}
for kind, (x, y) in POINTS.items():
    v, good = lai.dataProvider().sample(QgsPointXY(x, y), 1)
    samples[kind] = v if good else None
grid = [[None if box.isNoData(r, c) else box.value(r, c) for c in range(30)] for r in range(30)]
print(json.dumps({"value": value, "ok": ok, "samples": samples, "box": grid}))
"""


def qgis_env(tmp_path: Path) -> dict[str, str]:
    """A home of its own for QGIS (it writes a user profile), in the test's folder."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    return {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(runtime)}


def test_qgis_reads_the_mosaic_over_vsicurl(site, area, tmp_path):
    name, url = site
    code = assign(
        recipe("qgis"),
        CUBE=repr(url),
        DATE=repr(area.date),
        POINT=repr(area.points["value"]),
        AREA=repr(area.bounds),
    )
    code += f"POINTS = {area.points!r}\n" + QGIS_DUMP + "del lai, box\napp.exitQgis()\n"
    got = json.loads(python(SYSTEM_PYTHON, code, tmp_path, **qgis_env(tmp_path)).splitlines()[-1])
    assert got["ok"] and got["value"] == pytest.approx(area.at["value"], abs=1e-6)
    assert got["samples"]["nodata"] is None and got["samples"]["zero"] == 0
    box = np.array([[np.nan if v is None else v for v in row] for row in got["box"]])
    same(box, area.box, f"QGIS {name}")


WMTS_DUMP = """
from qgis.core import QgsPointXY, QgsRectangle
settings.setExtent(QgsRectangle(*EXTENT))
settings.setOutputSize(QSize(600, 600))
job = QgsMapRendererSequentialJob(settings)
job.start()
job.waitForFinished()
image = job.renderedImage()
m2p = settings.mapToPixel()
alpha = {}
for kind, (x, y) in POINTS.items():
    p = m2p.transform(QgsPointXY(x, y))
    alpha[kind] = image.pixelColor(int(p.x()), int(p.y())).alpha()
image.save("wmts.png")
print(json.dumps({"alpha": alpha, "errors": [e.message for e in job.errors()]}))
"""


def test_qgis_renders_the_wmts_of_a_date(server_url, area, tmp_path):
    to_merc = Transformer.from_crs("EPSG:3979", "EPSG:3857", always_xy=True)
    x0, y0, x1, y1 = area.bounds
    xs, ys = to_merc.transform([x0, x0, x1, x1], [y0, y1, y0, y1])
    extent = (min(xs), min(ys), max(xs), max(ys))
    points = {k: to_merc.transform(*p) for k, p in area.points.items()}
    code = assign(recipe("qgis"), CUBE=repr(server_url), DATE=repr(area.date))
    wmts = recipe("qgis-wmts").replace(SERVE_URL, server_url)
    assert server_url in wmts
    code += wmts + f"EXTENT = {extent!r}\nPOINTS = {points!r}\nimport json\n" + WMTS_DUMP
    code += "del lai, box, tiles, job, image\napp.exitQgis()\n"
    got = json.loads(python(SYSTEM_PYTHON, code, tmp_path, **qgis_env(tmp_path)).splitlines()[-1])
    assert got["errors"] == []
    alpha = got["alpha"]
    assert alpha["nodata"] == 0, alpha  # no data is transparent
    assert alpha["zero"] == 255 and alpha["value"] == 255, alpha  # a real zero is drawn


def test_recipes_are_written_for_the_urls_the_tests_replace():
    for name in ("gdal-setup", "rioxarray", "terra", "gomezengine", "qgis"):
        assert STATIC_URL in recipe(name), name
    assert SERVE_URL in recipe("qgis-wmts")
