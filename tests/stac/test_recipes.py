"""docs/stac.md's recipes, run as written against a real ``leafcube serve`` (its STAC API)
and a published cube on plain nginx (its static STAC): pystac, pystac-client, odc-stac,
stackstac and GDAL's STACIT each give leafcube's client's LAI, no data as NaN or the
nodata DN, real zeros as zeros."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio

from tests.stac.conftest import AREA, DATES, lonlat_bbox

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

DOC = Path(__file__).resolve().parents[2] / "docs" / "stac.md"
API_URL = "http://127.0.0.1:8000"
STATIC_URL = "https://leaf.example.org"


def recipe(name: str) -> str:
    """The code block under ``<!-- recipe: name -->`` in docs/stac.md."""
    m = re.search(rf"<!-- recipe: {re.escape(name)} -->\n```\w+\n(.*?)```", DOC.read_text(), re.S)
    assert m, f"no recipe {name!r} in {DOC}"
    return m.group(1)


def run(names: list[str], urls: dict[str, str]) -> dict[str, Any]:
    """Execute recipes in one namespace, with the docs' URLs replaced by the test servers'."""
    scope: dict[str, Any] = {}
    for name in names:
        code = recipe(name)
        for old, new in urls.items():
            code = code.replace(old, new)
        exec(compile(code, f"docs/stac.md:{name}", "exec"), scope)
    return scope


def check(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Same values, NaN exactly where leafcube has no data; zeros are kept as zeros."""
    assert got.shape == want.shape, what
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=what)
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], atol=1e-6)
    assert (got == 0).sum() == (want == 0).sum() > 100, what


def by_date(values: Any, times: Any) -> dict[str, np.ndarray]:
    return {str(t)[:10]: np.asarray(v, dtype="float64") for t, v in zip(times, values, strict=True)}


def test_area_recipe_matches_the_tests_area():
    scope = run(["area"], {})
    assert scope["AREA"] == AREA
    exact = lonlat_bbox(AREA)
    bbox = scope["BBOX"]
    assert bbox[0] <= exact[0] and bbox[1] <= exact[1] and bbox[2] >= exact[2]
    assert bbox[3] >= exact[3] and max(abs(a - b) for a, b in zip(bbox, exact, strict=True)) < 1e-3


@pytest.fixture(scope="module")
def from_api(server_url) -> dict[str, Any]:
    return run(["area", "pystac-client"], {API_URL: server_url})


@pytest.fixture(scope="module")
def from_static(published) -> dict[str, Any]:
    return run(["area", "pystac"], {STATIC_URL: published.url})


def test_pystac_client_search_finds_the_tiles_items(from_api, expected):
    ids = [i.id for i in from_api["items"]]
    assert ids == [f"{expected.collection}-{d}-tile42" for d in DATES]
    assert [i.id for i in from_api["post"].items()] == ids[:1]
    href = from_api["items"][0].assets["LAI"].get_absolute_href()
    assert href.startswith("http://127.0.0.1:") and href.endswith("/tile42/LAI.tif")


def test_pystac_static_items_resolve_over_http(from_static, published, expected):
    assert from_static["lai_href"].startswith(published.url + "/")
    assert [i.id for i in from_static["items"]] == [
        f"{expected.collection}-{d}-tile42" for d in DATES
    ]
    with rasterio.open(from_static["items"][0].assets["LAI"].get_absolute_href()) as src:
        assert src.nodata == expected.nodata and src.crs.to_epsg() == 3979


@pytest.mark.parametrize("source", ["from_api", "from_static"])
def test_odc_stac_load_gives_the_clients_values(source, request, expected):
    scope = request.getfixturevalue(source)
    exec(compile(recipe("odc-stac"), "docs/stac.md:odc-stac", "exec"), scope)
    ds, lai = scope["ds"], scope["lai"]
    assert ds.LAI.dtype == np.int16 and ds.LAI.attrs["nodata"] == expected.nodata
    assert float(ds.x[0]) == AREA[0] + 10 and float(ds.y[0]) == AREA[3] - 10  # pixel centres
    got = by_date(lai.values, lai.time.values)
    assert sorted(got) == list(DATES)
    for d in DATES:
        check(got[d], expected.lai[d], f"odc-stac {source} {d}")


@pytest.mark.parametrize("source", ["from_api", "from_static"])
def test_stackstac_stack_gives_the_clients_values(source, request, expected):
    scope = request.getfixturevalue(source)
    exec(compile(recipe("stackstac"), "docs/stac.md:stackstac", "exec"), scope)
    da = scope["lai_stack"]
    assert float(da.x[0]) == AREA[0] and float(da.y[0]) == AREA[3]  # stackstac: pixel corners
    got = by_date(da.values, da.time.values)
    assert sorted(got) == list(DATES)
    for d in DATES:
        check(got[d], expected.lai[d], f"stackstac {source} {d}")


def test_gdal_stacit_gives_the_clients_dns(server_url, published, expected, tmp_path):
    script = recipe("stacit").replace(API_URL, server_url).replace(STATIC_URL, published.url)
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert ":asset=LAI" in out.stdout  # the static items.json lists the LAI asset
    with rasterio.open(tmp_path / "lai_2023-08.tif") as src:
        dn = src.read(1).astype("float64")
        assert src.nodata == expected.nodata and src.shape == (250, 150)
        assert src.transform.c == AREA[0] and src.transform.f == AREA[3]
    lai = np.where(dn == expected.nodata, np.nan, dn * expected.scale)
    check(lai, expected.lai["2023-08-01"], "STACIT")
