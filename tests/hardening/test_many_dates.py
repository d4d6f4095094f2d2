"""Headers that grow with dates: a subset over 400 dates through nginx (whose default
header buffer is 4 kB) answers 200, and leafcube's client gets every date."""

from __future__ import annotations

import copy
import datetime as dt
import shutil
import ssl

import httpx
import numpy as np

from leafcube.catalogue import load, save
from leafcube.client import Cube
from tests.conftest import stop_process
from tests.deploy.conftest import start_stack

DATES = 400
POINT = {"layers": "LAI", "lon": "-107.42", "lat": "53.80"}
BBOX = "-107.43,53.80,-107.42,53.81"


def many_dates_cube(demo_cube, folder):
    """The demo cube with one of its months repeated as 400 daily periods."""
    shutil.copytree(demo_cube, folder)
    cat = load(folder)
    coll = next(iter(cat.collections.values()))
    month = coll.sorted_dates()[6]
    coll.dates = {}
    for i in range(DATES):
        day = dt.date(2020, 1, 1) + dt.timedelta(days=i)
        entry = copy.deepcopy(month)
        entry.start = entry.end = day
        coll.dates[day.isoformat()] = entry
    save(cat, folder)
    return coll.name


def test_four_hundred_dates_through_nginx(demo_cube, tmp_path, monkeypatch):
    name = many_dates_cube(demo_cube, tmp_path / "cube")
    site = start_stack(tmp_path / "cube", tmp_path / "stack")
    try:
        ctx = ssl.create_default_context(cafile=str(site.cert))
        with httpx.Client(http2=True, verify=ctx, timeout=60) as client:
            url = f"{site.url}/api/collections/{name}/subset"
            r = client.get(url, params={"layers": "LAI", "bbox": BBOX, "format": "npy"})
            assert r.status_code == 200, r.text[:300]
            assert r.headers["x-leafcube-dates-count"] == str(DATES)
            assert sum(len(k) + len(v) for k, v in r.headers.items()) < 4096
            ts = client.get(f"{site.url}/api/collections/{name}/timeseries", params={**POINT})
            assert ts.status_code == 200 and len(ts.json()["dates"]) == DATES
        monkeypatch.setenv("SSL_CERT_FILE", str(site.cert))
        with Cube(site.url, progress=False, max_request_mb=48) as cube:
            res = cube.extract("LAI", [float(v) for v in BBOX.split(",")])
        assert len(res.dates) == DATES
        first = res.stack("LAI")[0]
        assert all(np.array_equal(a, first, equal_nan=True) for a in res.stack("LAI"))
    finally:
        stop_process(site.proc)
