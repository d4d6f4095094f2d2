"""The server reads catalogue parts per request: start-up reads at most the newest part,
a one-date request only the part holding it, listings every part once per change; and
its answers equal those of the whole catalogue, loaded and read directly."""

from __future__ import annotations

import io
import shutil

import httpx
import numpy as np
import pytest

from leafcube.catalogue import load, query, save
from leafcube.catalogue import stac as cstac
from leafcube.catalogue.roi import WGS84, bbox_geometry
from leafcube.reader import CubeFiles, Reader, roi_grid
from tests.server.archive import BBOX, YEARS, archive_cube

COLL = "leaf-s2-20m-monthly"


@pytest.fixture(scope="module")
def archive(demo_cube, tmp_path_factory):
    return archive_cube(demo_cube, tmp_path_factory.mktemp("archive") / "cube")


@pytest.fixture
def server(archive, tmp_path, start_server):
    """A fresh server (its own worker, so its own cache) over a copy of the archive."""
    cube = tmp_path / "cube"
    shutil.copytree(archive, cube)
    served = start_server(cube)
    with httpx.Client(base_url=served.url, timeout=60) as client:
        yield client, cube


def reads(client: httpx.Client) -> int:
    r = client.get("/api/parts")
    assert r.status_code == 200
    return r.json()["reads"]


def truth(cube, day: str, layer: str = "LAI") -> np.ndarray:
    """The pixels of one date read from the whole catalogue (every part loaded)."""
    coll = query.collection(load(cube), COLL)
    grid = roi_grid(coll, bbox_geometry(BBOX), WGS84)
    with Reader() as reader:
        got = reader.read_many(CubeFiles(str(cube)), coll, [coll.dates[day]], [layer], grid)
    return got[layer][day].data.filled(np.nan).astype(np.float32)


def test_the_archive_has_a_part_a_year(archive):
    coll = load(archive).collections[COLL]
    assert list(coll.parts) == [str(y) for y in YEARS] and len(coll.dates) == 12 * len(YEARS)


def test_start_reads_at_most_the_newest_part(server):
    client, _ = server
    counts = client.get("/api/parts").json()
    assert counts["reads"] <= 1 and counts["parts"] <= 1  # the warm-up's newest date
    assert counts["max_bytes"] > 0
    listing = client.get("/api/collections").json()["collections"][0]
    assert listing["date_count"] == 12 * len(YEARS)
    assert (listing["first_date"], listing["last_date"]) == ("2015-01-01", "2024-12-01")
    assert reads(client) == 1  # the newest part, whatever the number of parts


def test_one_date_reads_only_its_part_and_matches_the_whole_catalogue(server):
    client, cube = server
    before = reads(client)
    r = client.get(
        f"/api/collections/{COLL}/subset",
        params={
            "layers": "LAI",
            "bbox": ",".join(map(str, BBOX)),
            "start": "2018-07-01",
            "end": "2018-07-01",
            "format": "npy",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-leafcube-dates"] == "2018-07-01"
    got = np.load(io.BytesIO(r.content))[0, 0]
    assert np.isfinite(got).any()
    assert np.array_equal(got, truth(cube, "2018-07-01"), equal_nan=True)
    assert reads(client) == before + 1
    ts = client.get(
        f"/api/collections/{COLL}/timeseries",
        params={
            "layers": "LAI",
            "lon": -107.42,
            "lat": 53.81,
            "start": "2018-03-01",
            "end": "2018-03-31",
        },
    )
    assert ts.status_code == 200 and ts.json()["dates"] == ["2018-03-01"]
    assert reads(client) == before + 1  # the same part, from the cache
    tile = f"/api/collections/{COLL}/tiles/LAI/2016-05-20/WebMercatorQuad/12/900/1300.png"
    assert client.get(tile).status_code in (200, 404)
    assert reads(client) == before + 2  # 2016's part: the one holding that day
    latest = client.get(f"/api/collections/{COLL}/tilejson.json").json()
    assert "/2024-12-01/" in latest["tiles"][0]
    assert reads(client) == before + 2  # the newest part was read at start


def test_stac_search_by_datetime_reads_only_the_touched_parts(server):
    client, cube = server
    before = reads(client)
    page = client.get("/api/stac/search", params={"datetime": "2019-08-15T12:00:00Z"}).json()
    coll = load(cube).collections[COLL]
    want = sorted(
        doc["id"] for e, _, doc in cstac.items(coll) if e.start.isoformat() == "2019-08-01"
    )
    assert sorted(f["id"] for f in page["features"]) == want and page["numberMatched"] == 2
    assert reads(client) == before + 1
    item = client.get(f"/api/stac/collections/{COLL}/items/{want[0]}")
    assert item.status_code == 200 and item.json()["id"] == want[0]
    assert reads(client) == before + 1  # the id's day names the part
    other = f"{COLL}-2021-02-01-tile42"
    assert client.get(f"/api/stac/collections/{COLL}/items/{other}").json()["id"] == other
    assert reads(client) == before + 2


def test_listings_read_every_part_once_per_change(server):
    client, cube = server
    layers = len(load(cube).collections[COLL].layers)
    caps = client.get(f"/api/collections/{COLL}/WMTSCapabilities.xml")
    assert caps.status_code == 200 and caps.text.count("<Value>") == layers * 12 * len(YEARS)
    assert reads(client) == len(YEARS)
    detail = client.get(f"/api/collections/{COLL}").json()
    assert len(detail["dates"]) == 12 * len(YEARS)
    stac = client.get(f"/api/stac/collections/{COLL}").json()
    assert len(stac["cube:dimensions"]["time"]["values"]) == 12 * len(YEARS)
    gomez = client.get(f"/api/collections/{COLL}/gomez.json").json()
    assert len(gomez) == 12 * len(YEARS)
    assert client.get(f"/api/collections/{COLL}/WMTSCapabilities.xml").text == caps.text
    assert reads(client) == len(YEARS)  # every part once, and then from the cache


def test_a_changed_part_is_read_again_and_only_it(server):
    client, cube = server
    params = {"layers": "LAI", "lon": -107.42, "lat": 53.81}
    for day in ("2017-04-01", "2020-04-01"):
        r = client.get(
            f"/api/collections/{COLL}/timeseries", params={**params, "start": day, "end": day}
        )
        assert r.status_code == 200
    before = reads(client)
    cat = load(cube)
    del cat.collections[COLL].dates["2017-06-01"]
    save(cat, cube)  # 2017's part and the root are rewritten, 2020's is not
    series = client.get(
        f"/api/collections/{COLL}/timeseries",
        params={**params, "start": "2017-05-01", "end": "2017-07-31"},
    ).json()
    assert series["dates"] == ["2017-05-01", "2017-07-01"]
    assert reads(client) == before + 1
    again = client.get(
        f"/api/collections/{COLL}/timeseries",
        params={**params, "start": "2020-04-01", "end": "2020-04-30"},
    )
    assert again.status_code == 200 and reads(client) == before + 1


def test_a_year_of_the_gomez_view_reads_only_that_years_part(server):
    client, cube = server
    coll = load(cube).collections[COLL]
    before = reads(client)
    got = client.get(f"/api/collections/{COLL}/gomez.json", params={"year": "2019"})
    assert got.status_code == 200
    assert reads(client) == before + 1  # the 2019 part alone
    base = str(client.base_url).rstrip("/")
    assert got.json() == {  # the truth, from the whole catalogue's entries
        k: [f"{base}/{e.layers[n].mosaic}" for n in coll.layers]
        for k, e in sorted(coll.dates.items())
        if k.startswith("2019")
    }
    whole = client.get(f"/api/collections/{COLL}/gomez.json").json()
    assert {k: v for k, v in whole.items() if k.startswith("2019")} == got.json()
    absent = client.get(f"/api/collections/{COLL}/gomez.json", params={"year": "1999"})
    assert absent.status_code == 404 and "2015" in absent.json()["detail"]
    bad = client.get(f"/api/collections/{COLL}/gomez.json", params={"year": "19"})
    assert bad.status_code == 422 and "year" in str(bad.json()["detail"])
