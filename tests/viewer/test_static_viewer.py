"""The viewer of a cube published with ``leafcube publish`` on nginx alone (h2 + TLS, no
leafcube process): the page ``index.html`` that assembling the cube put there, layers drawn
in the browser from the COGs and a point's time series read from them with range requests,
checked against what ``leafcube serve`` gives for the same cube."""

from __future__ import annotations

import csv
import io
import ssl
from pathlib import Path

import httpx
import pytest
from pyproj import Transformer

from leafcube.catalogue import load
from tests.viewer import helpers
from tests.viewer.conftest import new_page, screenshot
from tests.viewer.helpers import Tiles, act, aligned, click_map, compare_with_tiles, set_date

pytestmark = pytest.mark.slow
ZOOM = 13
FIELD = (-107.479, 53.807)  # a forest stand of the demo landscape (data in summer)


@pytest.fixture(scope="module")
def api(tls_served):
    ctx = ssl.create_default_context(cafile=tls_served.cert)
    with httpx.Client(base_url=tls_served.url, http2=True, verify=ctx, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def page(browser, static_site, latencies):
    assert (static_site.root / "index.html").is_file()  # published with the cube
    page = new_page(browser, static_site.url + "/index.html")
    yield page
    latencies.add("static", page.evaluate("leafcube.timings"))
    assert page.errors == []
    page.context.close()


def pixel_centre(coll, lon: float, lat: float) -> tuple[float, float]:
    """The lon/lat of the centre of the native pixel that holds ``lon``, ``lat``."""
    to, back = (Transformer.from_crs(a, b, always_xy=True) for a, b in
                (("EPSG:4326", coll.crs), (coll.crs, "EPSG:4326")))  # fmt: skip
    x, y = to.transform(lon, lat)
    r = coll.resolution
    return back.transform((x // r + 0.5) * r, (y // r + 0.5) * r)


def test_the_published_cube_opens_in_static_mode_with_its_legend(page, static_site):
    assert page.evaluate("document.body.dataset.mode") == "static"
    assert "need leafcube serve" in page.locator("#mode").inner_text()
    assert page.locator("#draw").is_hidden() and page.locator("#dl-tif").is_hidden()
    coll = load(static_site.root).collections[static_site.collection]
    lai = coll.layers["LAI"]
    assert page.locator("#legend .legend-title").inner_text() == f"LAI ({lai.unit})"
    assert page.locator("#legend .tick").last.inner_text() == f"{lai.display_range[1]:g}"
    protocols = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.endsWith('.tif'))"
        ".map(e => e.nextHopProtocol)"
    )
    assert protocols and set(protocols) == {"h2"}  # the COGs, range-read over HTTP/2


def test_layers_drawn_in_the_browser_match_the_servers_tiles(page, api):
    set_to = "2023-07-01"
    act(page, lambda: set_date(page, set_to))
    act(page, lambda: page.evaluate(f"leafcube.goTo({aligned(*FIELD, ZOOM)}, {ZOOM})"))
    assert page.evaluate("leafcube.drawn") == {"layer": "LAI", "date": set_to, "qc": "data"}
    coll = page.evaluate("leafcube.state.collection")
    tiles = Tiles(
        api, f"/api/collections/{coll}/tiles/LAI/{set_to}/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
    )
    sampled, same = compare_with_tiles(page, tiles, ZOOM)
    # drawn by the browser from the COG, with its own resampling: at data pixels' edges
    # (a 20 m pixel is under 2 screen pixels here) the browser and the server may pick
    # neighbouring pixels; everywhere else the colours are the server's
    assert sampled > 200 and same / sampled > 0.85, (sampled, same, helpers.MISMATCHES[:20])
    screenshot(page, "viewer-static")


def test_the_qc_toggle_hides_what_the_servers_valid_tiles_hide(page, api):
    act(page, lambda: page.check("#qc"))
    assert page.evaluate("leafcube.drawn")["qc"] == "valid"
    coll = page.evaluate("leafcube.state.collection")
    url = f"/api/collections/{coll}/tiles/LAI/2023-07-01/WebMercatorQuad/{{z}}/{{x}}/{{y}}.png"
    sampled, same = compare_with_tiles(page, Tiles(api, url + "?qc=valid"), ZOOM)
    assert sampled > 200 and same / sampled > 0.85, (sampled, same, helpers.MISMATCHES[:20])
    act(page, lambda: page.uncheck("#qc"))


def test_a_click_reads_the_pixels_series_from_the_cogs_as_the_server_does(page, api, static_site):
    coll = load(static_site.root).collections[static_site.collection]
    lon, lat = pixel_centre(coll, *FIELD)
    act(page, lambda: click_map(page, lon, lat))
    clicked = page.evaluate("leafcube.state.roi.coordinates")
    expected = api.get(
        f"/api/collections/{coll.name}/timeseries",
        params={"layers": "LAI", "lon": clicked[0], "lat": clicked[1]},
    ).json()
    got = page.evaluate("leafcube.series")
    assert got["dates"] == expected["dates"]
    want = expected["layers"]["LAI"]["mean"]
    assert sum(v is not None for v in want) >= 6
    for g, w in zip(got["layers"]["LAI"]["mean"], want, strict=True):
        assert (g is None) == (w is None)
        if w is not None:
            assert abs(g - w) < 1e-6
    assert page.evaluate("leafcube.charts[0].data[1]") == got["layers"]["LAI"]["mean"]
    with page.expect_download() as dl:
        page.click("#dl-csv")
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert [r["date"] for r in rows] == expected["dates"]
    screenshot(page, "viewer-static-point")
