"""Fixtures for docs/recipes.md's tests: an area of the demo cube that holds both real zeros
and no data, found by scanning one date's LAI, and leafcube's own client's values there
(what every other client must give), plus the recipes themselves."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from leafcube.catalogue import load
from leafcube.client import Cube
from tests.stac.conftest import published  # noqa: F401  (the cube published for its URL)

DOC = Path(__file__).resolve().parents[2] / "docs" / "recipes.md"
#: The URLs the recipes are written for: a plain web server, and ``leafcube serve``.
STATIC_URL = "https://leaf.example.org"
SERVE_URL = "http://127.0.0.1:8000"
DATE = "2023-08-01"
#: The area's side, in pixels; the scan's step.
SIDE, STEP = 30, 10


def recipe(name: str) -> str:
    """The code block under ``<!-- recipe: name -->`` in docs/recipes.md."""
    m = re.search(rf"<!-- recipe: {re.escape(name)} -->\n```\w+\n(.*?)```", DOC.read_text(), re.S)
    assert m, f"no recipe {name!r} in {DOC}"
    return m.group(1)


def assign(code: str, **values: str) -> str:
    """``code`` with the value of each one-line assignment ``NAME=…``, ``NAME = …`` or
    ``NAME <- …`` replaced by the given source text (a trailing comment is kept)."""
    for name, value in values.items():
        pattern = rf"(?m)^({re.escape(name)}(?:=| = | <- ))(.*?)(\s+#.*)?$"
        code, n = re.subn(pattern, lambda m, v=value: m.group(1) + v + (m.group(3) or ""), code)
        assert n == 1, f"{name} is assigned {n} times in {code!r}"
    return code


@dataclass(frozen=True)
class Area:
    """A pixel-aligned box of the demo cube (EPSG:3979), an L-shaped polygon in it, three
    points in it (pixel centres), and what leafcube's client gives at each."""

    collection: str
    layers: list[str]
    date: str
    scale: float
    nodata: int
    bounds: tuple[float, float, float, float]  # minx, miny, maxx, maxy
    polygon: list[list[float]]  # the L's ring, EPSG:3979
    points: dict[str, tuple[float, float]]  # zero / nodata / value → (x, y)
    box: np.ndarray  # the client's LAI over bounds, float64, NaN = no data
    roi: np.ndarray  # the client's LAI over the polygon (its bbox), NaN outside or no data
    at: dict[str, float]  # the client's LAI at each point (NaN = no data)

    def roi_file(self, folder: Path) -> Path:
        """The polygon as GeoJSON in EPSG:3979 (a ``crs`` member, which GDAL reads)."""
        doc = {
            "type": "FeatureCollection",
            "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3979"}},
            "features": [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "Polygon", "coordinates": [self.polygon]},
                }
            ],
        }
        path = folder / "roi.geojson"
        path.write_text(json.dumps(doc))
        return path


def scan(mosaic: Path, nodata: int) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """The window (row, col of its corner) of SIDE² pixels that holds the most of each of
    DN 0, no data and DN > 0, and in it a pixel of each kind whose 3 × 3 neighbourhood is
    all of that kind (so a resampled map tile shows it too)."""
    with rasterio.open(mosaic) as src:
        dn = src.read(1)
    kinds = {"zero": dn == 0, "nodata": dn == nodata, "value": dn > 0}
    best = (-1, 0, 0)
    for r in range(0, dn.shape[0] - SIDE + 1, STEP):
        for c in range(0, dn.shape[1] - SIDE + 1, STEP):
            k = min(int(m[r : r + SIDE, c : c + SIDE].sum()) for m in kinds.values())
            best = max(best, (k, r, c), key=lambda b: b[0])
    k, r0, c0 = best
    assert k >= 50, f"no {SIDE}² window of {mosaic} holds zeros, no data and values"
    picks = {}
    for name, m in kinds.items():
        for r in range(r0 + 1, r0 + SIDE - 1):
            cols = range(c0 + 1, c0 + SIDE - 1)
            hits = [c for c in cols if m[r - 1 : r + 2, c - 1 : c + 2].all()]
            if hits:
                picks[name] = (r, hits[0])
                break
        assert name in picks, f"no uniform 3×3 of {name} in the window"
    return r0, c0, picks


@pytest.fixture(scope="session")
def area(demo_cube) -> Area:
    coll = next(iter(load(demo_cube).collections.values()))
    spec = coll.layers["LAI"]
    mosaic = demo_cube / coll.dates[DATE].layers["LAI"].mosaic
    r0, c0, picks = scan(mosaic, int(spec.nodata))
    with rasterio.open(mosaic) as src:
        t = src.transform
    x0, y1 = t @ (c0, r0)
    x1, y0 = t @ (c0 + SIDE, r0 + SIDE)
    xm, ym = t @ (c0 + SIDE // 2, r0 + SIDE // 2)
    polygon = [[x0, y0], [x1, y0], [x1, ym], [xm, ym], [xm, y1], [x0, y1], [x0, y0]]
    points = {n: t @ (c + 0.5, r + 0.5) for n, (r, c) in picks.items()}
    to_lonlat = Transformer.from_crs("EPSG:3979", "EPSG:4326", always_xy=True)
    native = {"roi_crs": "EPSG:3979", "start": DATE, "end": DATE, "qc": "data"}
    with Cube(demo_cube, progress=False) as cube:
        box = cube.extract(["LAI"], (x0, y0, x1, y1), **native)["LAI"][DATE]
        geom = {"type": "Polygon", "coordinates": [polygon]}
        roi = cube.extract(["LAI"], geom, **native)["LAI"][DATE]
        at = {}
        for name, (x, y) in points.items():
            ts = cube.timeseries(["LAI"], point=to_lonlat.transform(x, y), start=DATE, end=DATE)
            row = ts.reset_index().iloc[0]
            at[name] = float(row["mean"]) if row["valid"] else float("nan")
    box_a = np.ma.filled(box.astype("float64"), np.nan)
    roi_a = np.ma.filled(roi.astype("float64"), np.nan)
    # the truth itself: both real zeros and no data, in the box and in the polygon
    for a in (box_a, roi_a):
        assert (a == 0).sum() >= 20 and np.isnan(a).sum() >= 20 and (a > 0).sum() >= 20
    assert box_a.shape == (SIDE, SIDE) and roi_a.shape == (SIDE, SIDE)
    assert np.isnan(roi_a[: SIDE // 2, SIDE // 2 :]).all()  # the L's missing quarter
    assert at["zero"] == 0 and np.isnan(at["nodata"]) and at["value"] > 0
    return Area(
        collection=coll.name,
        layers=list(coll.layers),
        date=DATE,
        scale=float(spec.scale),
        nodata=int(spec.nodata),
        bounds=(x0, y0, x1, y1),
        polygon=polygon,
        points=points,
        box=box_a,
        roi=roi_a,
        at=at,
    )


def same(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Same pixels: NaN exactly where the client has no data, real zeros as zeros, values
    equal to float32 precision."""
    got = np.asarray(got, dtype="float64")
    assert got.shape == want.shape, what
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=what)
    have = ~np.isnan(want)
    np.testing.assert_allclose(got[have], want[have], rtol=1e-6, atol=1e-6, err_msg=what)
    assert ((got == 0) == (want == 0)).all() and (want == 0).sum() > 0, what


@pytest.fixture(scope="session", params=["serve", "nginx"])
def site(request) -> tuple[str, str]:
    """(name, base URL): a real ``leafcube serve`` and the cube folder on a plain nginx."""
    fixture = "server_url" if request.param == "serve" else "nginx_url"
    return request.param, request.getfixturevalue(fixture)
