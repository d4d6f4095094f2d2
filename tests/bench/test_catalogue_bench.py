"""bench/catalogue.py end to end at a tiny size, so it cannot rot: its table has the
issue's shape, and its figures agree with the cube it built."""

from __future__ import annotations

import json

import numpy as np
import rasterio
from rasterio.windows import from_bounds

from bench.catalogue import BBOX, COLLECTION, DISTINCT, day, main

DATES = 40  # January and February of 2000: two monthly parts


def truth(cube, date: str) -> tuple[int, float]:
    """Valid pixels and LAI sum over the bench's box, read with rasterio from the mosaic."""
    with rasterio.open(cube / COLLECTION / date / "LAI.vrt") as src:
        window = from_bounds(*BBOX, transform=src.transform)
        dn = src.read(1, window=window, masked=True)
        lai = dn.astype(np.float32) * np.float32(src.scales[0]) + np.float32(src.offsets[0])
    return int(lai.count()), float(lai.sum())


def test_bench_at_forty_dates(tmp_path, capsys):
    assert main(["--sizes", str(DATES), "--repeat", "1", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3  # header, separator, one row (no format-1.0 figures at 40)
    assert all(line.count("|") == 17 for line in lines)
    assert lines[2].startswith(f"| {DATES} | this run |")

    (row,) = json.loads((tmp_path / "catalogue.json").read_text())
    cube = tmp_path / f"catalogue-{DATES}" / "cube"
    assert row["root_bytes"] == (cube / "catalogue.json").stat().st_size
    parts = sorted((cube / "catalogue" / COLLECTION).glob("*.json"))
    assert [p.stem for p in parts] == ["2000-01", "2000-02"] and row["parts"] == 2
    assert row["largest_part_bytes"] == max(p.stat().st_size for p in parts)
    stac = [p for p in (cube / "stac").rglob("*") if p.is_file()]
    assert row["stac_files"] == len(stac) > DATES
    assert row["ingest"]["dates_after"] == DATES + 1  # the new day landed in the copies only
    assert len(json.loads(parts[-1].read_text())["dates"]) == DATES - 31

    newest = day(DATES - 1).isoformat()
    pixels, lai_sum = truth(cube, newest)
    assert row["pixels"] == pixels > 0
    assert abs(row["lai_sum"] - lai_sum) < 1e-3 * lai_sum
    # a linked date's COG is the same inode as the date it copies
    linked = cube / COLLECTION / newest / "tile42" / "LAI.tif"
    first = cube / COLLECTION / day((DATES - 1) % DISTINCT).isoformat() / "tile42" / "LAI.tif"
    assert linked.stat().st_ino == first.stat().st_ino

    for mode in ("local", "static", "server"):
        assert 0 < row["open_s"][mode] <= row["total_s"][mode] < 60
        assert 0 < row["cpu_s"][mode] < 60
    assert 0 < row["server_ready_s"] < 60
    assert 50 < row["server_rss_ready_mb"] <= row["server_rss_after_mb"] * 1.5 < 4000
    for name in ("whole", "noop", "alone", "alone_noop", "trusted", "trusted_noop"):
        run = row["ingest"][name]
        assert 0 < run["wall"] < 120 and 20 < run["peak_mib"] < 4000

    built = (tmp_path / f"catalogue-{DATES}" / "built.json").stat().st_mtime_ns
    assert main(["--sizes", str(DATES), "--build-only", "--out", str(tmp_path)]) == 0
    assert (tmp_path / f"catalogue-{DATES}" / "built.json").stat().st_mtime_ns == built
