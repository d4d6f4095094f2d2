"""Assembling a run into the cube: the catalogue rebuilt from the ledger, mosaics, views, then
catalogue.json (not to be confused with `leafcube publish`, which copies a cube elsewhere).

Every file is written only when its bytes change, and ``catalogue.json`` last, so
readers never see a catalogue that lists a file not yet in place. The map viewer's page
goes in as ``index.html``, so a plain web server (and ``leafcube publish``) serves it too.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

from leafcube.catalogue import save
from leafcube.catalogue.folder import write_if_changed
from leafcube.catalogue.gomez import write_gomez
from leafcube.catalogue.grid import CCRS_CRS, X0, Y0
from leafcube.catalogue.models import Catalogue, Collection, DateEntry, LayerFiles, TileFile
from leafcube.catalogue.roi import WGS84, transform_bounds

from .cog import Grid, Job, Written
from .mosaic import mosaic_href, mosaic_xml, overview_xmls, stale_overviews
from .plan import add_layer, new_collection, source_fp
from .stac import write_stac
from .state import Ledger


def record(job: Job, written: Written, fp: str) -> dict:
    """The ledger's record of one COG: enough to put it back in a catalogue."""
    return {
        "fingerprint": fp,
        "source_fingerprint": source_fp(job),
        "collection": job.collection,
        "crs": job.grid.crs,
        "origin": list(job.grid.origin),
        "version": job.version,
        "source": written.source,
        "key": job.key,
        "tile": job.tile,
        "layer": job.spec.name,
        "resolution": job.grid.res,
        "start": job.start.isoformat(),
        "end": job.end.isoformat(),
        "bbox": list(written.bbox),
        "shape": list(written.shape),
    }


def apply_ledger(cat: Catalogue, ledger: Ledger) -> None:
    """Put every COG of the ledger into the catalogue.

    A yearly Partition joins each date of its year in its collection. Collections
    the catalogue lacks (lost, or never saved by a killed first run) are recreated.
    """
    partitions: dict[tuple[str, int], LayerFiles] = {}
    # records of leafcube before 0.2 say no version: their collections' QC layers tell
    v2022 = {r["collection"] for r in ledger.records.values() if r["layer"].endswith("_QC")}
    for href, rec in sorted(ledger.records.items()):
        name = rec["collection"]
        per_product = rec.get("version", "v2022" if name in v2022 else "2023") == "v2022"
        coll = cat.collections.get(name)
        if coll is None:
            origin = tuple(rec.get("origin", (X0, Y0)))
            grid = Grid(rec.get("crs", CCRS_CRS), rec["resolution"], origin)
            period = "peak" if "-peak" in name else "custom" if "-custom" in name else "monthly"
            coll = new_collection(name, grid, per_product, period)
            cat.collections[name] = coll
        if not add_layer(coll, rec["layer"], per_product):
            continue
        source = tuple(sorted(rec.get("source", {}).items()))
        tile = TileFile(href, tuple(rec["bbox"]), tuple(rec["shape"]), source)
        mosaic = mosaic_href(name, rec["key"], rec["layer"])
        if rec["key"].startswith("partition/"):
            year = int(rec["key"].split("/")[1])
            partitions.setdefault((name, year), LayerFiles(mosaic)).tiles[rec["tile"]] = tile
            continue
        start, end = dt.date.fromisoformat(rec["start"]), dt.date.fromisoformat(rec["end"])
        entry = coll.dates.setdefault(rec["key"], DateEntry(start, end))
        entry.layers.setdefault(rec["layer"], LayerFiles(mosaic)).tiles[rec["tile"]] = tile
    for (name, year), files in partitions.items():
        for entry in cat.collections[name].dates.values():
            if entry.start.year == year:
                entry.layers["Partition"] = LayerFiles(files.mosaic, dict(files.tiles))


def _write_mosaic(coll: Collection, layer: str, files: LayerFiles, cube: Path) -> None:
    """Write a mosaic VRT and its overview levels where they changed (levels first, so the
    mosaic never names a missing level), and remove levels it no longer has."""
    spec = coll.layers[layer]
    levels = overview_xmls(coll, spec, files)
    for href, xml in levels.items():
        write_if_changed(cube / href, xml.encode())
    write_if_changed(cube / files.mosaic, mosaic_xml(coll, spec, files).encode())
    folder = (cube / files.mosaic).parent
    for href in stale_overviews(files.mosaic, [p.name for p in folder.iterdir()], list(levels)):
        (cube / href).unlink(missing_ok=True)


def _finish_collection(coll: Collection, cube: Path) -> None:
    """Write every mosaic VRT that changed and refresh the collection's extent."""
    boxes = []
    for entry in coll.dates.values():
        for name, files in entry.layers.items():
            _write_mosaic(coll, name, files, cube)
            boxes += [t.bbox for t in files.tiles.values()]
    if boxes:
        ext = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        coll.extent = ext
        coll.extent_wgs84 = tuple(round(v, 6) for v in transform_bounds(ext, coll.crs, WGS84))


#: Marks an index.html as the viewer's own (one a user put there is left alone).
VIEWER_MARK = b'<meta name="generator" content="leafcube-viewer">'


def viewer_page() -> Path | None:
    """The built viewer page (package data of leafcube.server), found without importing the
    server (whose dependencies an ingest-only install lacks); None when not built."""
    spec = importlib.util.find_spec("leafcube.server")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        page = Path(folder) / "viewer" / "dist" / "index.html"
        if page.is_file():
            return page
    return None


def write_viewer(cube: Path) -> bool:
    """Put the viewer page into the cube as ``index.html``; True if it was written.

    Skipped when the viewer is not built, or when the cube has an index.html of its own.
    """
    page = viewer_page()
    target = cube / "index.html"
    if page is None:
        return False
    if target.is_file() and VIEWER_MARK not in target.read_bytes()[:4096]:
        return False
    return write_if_changed(target, page.read_bytes())


def assemble(cat: Catalogue, ledger: Ledger, cube: Path, base_url: str | None) -> bool:
    """Bring the catalogue, mosaics and views up to date with the ledger; True if it changed."""
    apply_ledger(cat, ledger)
    cat.collections = {k: v for k, v in cat.collections.items() if v.dates}
    for coll in cat.collections.values():
        _finish_collection(coll, cube)
    views = dict(cat.views)
    views.update(write_stac(cat, cube))
    views.update(write_gomez(cat, cube, base_url))
    cat.views = views
    write_viewer(cube)
    return save(cat, cube)
