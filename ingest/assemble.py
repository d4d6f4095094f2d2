"""Assembling a run into the cube: the catalogue rebuilt from the ledger, mosaics, views, then
catalogue.json (not to be confused with `leafcube publish`, which copies a cube elsewhere).

Every file is written only when its bytes change, and ``catalogue.json`` last, so
readers never see a catalogue that lists a file not yet in place. The map viewer's page
goes in as ``index.html``, so a plain web server (and ``leafcube publish``) serves it too.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from collections.abc import Iterable
from pathlib import Path

from leafcube.catalogue import save
from leafcube.catalogue.folder import write_if_changed
from leafcube.catalogue.gomez import write_gomez
from leafcube.catalogue.grid import CCRS_CRS, X0, Y0
from leafcube.catalogue.models import Catalogue, Collection, DateEntry, LayerFiles, TileFile
from leafcube.catalogue.parts import part_key, partition_of
from leafcube.catalogue.roi import WGS84, transform_bounds
from leafcube.catalogue.store import read_parts

from .cog import Grid, Job, Written
from .mosaic import mosaic_href, mosaic_xml, overview_xmls, stale_overviews
from .names import Export
from .plan import add_layer, new_collection, source_fp
from .stac import write_stac
from .state import Ledger, Month


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


def _load_parts(cat: Catalogue, cube: Path, wanted: dict[str, set[str]]) -> None:
    """Load into ``cat`` the parts ``wanted`` (collection → part keys) it has and lacks."""
    for name, keys in wanted.items():
        coll = cat.collections.get(name)
        if coll is not None:
            refs = [r for k, r in coll.parts.items() if k in keys]
            cat.collections[name] = read_parts(cube, coll, refs)


def _keys_of(coll: Collection, key: str) -> set[str]:
    """The part keys of ``coll`` a date key (or ``partition/YYYY``: its whole year) falls in."""
    if coll.partition is None:
        return set()
    if key.startswith("partition/"):
        year = key.removeprefix("partition/")
        return {k for k in coll.parts if k[:4] == year}
    return {part_key(key, coll.partition)}


def load_touching(cat: Catalogue, cube: Path, exports: Iterable[Export]) -> Catalogue:
    """``cat`` with the parts loaded that hold the periods of ``exports`` in any collection
    (what tells a v2022 export from a 2023 one by its neighbours, and where they land)."""
    keys = {e.key for e in exports}
    _load_parts(
        cat,
        cube,
        {n: {p for k in keys for p in _keys_of(c, k)} for n, c in cat.collections.items()},
    )
    return cat


def apply_ledger(
    cat: Catalogue, ledger: Ledger, cube: Path, months: set[Month]
) -> dict[str, set[str]]:
    """Put the COGs of the ledger's ``months`` into the catalogue, loading the parts they
    land in first; return the date keys changed, by collection.

    A yearly Partition joins each date of its year in its collection. Collections
    the catalogue lacks (lost, or never saved by a killed first run) are recreated.
    """
    records = ledger.records(months)
    years = {(c, m[:4]) for c, m in months}
    partition_recs = {
        h: r
        for h, r in ledger.records((c, f"{y}-01") for c, y in years).items()
        if r["key"].startswith("partition/")
    }
    wanted: dict[str, set[str]] = {}
    for rec in records.values():
        coll = cat.collections.get(rec["collection"])
        if coll is not None:
            wanted.setdefault(coll.name, set()).update(_keys_of(coll, rec["key"]))
    _load_parts(cat, cube, wanted)
    # records of leafcube before 0.2 say no version: their collections' QC layers tell
    v2022 = {r["collection"] for r in records.values() if r["layer"].endswith("_QC")}
    v2022 |= {n for n, c in cat.collections.items() if any(k.endswith("_QC") for k in c.layers)}
    partitions: dict[tuple[str, int], LayerFiles] = {}
    changed: dict[str, set[str]] = {}
    for href, rec in sorted((partition_recs | records).items()):
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
        changed.setdefault(name, set()).add(rec["key"])
    for (name, year), files in partitions.items():
        whole = f"{year}-01" in {m for c, m in months if c == name}  # the Partition changed
        for key, entry in cat.collections[name].dates.items():
            if entry.start.year == year:
                entry.layers["Partition"] = LayerFiles(files.mosaic, dict(files.tiles))
                if whole:
                    changed.setdefault(name, set()).add(key)
    return changed


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


def _finish_collection(coll: Collection, cube: Path, keys: set[str]) -> None:
    """Write the mosaic VRTs of the dates ``keys`` that changed and grow the collection's
    extent to hold their tiles (it never shrinks: the ledger only gains COGs)."""
    boxes = [coll.extent] if coll.extent else []
    for key in sorted(keys):
        for name, files in coll.dates[key].layers.items():
            _write_mosaic(coll, name, files, cube)
            boxes += [t.bbox for t in files.tiles.values()]
    if boxes:
        ext = (
            min(b[0] for b in boxes),
            min(b[1] for b in boxes),
            max(b[2] for b in boxes),
            max(b[3] for b in boxes),
        )
        if ext != coll.extent:
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


def assemble(
    cat: Catalogue, ledger: Ledger, cube: Path, base_url: str | None, months: set[Month] | None
) -> bool:
    """Bring the catalogue, mosaics and views up to date with the ledger's ``months``
    (collection, YYYY-MM), touching only their parts; None: every month, every part
    loaded and every view written. True if the catalogue changed."""
    full = months is None
    if months is None:
        _load_parts(cat, cube, {n: set(c.parts) for n, c in cat.collections.items()})
        months = {(c, m) for c in ledger.collections() for m in ledger.months_of(c)}
    changed = apply_ledger(cat, ledger, cube, months)
    cat.collections = {k: v for k, v in cat.collections.items() if v.dates or v.parts}
    for name, keys in changed.items():
        _finish_collection(cat.collections[name], cube, keys)
    for coll in cat.collections.values():  # chosen once (from every date, the first time)
        coll.partition = partition_of(coll)
    only = None
    if not full:
        only = {
            n: {part_key(k, partition_of(cat.collections[n])) for k in keys}
            for n, keys in changed.items()
        }
    views = dict(cat.views)
    views.update(write_stac(cat, cube, base_url, only=only))
    views.update(write_gomez(cat, cube, base_url, only=only))
    cat.views = views
    return save(cat, cube)
