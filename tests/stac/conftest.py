"""STAC fixtures: the demo cube published for a base URL on a plain nginx, the area and
dates the tests read, and leafcube's own client's values there (what every tool must give).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from pyproj import Transformer

from leafcube.client import Cube
from tests.conftest import LEAFCUBE, free_port, start_nginx, stop_process

#: The area the tests read, in the cube's CRS (EPSG:3979): inside tile42 only, with bare
#: land (real LAI zeros) and cloud gaps (no data) on both dates.
AREA = (-805_000.0, 605_000.0, -802_000.0, 610_000.0)
DATES = ("2023-07-01", "2023-08-01")
#: The STAC datetime interval that holds exactly those two monthly periods.
INTERVAL = "2023-07-01T00:00:00Z/2023-08-31T23:59:59Z"


def lonlat_bbox(area: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The lon/lat bbox around a native area (its corners, transformed)."""
    t = Transformer.from_crs("EPSG:3979", "EPSG:4326", always_xy=True)
    xs, ys = t.transform([area[0], area[0], area[2], area[2]], [area[1], area[3], area[1], area[3]])
    return (min(xs), min(ys), max(xs), max(ys))


@dataclass(frozen=True)
class Expected:
    """leafcube's client's LAI over :data:`AREA` on :data:`DATES`: NaN where no data."""

    collection: str
    lai: dict[str, np.ndarray]
    scale: float
    nodata: float


@pytest.fixture(scope="session")
def expected(server_url) -> Expected:
    """What ``Cube(...).extract`` gives; the area must hold both real zeros and no data."""
    with Cube(server_url) as cube:
        res = cube.extract(
            ["LAI"], AREA, roi_crs="EPSG:3979", start=DATES[0], end=DATES[-1], qc="data"
        )
        collection = res.collection.name
        lai = {d: np.ma.filled(res["LAI"][d].astype("float64"), np.nan) for d in DATES}
    for d, a in lai.items():
        assert a.shape == (250, 150), d
        assert np.isnan(a).sum() > 100 and (a == 0).sum() > 100, d  # both, on every date
    spec = load_spec(server_url, collection)
    return Expected(collection, lai, spec[0], spec[1])


def load_spec(server_url: str, collection: str) -> tuple[float, float]:
    """LAI's scale and nodata DN, as the server's collection endpoint states them."""
    specs = httpx.get(f"{server_url}/api/collections/{collection}").json()["layer_specs"]
    lai = next(s for s in specs if s["name"] == "LAI")
    assert lai["nodata"] is not None
    return float(lai["scale"]), float(lai["nodata"])


@dataclass(frozen=True)
class Published:
    """A cube published with ``leafcube publish`` and served by a plain nginx at ``url``."""

    url: str
    folder: Path


@pytest.fixture(scope="session")
def published(demo_cube, demo_exports, tmp_path_factory) -> Iterator[Published]:
    """The demo cube as an operator ships it: ingested with ``--base-url`` (which the
    static STAC's absolute hrefs come from), published for that URL, on plain nginx."""
    tmp = tmp_path_factory.mktemp("stac-published")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cube = tmp / "cube"
    shutil.copytree(demo_cube, cube, symlinks=True)
    run = [*LEAFCUBE, "ingest", str(demo_exports), "--cube", str(cube), "--quiet"]
    subprocess.run([*run, "--base-url", url], check=True, capture_output=True, timeout=300)
    dest = tmp / "www"
    subprocess.run(
        [*LEAFCUBE, "publish", "--cube", str(cube), "--to", str(dest), "--base-url", url],
        check=True,
        capture_output=True,
        timeout=300,
    )
    proc, _ = start_nginx(dest, tmp, port=port)
    try:
        yield Published(url, dest)
    finally:
        stop_process(proc)
