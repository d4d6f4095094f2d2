"""Fixtures for docs/recipes.md's tests: an area of the demo cube that holds both real zeros
and no data, found by scanning one date's LAI, and leafcube's own client's values there
(what every other client must give), plus the recipes themselves."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from bench.extract import cutline_file
from leafcube.catalogue import load
from leafcube.client import Cube
from tests.stac.conftest import published  # noqa: F401  (the cube published for its URL)

DOC = Path(__file__).resolve().parents[2] / "docs" / "recipes.md"
#: The URLs the recipes are written for: a plain web server, and ``leafcube serve``.
STATIC_URL = "https://leaf.example.org"
SERVE_URL = "http://127.0.0.1:8000"
#: The area's side, in pixels.
SIDE = 30


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
        return cutline_file(self.polygon, folder / "roi.geojson")


def counts(mask: np.ndarray) -> np.ndarray:
    """How many pixels of ``mask`` each SIDE² window holds, by the window's corner."""
    s = np.pad(mask.astype(np.int32).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    return s[SIDE:, SIDE:] - s[:-SIDE, SIDE:] - s[SIDE:, :-SIDE] + s[:-SIDE, :-SIDE]


def uniform(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 3 × 3 neighbourhood is all in ``mask``."""
    out = np.zeros_like(mask)
    core = np.ones_like(mask[1:-1, 1:-1])
    for dr in (0, 1, 2):
        for dc in (0, 1, 2):
            core &= mask[dr : dr + mask.shape[0] - 2, dc : dc + mask.shape[1] - 2]
    out[1:-1, 1:-1] = core
    return out


def overlap_columns(coll, date: str, transform) -> tuple[int, int]:
    """The mosaic's columns where two tiles of ``date`` overlap (the widest such band)."""
    boxes = [t.bbox for t in coll.dates[date].layers["LAI"].tiles.values()]
    best = (0, 0)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            lo, hi = max(a[0], b[0]), min(a[2], b[2])
            cols = tuple(int(round((x - transform.c) / transform.a)) for x in (lo, hi))
            best = max(best, cols, key=lambda c: c[1] - c[0])
    return best


def scan(coll, cube: Path, nodata: int) -> tuple[str, int, int, dict[str, tuple[int, int]]]:
    """The date and SIDE² window (row, col of its corner) of the LAI mosaics that holds the
    most of each of DN 0, no data and DN > 0 — inside two tiles' overlap when some window
    there holds at least 50 of each, so every tool also goes through the mosaic's rule —
    and in it a pixel of each kind whose 3 × 3 neighbourhood is all of that kind (so a
    resampled map tile shows it too)."""
    found = []  # (in the overlap, score, date, row, col)
    for date in coll.dates:
        with rasterio.open(cube / coll.dates[date].layers["LAI"].mosaic) as src:
            dn, t = src.read(1), src.transform
        kinds = [dn == 0, dn == nodata, dn > 0]
        score = np.minimum.reduce([counts(m) for m in kinds])
        ok = np.minimum.reduce([counts(uniform(m)) for m in kinds]) > 0
        score = np.where(ok, score, -1)
        c0, c1 = overlap_columns(coll, date, t)
        inner = score[:, c0 : max(c0, c1 - SIDE + 1)]
        if inner.size and inner.max() >= 50:
            r, c = np.unravel_index(inner.argmax(), inner.shape)
            found.append((1, int(inner.max()), date, int(r), int(c) + c0))
        r, c = np.unravel_index(score.argmax(), score.shape)
        found.append((0, int(score.max()), date, int(r), int(c)))
    _, k, date, r0, c0 = max(found)
    assert k >= 50, f"no {SIDE}² window of {coll.name}'s LAI holds zeros, no data and values"
    with rasterio.open(cube / coll.dates[date].layers["LAI"].mosaic) as src:
        dn = src.read(1)
    picks = {}
    for name, m in {"zero": dn == 0, "nodata": dn == nodata, "value": dn > 0}.items():
        rows, cols = np.nonzero(uniform(m)[r0 : r0 + SIDE, c0 : c0 + SIDE])
        picks[name] = (r0 + int(rows[0]), c0 + int(cols[0]))
    return date, r0, c0, picks


@pytest.fixture(scope="session")
def area(demo_cube) -> Area:
    coll = next(iter(load(demo_cube).collections.values()))
    spec = coll.layers["LAI"]
    date, r0, c0, picks = scan(coll, demo_cube, int(spec.nodata))
    with rasterio.open(demo_cube / coll.dates[date].layers["LAI"].mosaic) as src:
        t = src.transform
    x0, y1 = t @ (c0, r0)
    x1, y0 = t @ (c0 + SIDE, r0 + SIDE)
    xm, ym = t @ (c0 + SIDE // 2, r0 + SIDE // 2)
    polygon = [[x0, y0], [x1, y0], [x1, ym], [xm, ym], [xm, y1], [x0, y1], [x0, y0]]
    points = {n: t @ (c + 0.5, r + 0.5) for n, (r, c) in picks.items()}
    to_lonlat = Transformer.from_crs("EPSG:3979", "EPSG:4326", always_xy=True)
    native = {"roi_crs": "EPSG:3979", "start": date, "end": date, "qc": "data"}
    with Cube(demo_cube, progress=False) as cube:
        box = cube.extract(["LAI"], (x0, y0, x1, y1), **native)["LAI"][date]
        geom = {"type": "Polygon", "coordinates": [polygon]}
        roi = cube.extract(["LAI"], geom, **native)["LAI"][date]
        at = {}
        for name, (x, y) in points.items():
            lonlat = to_lonlat.transform(x, y)
            ts = cube.timeseries(["LAI"], point=lonlat, start=date, end=date)
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
        date=date,
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
