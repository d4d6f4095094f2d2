"""The viewer in Debian's Chromium against ``leafcube serve`` over HTTP/2 (TLS): what the
page shows is checked against the server's own tiles, the catalogue's layer specs, the
/timeseries endpoint and the /subset files. The tests run in order on one page, each a
state of a user's visit, and each saves a screenshot into docs/images/."""

from __future__ import annotations

import csv
import io
import math
import ssl
from pathlib import Path

import h5netcdf
import httpx
import numpy as np
import pytest
import rasterio

from leafcube.catalogue import load
from tests.viewer.conftest import new_page, screenshot
from tests.viewer.helpers import Tiles, act, aligned, click_map, compare_with_tiles, set_date

pytestmark = pytest.mark.slow
ZOOM = 13  # the TileJSON maxzoom of the demo (20 m): deeper, MapLibre overzooms
FIELD = (-107.479, 53.807)  # a forest stand of the demo landscape (data in summer)


@pytest.fixture(scope="module")
def spec(tls_served):
    coll = load(tls_served.cube).collections[tls_served.collection]
    return coll


@pytest.fixture(scope="module")
def api(tls_served):
    with httpx.Client(
        base_url=tls_served.url,
        http1=False,
        http2=True,
        verify=ssl.create_default_context(cafile=tls_served.cert),
        timeout=60,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def page(browser, tls_served, latencies):
    page = new_page(browser, tls_served.url + "/")
    yield page
    latencies.add("server", page.evaluate("leafcube.timings"))
    assert page.errors == []
    page.context.close()


def shown_tiles(page, api) -> Tiles:
    return Tiles(api, page.evaluate("leafcube.map.getSource('cube').tiles[0]"))


def legend(page) -> tuple[str, list[str]]:
    title = page.locator("#legend .legend-title").inner_text()
    return title, page.locator("#legend .tick").all_inner_texts()


def test_browsers_get_the_viewer_and_api_clients_the_json(api):
    html = api.get("/", headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert html.headers["content-type"].startswith("text/html")
    assert b'content="leafcube-viewer"' in html.content
    assert "accept" in html.headers["vary"].lower()
    for accept in ("*/*", "application/json", "application/json, text/html;q=0.5"):
        r = api.get("/", headers={"accept": accept})
        assert r.headers["content-type"] == "application/json", accept
        assert {link["rel"] for link in r.json()["links"]} >= {"catalogue", "stac", "data"}
    assert api.get("/?f=json", headers={"accept": "text/html"}).json()["links"]
    assert api.get("/?f=html").headers["content-type"].startswith("text/html")


def test_first_view_is_the_latest_date_over_h2_with_the_legend_of_the_layer(page, spec):
    state = page.evaluate("leafcube.state")
    assert page.evaluate("document.body.dataset.mode") == "server"
    assert state["layer"] == "LAI" and state["date"] == max(spec.dates)
    lai = spec.layers["LAI"]
    lo, hi = lai.display_range
    assert legend(page) == (f"LAI ({lai.unit})", [f"{lo:g}", f"{(lo + hi) / 2:g}", f"{hi:g}"])
    protocols = page.evaluate(
        "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/'))"
        ".map(e => e.nextHopProtocol)"
    )
    assert protocols and set(protocols) == {"h2"}
    screenshot(page, "viewer-first-view")


def test_the_colour_bar_has_the_servers_palette(page, spec):
    from leafcube.server.colormaps import palette_for

    bar = page.evaluate(
        """() => {
            const c = document.querySelector('#legend canvas');
            return Array.from(c.getContext('2d').getImageData(0, 7, 256, 1).data);
        }"""
    )
    lai = spec.layers["LAI"]
    rgba = palette_for(lai).rgba
    for x in range(0, 256, 15):
        norm = (x + 0.5) / 256
        want = rgba[round(norm * 254) + 1][:3]
        got = bar[4 * x : 4 * x + 3]
        assert all(abs(int(a) - int(b)) <= 3 for a, b in zip(got, want, strict=True)), (
            x,
            got,
            want,
        )


def test_layer_and_date_change_show_the_servers_tiles(page, api, spec):
    act(page, lambda: page.select_option("#layer", "fCOVER"))
    act(page, lambda: set_date(page, "2023-07-01"))
    act(page, lambda: page.evaluate(f"leafcube.goTo({aligned(*FIELD, ZOOM)}, {ZOOM})"))
    assert page.evaluate("leafcube.drawn") == {
        "layer": "fCOVER",
        "date": "2023-07-01",
        "qc": "data",
    }
    assert page.locator("#date-label").inner_text() == "2023-07-01"
    f = spec.layers["fCOVER"]
    assert legend(page)[0] == f"fCOVER ({f.unit})"
    assert legend(page)[1][-1] == f"{f.display_range[1]:g}"
    sampled, same = compare_with_tiles(page, shown_tiles(page, api), ZOOM)
    assert sampled > 200 and same / sampled > 0.99, (sampled, same)
    screenshot(page, "viewer-layer-date")


def test_qc_toggle_hides_flagged_pixels_as_the_servers_valid_tiles_do(page, api):
    act(page, lambda: page.check("#qc"))
    tiles = shown_tiles(page, api)
    assert tiles.template.endswith("?qc=valid")
    sampled, same = compare_with_tiles(page, tiles, ZOOM)
    assert sampled > 100 and same / sampled > 0.99, (sampled, same)
    assert "qc=valid" in page.url
    screenshot(page, "viewer-qc-valid")


def _series_matches_chart(page, expected: dict, layer: str) -> None:
    x, mean, low, high = page.evaluate(
        f"leafcube.charts[leafcube.seriesLayers.indexOf('{layer}')].data"
    )
    s = expected["layers"][layer]
    days = [
        (np.datetime64(d) - np.datetime64("1970-01-01")).astype(int) * 86400
        for d in expected["dates"]
    ]
    assert x == days
    assert mean == s["mean"]
    for m, sd, lo, hi in zip(s["mean"], s["std"], low, high, strict=True):
        if m is None:
            assert lo is None and hi is None
        else:
            assert math.isclose(lo, m - sd) and math.isclose(hi, m + sd)


def test_click_plots_the_pixels_time_series_as_the_endpoint_gives_it(page, api):
    page.check("#chart-layers input[value=fCOVER]")  # now LAI and fCOVER (no ROI yet)
    act(page, lambda: click_map(page, *FIELD))
    lon, lat = page.evaluate("leafcube.state.roi.coordinates")
    assert abs(lon - FIELD[0]) < 1e-4 and abs(lat - FIELD[1]) < 1e-4
    params = {"layers": "LAI,fCOVER", "lon": lon, "lat": lat, "qc": "valid"}
    expected = api.get(f"/api/collections/{page.evaluate('leafcube.state.collection')}/timeseries",
                       params=params).json()  # fmt: skip
    assert sum(v is not None for v in expected["layers"]["LAI"]["mean"]) >= 6
    for layer in ("LAI", "fCOVER"):
        _series_matches_chart(page, expected, layer)
    assert page.locator(".chart").count() == 2
    screenshot(page, "viewer-point-series")
    with page.expect_download() as dl:
        page.click("#dl-csv")
    rows = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text())))
    assert [r["date"] for r in rows] == expected["dates"]
    for row, m in zip(rows, expected["layers"]["LAI"]["mean"], strict=True):
        assert (float(row["LAI_mean"]) if row["LAI_mean"] else None) == m


def test_a_drawn_polygon_gives_the_zonal_series_and_its_downloads(page, api, tmp_path):
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.click("#draw")
    for dx, dy in ((-120, -90), (110, -100), (130, 80), (-100, 110)):
        page.mouse.click(cx + dx, cy + dy)
    act(page, lambda: page.keyboard.press("Enter"))
    roi = page.evaluate("leafcube.state.roi")
    assert roi["type"] == "Polygon" and len(roi["coordinates"][0]) == 5
    coll = page.evaluate("leafcube.state.collection")
    params = {"layers": "LAI,fCOVER", "qc": "valid"}
    expected = api.post(f"/api/collections/{coll}/timeseries", params=params, json=roi).json()
    assert expected["pixels"] > 100
    for layer in ("LAI", "fCOVER"):
        _series_matches_chart(page, expected, layer)
    assert f"{expected['pixels']} pixels" in page.locator("#roi-info").inner_text()
    screenshot(page, "viewer-polygon-series")

    def download(button: str):
        with page.expect_download() as dl:
            act(page, lambda: page.click(button))
        return dl.value.path()

    tif = download("#dl-tif")
    want = api.post(f"/api/collections/{coll}/subset", params={**params, "format": "tif"}, json=roi)
    (tmp_path / "want.tif").write_bytes(want.content)
    with rasterio.open(tif) as got, rasterio.open(tmp_path / "want.tif") as ref:
        assert got.count == ref.count == 2 * len(expected["dates"])
        assert got.transform == ref.transform and got.crs == ref.crs
        np.testing.assert_array_equal(got.read(), ref.read())
        tags = [got.tags(i)["layer"] + " " + got.tags(i)["date"] for i in (1, got.count)]
        assert tags == [f"LAI {expected['dates'][0]}", f"fCOVER {expected['dates'][-1]}"]
        lai = got.read(list(range(1, len(expected["dates"]) + 1)))
    nc = download("#dl-nc")
    with h5netcdf.File(nc, "r") as f:
        np.testing.assert_array_equal(np.asarray(f["LAI"][:]), lai)
    means = [None if np.isnan(a).all() else float(np.nanmean(a)) for a in lai]
    for got_mean, want_mean in zip(means, expected["layers"]["LAI"]["mean"], strict=True):
        assert (got_mean is None) == (want_mean is None)
        if want_mean is not None:
            assert math.isclose(got_mean, want_mean, rel_tol=1e-5)


def test_the_permalink_reopens_the_same_view(page, browser, tls_served, spec):
    url = page.url
    assert "layer=fCOVER" in url and "date=2023-07-01" in url and "qc=valid" in url
    again = new_page(browser, url)
    try:
        state = again.evaluate("leafcube.state")
        assert (state["layer"], state["date"], state["qc"]) == ("fCOVER", "2023-07-01", "valid")
        assert abs(state["view"][2] - page.evaluate("leafcube.map.getZoom()")) < 0.01
        assert again.locator("#qc").is_checked()
        assert again.locator("#layer").input_value() == "fCOVER"
        assert again.errors == []
    finally:
        again.context.close()


def test_play_steps_through_the_dates(page, spec):
    keys = sorted(spec.dates)
    start = page.evaluate("leafcube.state.date")
    act(page, lambda: page.click("#play"))
    act(page, lambda: None)  # the next step, drawn
    page.click("#play")  # pause
    shown = page.evaluate("leafcube.state.date")
    assert keys.index(shown) == (keys.index(start) + 2) % len(keys)
    assert page.locator("#date-label").inner_text() == shown
