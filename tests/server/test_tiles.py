"""Tiles, TileJSON and WMTS: rendered from the COGs, checked against rio-tiler and OWSLib."""

from __future__ import annotations

import io

import numpy as np
import pytest
from owslib.wmts import WebMapTileService
from PIL import Image
from rio_tiler.io import Reader

from leafcube.catalogue import load
from leafcube.server.tms import TMS

LON, LAT = -107.418822, 53.8093525


def _tile_url(served, layer, date, tms, z, x, y, qc=""):
    url = f"/api/collections/{served.collection}/tiles/{layer}/{date}/{tms}/{z}/{x}/{y}.png"
    return url + (f"?qc={qc}" if qc else "")


def _rgba(content: bytes) -> np.ndarray:
    """A PNG as (4, 256, 256) RGBA, decoded by Pillow."""
    image = Image.open(io.BytesIO(content))
    assert (image.format, image.size) == ("PNG", (256, 256))
    return np.asarray(image.convert("RGBA")).transpose(2, 0, 1)


@pytest.mark.parametrize("tms", list(TMS))
def test_tile_matches_rio_tiler_footprint(h2, served, tms):
    t = TMS[tms].tile(LON, LAT, 12)
    r = h2.get(_tile_url(served, "LAI", "2023-07-01", tms, t.z, t.x, t.y))
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    alpha = _rgba(r.content)[3] > 0
    vrt = served.cube / served.collection / "2023-07-01" / "LAI.vrt"
    with Reader(str(vrt), tms=TMS[tms]) as src:
        ref = src.tile(t.x, t.y, t.z, resampling_method="nearest")
    ref_alpha = ref.mask > 0
    assert alpha.mean() > 0.2
    assert (alpha == ref_alpha).mean() > 0.98


def test_qc_valid_hides_flagged_pixels(h2, served):
    t = TMS["WebMercatorQuad"].tile(LON, LAT, 12)
    hidden = 0
    for date in sorted(load(served.cube).collections[served.collection].dates):
        data = (
            _rgba(h2.get(_tile_url(served, "LAI", date, "WebMercatorQuad", *t[2:], *t[:2])).content)
            if False
            else None
        )
        url = _tile_url(served, "LAI", date, "WebMercatorQuad", t.z, t.x, t.y)
        data = _rgba(h2.get(url).content)[3] > 0
        valid = _rgba(h2.get(url + "?qc=valid").content)[3] > 0
        assert not (valid & ~data).any()
        hidden += int((data & ~valid).sum())
    assert hidden > 0


def test_time_placeholder_and_latest_answer(h2, served):
    t = TMS["WebMercatorQuad"].tile(LON, LAT, 12)
    last = max(load(served.cube).collections[served.collection].dates)
    want = h2.get(_tile_url(served, "LAI", last, "WebMercatorQuad", t.z, t.x, t.y)).content
    for alias in ("%7Btime%7D", "latest"):
        got = h2.get(_tile_url(served, "LAI", alias, "WebMercatorQuad", t.z, t.x, t.y))
        assert got.content == want
    day = h2.get(_tile_url(served, "LAI", last[:8] + "15", "WebMercatorQuad", t.z, t.x, t.y))
    assert day.content == want


def test_tile_outside_data_is_transparent(h2, served):
    r = h2.get(_tile_url(served, "LAI", "latest", "WebMercatorQuad", 12, 0, 0))
    assert r.status_code == 200 and not _rgba(r.content)[3].any()


@pytest.mark.parametrize(
    ("layer", "date", "tms", "z", "x", "y", "status"),
    [
        ("LAI", "latest", "WebMercatorQuad", 30, 0, 0, 404),
        ("LAI", "latest", "WebMercatorQuad", 2, 9, 0, 404),
        ("LAX", "latest", "WebMercatorQuad", 2, 0, 0, 404),
        ("LAI", "2023-02-30", "WebMercatorQuad", 2, 0, 0, 400),
        ("LAI", "1999-01-01", "WebMercatorQuad", 2, 0, 0, 404),
        ("LAI", "latest", "Nope", 2, 0, 0, 404),
    ],
)
def test_bad_tile_requests(h2, served, layer, date, tms, z, x, y, status):
    r = h2.get(_tile_url(served, layer, date, tms, z, x, y))
    assert r.status_code == status
    assert r.json()["detail"]


def test_tilejson(h2, served):
    body = h2.get(f"/api/collections/{served.collection}/tilejson.json?layer=fCOVER").json()
    assert body["tilejson"] == "3.0.0"
    assert body["tiles"][0].startswith(served.url) and "/tiles/fCOVER/" in body["tiles"][0]
    assert body["maxzoom"] == 13
    lon0, lat0, lon1, lat1 = body["bounds"]
    assert lon0 < LON < lon1 and lat0 < LAT < lat1


def test_wmts_capabilities_read_by_owslib(h2, served):
    coll = load(served.cube).collections[served.collection]
    xml = h2.get(f"/api/collections/{served.collection}/WMTSCapabilities.xml").content
    wmts = WebMapTileService(url=f"{served.url}/wmts", xml=xml)
    assert set(wmts.contents) == set(coll.layers)
    lai = wmts.contents["LAI"]
    assert set(lai.tilematrixsetlinks) == set(TMS)
    template = lai.resourceURLs[0]["template"]
    assert "{time}" in template and "{TileMatrix}" in template
    dims = lai.dimensions["time"]
    assert dims["values"] == sorted(coll.dates) and dims["default"] == max(coll.dates)
    for tms_id, tms in TMS.items():
        for z, matrix in wmts.tilematrixsets[tms_id].tilematrix.items():
            cell = tms.matrix(int(z)).cellSize
            assert matrix.scaledenominator == pytest.approx(cell / 0.00028)
    t = TMS["CCRS3979"].tile(LON, LAT, 12)
    # level 12's cells are the data's pixels: its tile edges sit on the collection's lattice
    edges = TMS["CCRS3979"].xy_bounds(t)
    assert TMS["CCRS3979"].matrix(12).cellSize == coll.resolution
    for edge, origin in zip(edges, (*coll.origin, *coll.origin), strict=True):
        assert (edge - origin) % coll.resolution == pytest.approx(0, abs=1e-6), edges
    # QGIS 3.22 without tileDimensions sends the literal {time}: the latest date answers
    url = (
        template.replace("{TileMatrixSet}", "CCRS3979")
        .replace("{TileMatrix}", "12")
        .replace("{TileCol}", str(t.x))
        .replace("{TileRow}", str(t.y))
    )
    assert _rgba(h2.get(url.removeprefix(served.url)).content)[3].any()


def test_every_layer_renders(h2, served):
    coll = load(served.cube).collections[served.collection]
    t = TMS["WebMercatorQuad"].tile(LON, LAT, 12)
    for layer in coll.layers:
        r = h2.get(_tile_url(served, layer, "2023-07-01", "WebMercatorQuad", t.z, t.x, t.y))
        assert r.status_code == 200, (layer, r.text)
        rgba = _rgba(r.content)
        assert rgba[3].any(), layer
        assert len({tuple(px) for px in rgba[:3].reshape(3, -1).T[::97]}) > 1, layer


def test_tile_etag_revalidates(h2, served):
    t = TMS["WebMercatorQuad"].tile(LON, LAT, 12)
    url = _tile_url(served, "LAI", "2023-07-01", "WebMercatorQuad", t.z, t.x, t.y)
    first = h2.get(url)
    etag = first.headers["etag"]
    again = h2.get(url, headers={"if-none-match": etag})
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    assert h2.get(url + "?qc=valid").headers["etag"] != etag
    other = _tile_url(served, "LAI", "2023-08-01", "WebMercatorQuad", t.z, t.x, t.y)
    assert h2.get(other, headers={"if-none-match": etag}).status_code == 200
