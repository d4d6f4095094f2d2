"""Large windows are read in parts on the COG block lattice, stitched to exactly the whole
read, and a lane serves its tickets fairly by pixels: a small request waits for one part
of a large read, not the whole of it."""

from __future__ import annotations

import gc
import threading
import weakref
from concurrent.futures import CancelledError

import numpy as np
import pytest
import rasterio
from shapely.geometry import Point, box

from leafcube.catalogue import load
from leafcube.catalogue.grid import CUT
from leafcube.catalogue.query import collection
from leafcube.reader import CubeFiles, Datasets, Reader, roi_grid
from leafcube.reader.parts import PART_PIXELS, anchor, windows
from leafcube.reader.read import HTTP_ENV, read_layer
from tests.reader.test_scheduling import blocked

NATIVE = "EPSG:3979"
#: The demo's data and 1 km around it: 700 x 700 px, 2 x 2 blocks of each tile and cut.
AROUND = box(-807_000.0, 601_925.0, -793_000.0, 615_925.0)
#: 100 x 100 km around the demo: 5,000 x 5,000 px, 121 parts.
LARGE = box(-850_000.0, 558_920.0, -750_000.0, 658_920.0)


@pytest.fixture(scope="module")
def cube(demo_cube):
    return demo_cube, collection(load(demo_cube), None)


@pytest.mark.parametrize("blocks", [(1, 1), (2, 3)])
def test_windows_tile_the_grid_on_the_block_lattice(cube, blocks):
    _, coll = cube
    grid = roi_grid(coll, AROUND, NATIVE)
    entry = coll.sorted_dates()[0]
    corner = anchor([entry], "LAI")
    first = entry.layers["LAI"].tiles[sorted(entry.layers["LAI"].tiles)[0]]
    assert corner == (first.bbox[0], first.bbox[3])
    wins = windows(grid, corner, blocks)
    seen = np.zeros(grid.shape, dtype=int)
    col0 = round((grid.bounds[0] - corner[0]) / grid.transform.a)
    row0 = round((corner[1] - grid.bounds[3]) / grid.transform.a)
    for row, col, height, width in wins:
        seen[row : row + height, col : col + width] += 1
        assert 0 < height <= CUT * blocks[0] and 0 < width <= CUT * blocks[1]
        if row:  # every cut but the grid's own edges lies on the lattice
            assert (row0 + row) % (CUT * blocks[0]) == 0
        if col:
            assert (col0 + col) % (CUT * blocks[1]) == 0
    assert (seen == 1).all()  # every pixel in exactly one window
    assert len(wins) > 1


def test_parts_stitch_to_the_whole_read(cube):
    folder, coll = cube
    files, grid = CubeFiles(str(folder)), roi_grid(coll, AROUND, NATIVE)
    assert grid.pixels > PART_PIXELS
    entries = coll.sorted_dates()[5:8]
    with Reader() as reader:
        got = reader.read_many(files, coll, entries, ["LAI", "Date"], grid, "valid")
        assert reader.counts().done > 2 * len(entries)  # parts, not one read each
    datasets = Datasets(16, None)
    try:
        with rasterio.Env(**HTTP_ENV):
            for layer in ("LAI", "Date"):
                for e in entries:
                    want = read_layer(datasets, files, coll, e, layer, grid, "valid")
                    read = got[layer][e.key]
                    assert read.dn.dtype == want.dn.dtype
                    np.testing.assert_array_equal(read.dn, want.dn)
                    np.testing.assert_array_equal(read.mask, want.mask)
                    assert read.tiles == want.tiles == ["tile42", "tile43"]
                    assert (~read.mask).sum() > 1000
    finally:
        datasets.close()


def test_a_small_request_waits_for_one_part_of_a_large_read(cube):
    """Queued behind a 121-part read, ten point reads are all served after its first part
    (turns by job would have served ten parts)."""
    folder, coll = cube
    files = CubeFiles(str(folder))
    large_grid, point = roi_grid(coll, LARGE, NATIVE), roi_grid(coll, Point(-107.42, 53.80))
    dates = coll.sorted_dates()
    with Reader(threads=1, name="test-parts") as reader:
        release = blocked(reader, coll)
        large = reader.start_many(files, coll, dates[:1], ["LAI"], large_grid)
        small = reader.start_many(files, coll, dates[:10], ["LAI"], point)
        queued = reader.counts().queued
        assert queued == 121 + 10
        seen: list[int] = []  # reads done (the blocker, parts, points) when the points were
        small.finished.add_done_callback(lambda _: seen.append(reader.counts().done))
        release.set()
        assert len(small.result()["LAI"]) == 10
        read = large.result()["LAI"][dates[0].key]
    assert seen == [1 + 1 + 10]
    assert read.dn.shape == (5000, 5000) and (~read.mask).sum() > 10_000


def test_cancelling_drops_every_queued_part(cube):
    folder, coll = cube
    files, grid = CubeFiles(str(folder)), roi_grid(coll, LARGE, NATIVE)
    with Reader(threads=2, name="test-parts-cancel") as reader:
        release = blocked(reader, coll)
        other = threading.Event()  # the second lane, held too
        reader.submit(coll, "LAI", coll.sorted_dates()[1], lambda _d: other.wait())
        batch = reader.start_many(files, coll, coll.sorted_dates()[:2], ["LAI"], grid)
        assert batch.cancel() == 2 * 121
        with pytest.raises(CancelledError):
            batch.finished.result()
        assert all(f.cancelled() for f in batch.futures)
        release.set()
        other.set()
        one = reader.read_many(files, coll, coll.sorted_dates()[:1], ["LAI"], grid)
        counts = reader.counts()
    assert (counts.queued, counts.cancelled, counts.done) == (0, 2 * 121, 2 + 121)
    assert one["LAI"][coll.sorted_dates()[0].key].dn.shape == (5000, 5000)


@pytest.fixture
def no_cyclic_gc():
    """The cyclic garbage collector off: what is freed is freed by reference counts."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


@pytest.mark.parametrize("roi", ["point", "parts"])
def test_a_finished_read_is_freed_without_the_cyclic_gc(cube, no_cyclic_gc, roi):
    """A done future keeps its callbacks; if a batch's or a parted read's callbacks held
    the futures back, every read would wait for the cyclic GC, which counts objects, not
    bytes: a worker serving 32 large subsets kept 1.6 GB of finished reads."""
    folder, coll = cube
    files = CubeFiles(str(folder))
    grid = (
        roi_grid(coll, AROUND, NATIVE) if roi == "parts" else roi_grid(coll, Point(-107.42, 53.8))
    )
    with Reader(threads=2, name="test-parts-free") as reader:
        batch = reader.start_many(files, coll, coll.sorted_dates()[:3], ["LAI"], grid)
        reads = batch.result()["LAI"]
        assert len(reads) == 3 and (grid.pixels > PART_PIXELS) == (roi == "parts")
        alive = [weakref.ref(r) for r in reads.values()]
        del batch, reads
        assert [r() for r in alive] == [None, None, None]


def test_a_cancelled_parted_read_is_freed_without_the_cyclic_gc(cube, no_cyclic_gc):
    folder, coll = cube
    files, grid = CubeFiles(str(folder)), roi_grid(coll, LARGE, NATIVE)
    with Reader(threads=1, name="test-parts-free-cancel") as reader:
        release = blocked(reader, coll)
        batch = reader.start_many(files, coll, coll.sorted_dates()[:1], ["LAI"], grid)
        alive = [weakref.ref(f) for f in batch.futures]
        assert batch.cancel() == 121
        release.set()
        del batch
        assert [f() for f in alive] == [None]
