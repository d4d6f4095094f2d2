"""Catalogues made in memory, the way ingest records LEAF's exports (a mosaic VRT per date
and layer, a COG per date, layer and tile), for the views' tests and bench/views.py: no
COG is written, the views only name the files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from leafcube.catalogue import Catalogue, Collection, DateEntry, LayerFiles, TileFile
from leafcube.catalogue.products import leaf_layers

#: Tile boxes in EPSG:3979 (20 km a side, side by side), named as LEAF names its tiles.
TILE_SIZE = 20_000.0


def entry(name: str, start: dt.date, days: int, tiles: int) -> DateEntry:
    """A period of ``days`` days from ``start`` with every LEAF layer on ``tiles`` tiles."""
    e = DateEntry(start, start + dt.timedelta(days=days - 1))
    for layer in leaf_layers(per_product_qc=True):
        e.layers[layer] = LayerFiles(
            mosaic=f"{name}/{e.key}/{layer}.vrt",
            tiles={
                f"tile{t}": TileFile(
                    f"{name}/{e.key}/tile{t}/{layer}.tif",
                    (-800_000.0 + t * TILE_SIZE, 600_000.0, -780_000.0 + t * TILE_SIZE, 620_000.0),
                    (1000, 1000),
                )
                for t in range(tiles)
            },
        )
    return e


def collection(name: str, starts: list[dt.date], days: int, tiles: int) -> Collection:
    """A collection of periods of ``days`` days starting on ``starts``."""
    return Collection(
        name,
        name,
        f"synthetic {days}-day periods",
        "EPSG:3979",
        20.0,
        (0.0, 0.0),
        leaf_layers(per_product_qc=True),
        {e.key: e for e in (entry(name, s, days, tiles) for s in starts)},
        (-800_000.0, 600_000.0, -800_000.0 + tiles * TILE_SIZE, 620_000.0),
        (-100.0, 40.0, -99.0, 41.0),
    )


def daily(name: str, first: dt.date, count: int, tiles: int = 1) -> Collection:
    """``count`` daily periods from ``first`` (a collection with monthly parts)."""
    return collection(name, [first + dt.timedelta(days=i) for i in range(count)], 1, tiles)


def monthly(name: str, years: range, tiles: int = 1) -> Collection:
    """A period a month (the 1st to the 28th) over ``years`` (yearly parts)."""
    return collection(name, [dt.date(y, m, 1) for y in years for m in range(1, 13)], 28, tiles)


def catalogue(*colls: Collection) -> Catalogue:
    """A catalogue of those collections."""
    return Catalogue({c.name: c for c in colls})


def view_files(cube: Path) -> dict[str, bytes]:
    """Every file of a cube's views (STAC and GOMEZ), by path: what to compare two writes by."""
    return {
        p.relative_to(cube).as_posix(): p.read_bytes()
        for folder in ("stac", "gomez")
        for p in sorted((cube / folder).rglob("*"))
        if p.is_file()
    }
