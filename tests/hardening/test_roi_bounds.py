"""Items 1 and 7 of issue 13: ROIs are bounded before any heavy step, and hostile numbers
or CRS strings get a 4xx that says what to change — never a 500, never gigabytes.

The attacks run against a real ``leafcube serve`` whose address space is capped (so a
regression fails fast instead of exhausting the machine); each must answer within
ANSWER_S, the worker's peak memory must stay under PEAK_MB, and a probe request must
still be answered within PROBE_S afterwards.
"""

from __future__ import annotations

import json
import time

import httpx
import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box

from leafcube.catalogue import load
from leafcube.catalogue.errors import ROIError
from leafcube.catalogue.roi import (
    MAX_CRS_CHARS,
    MAX_FEATURES,
    MAX_OUTLINE_DEGREES,
    MAX_REPAIR_VERTICES,
    MAX_VERTICES,
    check_roi,
    parse_crs,
    parse_roi,
    reproject,
)

#: Its bounds on time or memory hold on a quiet machine: run apart from other tests.
pytestmark = pytest.mark.serial

ANSWER_S = 5.0
PROBE_S = 2.0
#: Before the fix a ~100-byte GET with latitudes of ±1e6 drove a worker past 5 GB.
PEAK_MB = 1_500

DEEP_CRS = "{" + '"a":{' * 1000 + "}" * 1000 + "}"
RNG = np.random.default_rng(13)


def ring(points: np.ndarray) -> list[list[float]]:
    """A closed GeoJSON ring from an (n, 2) array."""
    pts = points.tolist()
    return [*pts, pts[0]]


def polygon(points: np.ndarray) -> dict:
    """A GeoJSON polygon through ``points``."""
    return {"type": "Polygon", "coordinates": [ring(points)]}


NEAR = ([-107.5, 53.75], [-107.3, 53.87])  # the demo cube's extent, lon/lat
MANY_VERTICES = json.dumps(polygon(RNG.uniform(*NEAR, (MAX_VERTICES + 1, 2))))
TANGLE = json.dumps(polygon(RNG.uniform(*NEAR, (1000, 2))))  # ~250,000 self-intersections
ZIGZAG = json.dumps(polygon(np.array([[180.0 if i % 2 else -180.0, -89 + i * 0.02]
                                      for i in range(8000)])))  # fmt: skip
POINT = {"type": "Point", "coordinates": [-107.4, 53.8]}
FEATURE = {"type": "Feature", "properties": {}, "geometry": POINT}
MANY_FEATURES = json.dumps(
    {"type": "FeatureCollection", "features": [FEATURE] * (MAX_FEATURES + 1)}
)

#: name -> (method, endpoint, query, body as JSON text or None, status, words in detail)
ATTACKS = {
    "lat ±1e6": ("get", "subset", {"bbox": "-107.5,-1e6,-107.4,1e6"}, None, 400, "latitudes"),
    "lat ±1e308": ("get", "subset", {"bbox": "-107.5,-1e308,-107.4,1e308"}, None, 400, "-90..90"),
    "lon 1e6": ("get", "subset", {"bbox": "-1e6,53.8,1e6,53.9"}, None, 400, "longitudes"),
    "bbox Infinity": ("get", "subset", {"bbox": "-107.5,53.8,-107.4,inf"}, None, 400, "finite"),
    "bbox -Infinity": ("get", "subset", {"bbox": "-Infinity,53.8,-107.4,54"}, None, 400, "finite"),
    "bbox NaN": ("get", "subset", {"bbox": "-107.5,53.8,nan,54"}, None, 400, "finite"),
    "projected ±1e308": ("get", "subset",
                         {"bbox": "-1e308,-1e308,1e308,1e308", "bbox-crs": "EPSG:3979"},
                         None, 400, "beyond"),
    "geographic NAD83 lat 1e6": ("get", "subset", {"bbox": "-107.5,-1e6,-107.4,1e6",
                                                   "bbox-crs": "EPSG:4269"}, None, 400, "-90..90"),
    "series bbox ±1e308": ("get", "timeseries", {"bbox": "-107.5,-1e308,-107.4,1e308"},
                           None, 400, "latitudes"),
    "series lon Infinity": ("get", "timeseries", {"lon": "inf", "lat": "53.8"}, None, 422,
                            "finite"),
    "series lat NaN": ("get", "timeseries", {"lon": "-107.4", "lat": "nan"}, None, 422, "finite"),
    "body Infinity": ("post", "subset", {},
                      '{"type":"Polygon","coordinates":[[[-107.5,53.8],[-107.4,53.8],'
                      '[-107.4,Infinity],[-107.5,53.8]]]}', 400, "finite"),
    "body 1e999": ("post", "timeseries", {},
                   '{"type":"Point","coordinates":[-107.4,1e999]}', 400, "finite"),
    "body 1e308": ("post", "subset", {},
                   '{"type":"Polygon","coordinates":[[[-107.5,53.8],[-107.4,53.8],'
                   '[-107.4,1e308],[-107.5,53.8]]]}', 400, "latitudes"),
    "deep CRS in bbox-crs": ("get", "subset", {"bbox": "-107.5,53.8,-107.4,53.9",
                                               "bbox-crs": DEEP_CRS}, None, 400, "nested"),
    "deep CRS in crs": ("post", "subset", {"crs": DEEP_CRS},
                        '{"type":"Point","coordinates":[-107.4,53.8]}', 400, "nested"),
    "long CRS": ("get", "subset", {"bbox": "-107.5,53.8,-107.4,53.9",
                                   "bbox-crs": "+proj=longlat " * 1000}, None, 400, "too long"),
    "too many vertices": ("post", "subset", {}, MANY_VERTICES, 400, "simplify"),
    "self-intersecting 1,000 vertices": ("post", "timeseries", {}, TANGLE, 400,
                                         "repair it first"),
    "outline around the globe": ("post", "subset", {}, ZIGZAG, 400, "outline"),
    "too many features": ("post", "subset", {}, MANY_FEATURES, 400, "features"),
}  # fmt: skip


@pytest.fixture(scope="module")
def api(worker):
    """An HTTP client for the bounded worker's API (every answer within ANSWER_S)."""
    name = next(iter(load(worker.cube).collections))
    with httpx.Client(base_url=f"{worker.url}/api/collections/{name}", timeout=ANSWER_S) as c:
        yield c


def probe(worker) -> float:
    """Seconds a small request takes (it must keep working while attacks run)."""
    start = time.perf_counter()
    r = httpx.get(f"{worker.url}/api/collections", timeout=PROBE_S)
    assert r.status_code == 200
    return time.perf_counter() - start


@pytest.mark.parametrize("name", ATTACKS)
def test_hostile_roi_is_a_clear_4xx(api, worker, name):
    method, endpoint, query, body, status, words = ATTACKS[name]
    params = {"layers": "LAI", "start": "2023-05-01", "end": "2023-05-31", **query}
    start = time.perf_counter()
    if method == "get":
        r = api.get(f"/{endpoint}", params=params)
    else:
        headers = {"content-type": "application/json"}
        r = api.post(f"/{endpoint}", params=params, content=body, headers=headers)
    assert time.perf_counter() - start < ANSWER_S
    assert r.status_code == status, r.text[:300]
    detail = r.json()["detail"]
    assert words in detail and "Traceback" not in detail
    assert probe(worker) < PROBE_S


def test_honest_rois_still_work(api):
    """The bounds refuse attacks, not work: a bowtie is repaired, a collection of 300
    crossing strips (too large to merge) is read as is, a point answers a series."""
    params = {"layers": "LAI", "start": "2023-05-01", "end": "2023-05-31"}
    bowtie = polygon(np.array([[-107.5, 53.75], [-107.3, 53.87], [-107.3, 53.75],
                               [-107.5, 53.87]]))  # fmt: skip
    assert api.post("/subset", params=params, json=bowtie).status_code == 200
    strips = [
        {"type": "Feature", "properties": {}, "geometry": polygon(np.array(pts))}
        for y in np.linspace(53.75, 53.86, 150)
        for pts in ([[-107.52, y], [-107.32, y + 0.001], [-107.32, y + 0.002]],
                    [[-107.52 + (y - 53.75), 53.75], [-107.51 + (y - 53.75), 53.87],
                     [-107.50 + (y - 53.75), 53.87]])
    ]  # fmt: skip
    collection = {"type": "FeatureCollection", "features": strips}
    r = api.post("/timeseries", params=params, json=collection)
    assert r.status_code == 200, r.text[:300]
    r = api.get("/timeseries", params={**params, "lon": -107.4, "lat": 53.8})
    assert r.status_code == 200, r.text[:300]


def test_worker_memory_stayed_bounded(api, worker):
    """After every attack above (same module, same worker), the peak stays small."""
    for name in ("lat ±1e6", "outline around the globe", "too many vertices"):
        test_hostile_roi_is_a_clear_4xx(api, worker, name)
    assert 0 < worker.peak_rss_mb() < PEAK_MB


@pytest.mark.parametrize(
    "bbox, ok",
    [
        ((-180, -90, 180, 90), True),
        ((-180.000001, 0, 0, 1), False),
        ((0, 0, 180.000001, 1), False),
        ((0, -90.000001, 1, 0), False),
        ((0, 0, 1, 90.000001), False),
    ],
)
def test_geographic_range_is_exact(bbox, ok):
    if ok:
        assert check_roi(box(*bbox), "EPSG:4326").equals(box(*bbox))
    else:
        with pytest.raises(ROIError, match="must lie within"):
            check_roi(box(*bbox), "EPSG:4326")


def circle(n: int) -> np.ndarray:
    """``n`` points on a circle (a valid ring of ``n + 1`` vertices once closed)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.column_stack([np.cos(t), np.sin(t)])


def test_vertex_and_repair_bounds_are_exact():
    assert shapely.get_num_coordinates(parse_roi(polygon(circle(MAX_VERTICES - 1)))) == (
        MAX_VERTICES
    )
    with pytest.raises(ROIError, match=f"at most {MAX_VERTICES}"):
        parse_roi(polygon(circle(MAX_VERTICES)))
    small = RNG.uniform(0, 1, (MAX_REPAIR_VERTICES - 1, 2))  # closed: MAX_REPAIR_VERTICES
    assert shapely.is_valid(parse_roi(polygon(small)))
    with pytest.raises(ROIError, match="repair it first"):
        parse_roi(polygon(RNG.uniform(0, 1, (MAX_REPAIR_VERTICES, 2))))


def test_reproject_bounds_densification_for_every_caller():
    """The client's local reads reproject without the server's checks: still bounded."""
    zigzag = Polygon([(180.0 if i % 2 else -180.0, -89 + i * 0.05) for i in range(40)])
    assert zigzag.length > MAX_OUTLINE_DEGREES
    with pytest.raises(ROIError, match="outline"):
        reproject(zigzag, "EPSG:4326", "EPSG:3979")
    with pytest.raises(ROIError, match="latitudes"):
        reproject(box(-100, -1e6, -99, 1e6), "EPSG:4326", "EPSG:3979")


@pytest.mark.parametrize(
    "value, message",
    [
        (DEEP_CRS, "nested"),
        ("[" * 40 + "]" * 40, "nested"),
        ("x" * (MAX_CRS_CHARS + 1), "too long"),
        ("EPSG:0", "is not a CRS"),
        ('{"type": 1}', "is not a CRS"),
    ],
)
def test_crs_strings_are_bounded(value, message):
    with pytest.raises(ROIError, match=message):
        parse_crs(value)
    assert parse_crs("EPSG:3979").to_epsg() == 3979
