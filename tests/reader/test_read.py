"""The shared pixel path: ROI grids and tile mosaics equal a plain GDAL read of the mosaic VRT."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import rasterio
from rasterio.windows import from_bounds
from shapely.geometry import box

from leafcube.catalogue import ROIError, load
from leafcube.catalogue.qc import is_valid
from leafcube.catalogue.query import collection
from leafcube.catalogue.roi import reproject
from leafcube.reader import CubeFiles, Reader, ReaderClosed, roi_grid


@pytest.fixture(scope="module")
def reader():
    with Reader() as r:
        yield r


@pytest.fixture(scope="module")
def cube(demo_cube):
    cat = load(demo_cube)
    return demo_cube, collection(cat, None)


def native_roi(coll, shrink: float):
    x0, y0, x1, y1 = coll.extent
    return box(x0 + shrink, y0 + shrink, x1 - shrink * 1.5, y1 - shrink * 0.5)


def gdal_read(path, bounds):
    with rasterio.open(path) as ds:
        win = from_bounds(*bounds, transform=ds.transform).round_offsets().round_lengths()
        return ds.read(1, window=win, masked=True, boundless=True), ds.scales[0], ds.offsets[0]


@pytest.mark.parametrize("layer", ["LAI", "fAPAR", "Date", "Partition", "QC"])
def test_mosaic_across_tiles_equals_vrt(cube, reader, layer):
    folder, coll = cube
    entry = coll.sorted_dates()[6]
    grid = roi_grid(coll, native_roi(coll, 1013.0), coll.crs)
    read = reader.read_layer(CubeFiles(str(folder)), coll, entry, layer, grid)
    assert sorted(read.tiles) == ["tile42", "tile43"]
    expected, scale, offset = gdal_read(folder / entry.layers[layer].mosaic, grid.bounds)
    spec = coll.layers[layer]
    assert scale == pytest.approx(spec.scale) and offset == pytest.approx(spec.offset)
    want = np.ma.masked_array(
        expected.data.astype(np.float32) * np.float32(spec.scale) + np.float32(spec.offset),
        mask=np.ma.getmaskarray(expected) | ~grid.inside,
    )
    np.testing.assert_array_equal(read.data.mask, want.mask)
    np.testing.assert_array_equal(read.data.compressed(), want.compressed())
    assert read.data.dtype == np.float32


def test_grid_is_snapped_and_polygon_masked(cube):
    folder, coll = cube
    roi = reproject(native_roi(coll, 1013.0).buffer(-500), coll.crs, "EPSG:4326")
    grid = roi_grid(coll, roi)
    res = coll.resolution
    for edge, origin in zip(grid.bounds, coll.origin * 2, strict=True):
        assert (edge - origin) / res == pytest.approx(round((edge - origin) / res))
    assert 0 < grid.inside.sum() < grid.pixels  # a reprojected polygon is not its bbox


def test_qc_valid_hides_flagged_pixels(cube, reader):
    folder, coll = cube
    files = CubeFiles(str(folder))
    grid = roi_grid(coll, native_roi(coll, 0.0), coll.crs)
    total = {"data": 0, "valid": 0}
    for entry in coll.sorted_dates():
        data = reader.read_layer(files, coll, entry, "LAI", grid, qc="data").data
        valid = reader.read_layer(files, coll, entry, "LAI", grid, qc="valid").data
        qc = reader.read_layer(files, coll, entry, "QC", grid).data.filled(0).astype(np.uint8)
        np.testing.assert_array_equal(~np.ma.getmaskarray(valid), ~data.mask & is_valid(qc))
        total["data"] += data.count()
        total["valid"] += valid.count()
    assert 0 < total["valid"] < total["data"]


def test_roi_outside_the_data(cube):
    _, coll = cube
    with pytest.raises(ROIError, match="does not overlap"):
        roi_grid(coll, box(10, 10, 11, 11))


def test_lanes_pin_each_layer_and_date_to_one_thread(cube):
    """A (layer, date) always reads on the same thread, so its files stay open there;
    consecutive dates spread over every thread."""
    _, coll = cube
    entries = coll.sorted_dates()[:8]
    with Reader(threads=4, name="test-lanes") as lanes:

        def threads() -> dict[tuple[str, str], str]:
            futures = {
                (layer, e.key): lanes.submit(
                    coll, layer, e, lambda _datasets: threading.current_thread().name
                )
                for layer in ("LAI", "fCOVER")
                for e in entries
            }
            return {k: f.result() for k, f in futures.items()}

        first = threads()
        assert threads() == first
        assert len({first["LAI", e.key] for e in entries[:4]}) == 4
        assert first["LAI", entries[1].key] == first["fCOVER", entries[0].key]


def test_read_many_takes_generators(cube, reader):
    folder, coll = cube
    grid = roi_grid(coll, native_roi(coll, 3000.0), coll.crs)
    entries = coll.sorted_dates()[5:8]
    files = CubeFiles(str(folder))
    got = reader.read_many(files, coll, (e for e in entries), (n for n in ("LAI", "QC")), grid)
    assert {n: sorted(d) for n, d in got.items()} == {
        n: [e.key for e in entries] for n in ("LAI", "QC")
    }
    one = reader.read_layer(files, coll, entries[2], "QC", grid)
    np.testing.assert_array_equal(got["QC"][entries[2].key].data, one.data)


def open_files_under(folder) -> set[tuple[str, str]]:
    """(fd, path) of the files under ``folder`` this process holds open (from /proc, not
    from the reader)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.add((fd, target))
    return found


def test_reader_owns_its_threads_and_files(cube):
    """Made, a reader starts no thread and opens nothing; closed, it has stopped its
    threads and closed every file it opened, and takes no more work."""
    folder, coll = cube
    before_threads = {t.name for t in threading.enumerate()}
    before_files = open_files_under(folder)
    r = Reader(threads=3, name="owned")
    assert {t.name for t in threading.enumerate()} == before_threads
    grid = roi_grid(coll, native_roi(coll, 3000.0), coll.crs)
    entries = coll.sorted_dates()[:6]
    r.read_many(CubeFiles(str(folder)), coll, entries, ["LAI", "QC"], grid)
    assert r.open_datasets > 0
    assert len(open_files_under(folder) - before_files) > 0
    assert any(t.name.startswith("owned") for t in threading.enumerate())
    r.close()
    assert r.open_datasets == 0
    assert open_files_under(folder) == before_files
    assert not any(t.name.startswith("owned") for t in threading.enumerate())
    with pytest.raises(ReaderClosed):
        r.read_layer(CubeFiles(str(folder)), coll, entries[0], "LAI", grid)
    r.close()  # twice is fine
