"""The reader's lanes serve requests in turn and drop a cancelled request's reads; small
windows are read again from the reader's cache, and never stale."""

from __future__ import annotations

import os
import shutil
import threading
from concurrent.futures import CancelledError

import numpy as np
import pytest
import rasterio
from shapely.geometry import Point

from leafcube.catalogue import load
from leafcube.catalogue.query import collection
from leafcube.reader import CubeFiles, Reader, roi_grid
from leafcube.reader.datasets import WINDOW_OVERHEAD

#: On the seam of the demo's two tiles: each date reads both COGs.
POINT = Point(-107.42, 53.80)


@pytest.fixture(scope="module")
def cube(demo_cube):
    return demo_cube, collection(load(demo_cube), None)


def blocked(reader: Reader, coll) -> threading.Event:
    """Hold the (only) lane of ``reader`` until the returned event is set."""
    release, holding = threading.Event(), threading.Event()

    def hold(_datasets) -> None:
        holding.set()
        release.wait()

    entry = coll.sorted_dates()[0]
    reader.submit(coll, next(iter(coll.layers)), entry, hold)
    holding.wait()
    return release


def test_a_small_request_waits_for_one_read_of_a_large_one(cube):
    """Queued behind a large request's 120 reads, a 1-read request is served second."""
    folder, coll = cube
    files, grid = CubeFiles(str(folder)), roi_grid(coll, POINT)
    layers = list(coll.layers)[:5]
    with Reader(threads=1, name="test-turns") as reader:
        release = blocked(reader, coll)
        large = reader.start_many(files, coll, coll.sorted_dates(), layers, grid)
        small = reader.start_many(files, coll, coll.sorted_dates()[-1:], ["LAI"], grid)
        assert len(large) == 5 * len(coll.dates) >= 100
        seen: list[int] = []  # the large request's reads done when the small one finished
        small.finished.add_done_callback(
            lambda _: seen.append(sum(f.done() for f in large.futures))
        )
        release.set()
        assert small.result()["LAI"][coll.sorted_dates()[-1].key].data.shape == (1, 1)
        large.result()
    assert seen == [1]  # FIFO would have served all of the large request first


def test_cancel_drops_the_queued_reads(cube):
    folder, coll = cube
    files, grid = CubeFiles(str(folder)), roi_grid(coll, POINT)
    with Reader(threads=1, name="test-cancel") as reader:
        release = blocked(reader, coll)
        batch = reader.start_many(files, coll, coll.sorted_dates(), ["LAI", "QC"], grid)
        assert reader.counts().queued == len(batch) > 0
        assert batch.cancel() == len(batch)
        counts = reader.counts()
        assert (counts.queued, counts.cancelled, counts.done) == (0, len(batch), 0)
        with pytest.raises(CancelledError):
            batch.finished.result()
        release.set()
        # the lane serves the next request as usual
        one = reader.read_many(files, coll, coll.sorted_dates()[:1], ["LAI"], grid)
        assert reader.counts().done == 2  # the blocker and that read
        assert len(one["LAI"]) == 1


def test_small_windows_are_cached_bounded_and_fresh(cube, tmp_path):
    """A point's pixels come back equal from the cache, within its byte bound, and a
    COG replaced (as a re-ingest renames a new one over it) is read anew."""
    src, coll = cube
    folder = tmp_path / "cube"
    shutil.copytree(src, folder)
    files, grid = CubeFiles(str(folder)), roi_grid(coll, POINT)
    entries = coll.sorted_dates()
    bound = 20 * (WINDOW_OVERHEAD + 3)  # 20 one-pixel windows of int16 DNs and a mask
    with Reader(window_bytes=0) as plain, Reader(window_bytes=bound) as cached:
        want = plain.read_many(files, coll, entries, ["LAI"], grid)["LAI"]
        for _ in range(2):
            got = cached.read_many(files, coll, entries, ["LAI"], grid)["LAI"]
            for key, read in want.items():
                np.testing.assert_array_equal(got[key].data, read.data)
        assert plain.cached_windows == 0
        assert cached.cached_windows == 20  # of the 2 x 24 windows read

        entry = next(e for e in reversed(entries) if want[e.key].data.count())
        for tile in entry.layers["LAI"].tiles.values():
            path = folder / tile.href
            with rasterio.open(path) as ds:
                profile, data = ds.profile, ds.read(1)
            new = path.with_name("new.tif")
            with rasterio.open(new, "w", **profile) as out:
                out.write(np.where(data == profile["nodata"], data, 7), 1)
            os.replace(new, path)
        again = cached.read_many(files, coll, [entry], ["LAI"], grid)["LAI"][entry.key]
        assert again.data.compressed().tolist() == [np.float32(7) * np.float32(0.05)]
        assert coll.layers["LAI"].scale == 0.05
