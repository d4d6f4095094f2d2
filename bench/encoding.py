"""Encoding benchmark: the cube's int16 + nodata -9999 against the uint8 + mask band it
replaced, side by side on the same data.

One run makes a current LEAF export (LAI, QC without sensor bits, Date; a smooth, noisy
landscape with clouds, written as Earth Engine writes it: see ``bench/ingest.py``),
ingests it with ``leafcube ingest`` (the int16 + nodata encoding), then writes the same
pixels in the old encoding (LEAF's uint8/uint16 DNs, 0 where masked, an internal mask
band) with the same COG options. It reports, per layer and encoding:

- **size** of the COG;
- **COG write time** from the same VRT stage (GDAL's COG driver, best of ``--repeat``);
- **window reads**: a 1,024² window of DNs and its mask, the reader's two calls;
- **map tiles**: WebMercatorQuad tiles at zoom 10–13 rendered by the server's own code
  (``leafcube.server.render``) from each encoding.

Run: ``.venv/bin/python bench/encoding.py [--size 8000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import write_layer  # noqa: E402
from leafcube.catalogue import load  # noqa: E402
from leafcube.catalogue.roi import WGS84, transform_bounds  # noqa: E402
from leafcube.ingest.cog import write_cog  # noqa: E402
from leafcube.ingest.pipeline import ingest  # noqa: E402
from leafcube.ingest.vrt import Placed, cog_source_xml  # noqa: E402
from leafcube.reader import CubeFiles, Datasets  # noqa: E402
from leafcube.server import tms  # noqa: E402
from leafcube.server.render import render  # noqa: E402

LAYERS = ("LAI", "QC", "Date")
KIND_OF_SOURCE = {"LAI": "LAI", "QC": "QC0", "Date": "Date"}


def stage_xml(spec, source: Path, mask: Path, old: bool) -> str:
    """The VRT ingest writes a COG from: LEAF's ``source`` and the no-data ``mask`` file
    (0/255), in the cube's encoding (the nodata DN burnt in) or the old one (LEAF's type,
    the mask as the dataset's mask band)."""
    with rasterio.open(source) as src:
        w, h, dtype = src.width, src.height, src.dtypes[0]
        gt, crs = src.transform.to_gdal(), "EPSG:3979"
    data = [Placed(str(source), w, h, 0, 0)]
    masked = Placed(str(mask), w, h, 0, 0)
    if not old:
        return cog_source_xml(spec, crs, gt, (h, w), data, dtype, masked)
    xml = cog_source_xml(replace(spec, dtype=dtype, nodata=None), crs, gt, (h, w), data, dtype)
    mask_band = (
        '  <MaskBand><VRTRasterBand dataType="Byte"><SimpleSource>'
        f'<SourceFilename relativeToVRT="0">{mask}</SourceFilename><SourceBand>1</SourceBand>'
        "</SimpleSource></VRTRasterBand></MaskBand>\n"
    )
    return xml.replace("</VRTDataset>", mask_band + "</VRTDataset>")


def timed_cog(xml: str, spec, out: Path, tmp: Path) -> float:
    """Seconds ingest's own COG writer takes from the VRT ``xml`` to ``out``."""
    t = time.perf_counter()
    write_cog(xml, spec, out, tmp)
    return time.perf_counter() - t


def window_reads(path: Path, repeat: int = 30) -> float:
    """Median ms of one 1,024² window read of DNs and mask (a new handle each time)."""
    times = []
    for i in range(repeat):
        t = time.perf_counter()
        with rasterio.open(path) as ds:
            off = (i * 97) % max(1, ds.width - 1024)
            win = rasterio.windows.Window(off, off, min(1024, ds.width), min(1024, ds.height))
            ds.read(1, window=win)
            ds.read_masks(1, window=win)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def tile_times(cube: Path, layer: str, old: dict[str, Path] | None) -> float:
    """Median ms of the server's tile render over the export, zooms 10-13 (``old`` maps
    each tile href to its old-encoding COG)."""
    coll = next(iter(load(cube).collections.values()))
    entry = coll.sorted_dates()[-1]
    files = CubeFiles(str(cube))
    if old is not None:
        entry = _pointed(entry, layer, old, cube)
    matrix, crs = tms.TMS["WebMercatorQuad"], tms.TMS_CRS["WebMercatorQuad"]
    west, south, east, north = transform_bounds(coll.extent, coll.crs, WGS84)
    times = []
    datasets = Datasets(64)
    with rasterio.Env():
        for z in (10, 11, 12, 13):
            # the 12 tiles nearest the export's centre: they hold data at every zoom
            cx, cy = (west + east) / 2, (south + north) / 2
            every = list(matrix.tiles(west, south, east, north, [z]))
            tiles = sorted(every, key=lambda t: _distance(matrix, t, cx, cy))[:12]
            for t in tiles:
                start = time.perf_counter()
                got = render(datasets, files, coll, entry, layer, matrix, crs, z, t.x, t.y, "data")
                if got is not None:  # a tile that holds data
                    times.append(time.perf_counter() - start)
    datasets.close()
    assert len(times) > 10, "too few tiles hold data"
    return statistics.median(times) * 1e3


def _distance(matrix, tile, lon: float, lat: float) -> float:
    """How far ``tile``'s centre is from (``lon``, ``lat``), in degrees."""
    b = matrix.bounds(tile)
    return abs((b.left + b.right) / 2 - lon) + abs((b.bottom + b.top) / 2 - lat)


def _pointed(entry, layer, old, cube):
    """``entry`` with ``layer``'s tile hrefs pointing at the old-encoding COGs."""
    files = entry.layers[layer]
    tiles = {k: replace(t, href=str(old[t.href].relative_to(cube))) for k, t in files.tiles.items()}
    layers = dict(entry.layers)
    layers[layer] = replace(files, tiles=tiles)
    return replace(entry, layers=layers)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=8000, help="pixels a side (default 8000)")
    ap.add_argument("--repeat", type=int, default=3, help="COG writes per encoding (best kept)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="leafcube-encoding-") as tmp:
        work = Path(tmp)
        src = work / "exports" / "tile42_2024"
        src.mkdir(parents=True)
        for layer in LAYERS:
            write_layer(src / f"tile42_Aug_{layer}_20m.tif", args.size, KIND_OF_SOURCE[layer], 1)
        cube = work / "cube"
        report = ingest([src], cube, workers=1, progress=False)
        assert report.ok, report.failures
        coll = next(iter(load(cube).collections.values()))
        entry = coll.sorted_dates()[-1]
        print(f"encoding benchmark: {args.size}² px, current LEAF export (LAI, QC, Date)\n")
        print(
            "| layer | encoding | COG MB | COG write s | 1,024² window read ms | tile ms |\n"
            "|---|---|---|---|---|---|"
        )
        for layer in LAYERS:
            spec = coll.layers[layer]
            href = next(iter(entry.layers[layer].tiles.values())).href
            new = cube / href
            mask = work / f"{layer}-mask.tif"
            with rasterio.open(new) as ds:
                profile = ds.profile | {"dtype": "uint8", "nodata": None, "driver": "GTiff"}
                with rasterio.open(mask, "w", **profile) as dst:
                    dst.write(ds.read_masks(1), 1)
            source = src / f"tile42_Aug_{layer}_20m.tif"
            old, again = cube / "old" / href, work / f"{layer}-new.tif"
            old.parent.mkdir(parents=True, exist_ok=True)
            secs = {}
            for name, out, is_old in (("old", old, True), ("new", again, False)):
                xml = stage_xml(spec, source, mask, is_old)
                secs[name] = min(timed_cog(xml, spec, out, work) for _ in range(args.repeat))
            t_old, t_new = secs["old"], secs["new"]
            with rasterio.open(old) as a, rasterio.open(new) as b:  # the same pixels
                assert np.array_equal(a.read_masks(1), b.read_masks(1))
                keep = b.read_masks(1) > 0
                assert np.array_equal(a.read(1)[keep], b.read(1)[keep])
            rows = (
                ("uint8/16 + mask band", old, t_old, {href: old}),
                ("int16 + nodata -9999", new, t_new, None),
            )
            for name, path, secs, pointed in rows:
                mb = path.stat().st_size / 1e6
                reads = window_reads(path)
                tiles = tile_times(cube, layer, pointed)
                print(f"| {layer} | {name} | {mb:.2f} | {secs:.2f} | {reads:.1f} | {tiles:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
