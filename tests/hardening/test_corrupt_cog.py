"""A corrupt COG: the answer names it by its path in the cube, never by the server's own
folders, and is a clear 4xx, not a 500."""

from __future__ import annotations

import shutil

import httpx

from leafcube.catalogue import load
from tests.conftest import LEAFCUBE, free_port, start_process, stop_process


def test_corrupt_cog_is_named_by_its_path_in_the_cube(demo_cube, tmp_path):
    cube = tmp_path / "private-folder-name" / "cube"
    shutil.copytree(demo_cube, cube)
    coll = next(iter(load(cube).collections.values()))
    entry = coll.dates["2023-07-01"]
    href = entry.layers["LAI"].tiles["tile42"].href
    (cube / href).write_bytes(b"II*\x00 not a tiff any more" * 10)
    gone = entry.layers["fCOVER"].tiles["tile42"].href
    (cube / gone).unlink()
    port = free_port()
    args = [*LEAFCUBE, "serve", str(cube), "--host", "127.0.0.1", "--port", str(port)]
    proc = start_process(args, f"http://127.0.0.1:{port}/catalogue.json")
    try:
        url = f"http://127.0.0.1:{port}/api/collections/{coll.name}/subset"
        params = {
            "layers": "LAI",
            "bbox": "-107.45,53.78,-107.40,53.82",
            "start": "2023-07-01",
            "end": "2023-07-31",
            "format": "npy",
        }
        r = httpx.get(url, params=params, timeout=60)
        assert r.status_code == 404, r.text
        detail = r.json()["detail"]
        assert "LAI.tif" in detail and "private-folder-name" not in detail
        assert str(tmp_path) not in r.text
        params["layers"] = "fCOVER"
        r = httpx.get(url, params=params, timeout=60)
        assert r.status_code == 404, r.text
        assert gone in r.json()["detail"] and str(tmp_path) not in r.text
    finally:
        stop_process(proc)
