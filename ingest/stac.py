"""The static STAC view: ``stac/catalog.json``, a collection and items per collection.

Self-contained (every link and asset href relative), so it moves with the cube.
Items are one per date and tile, with the projection and raster extensions that
let stackstac, odc-stac and GDAL's STACIT skip opening files; ``items.json`` is the
same items as one ItemCollection for clients that cannot walk a static catalogue.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from shapely.geometry import box, mapping

from leafcube.catalogue.folder import write_json
from leafcube.catalogue.models import Catalogue, Collection, DateEntry, LayerSpec, TileFile
from leafcube.catalogue.roi import WGS84, reproject

STAC_VERSION = "1.1.0"
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
JSON_TYPE = "application/json"
PROJ = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
DATACUBE = "https://stac-extensions.github.io/datacube/v2.2.0/schema.json"
LICENSE = "OGL-Canada-2.0"
ROOT = "stac/catalog.json"


def _rebase(obj: Any, here: str) -> Any:
    """Turn every ``href`` (relative to the cube root) into one relative to folder ``here``."""
    if isinstance(obj, dict):
        return {
            k: posixpath.relpath(v, here) if k == "href" else _rebase(v, here)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_rebase(v, here) for v in obj]
    return obj


def _roles(spec: LayerSpec) -> list[str]:
    return ["data"] if spec.kind == "continuous" else ["data", "metadata"]


def _band(spec: LayerSpec) -> dict[str, Any]:
    band: dict[str, Any] = {
        "data_type": spec.dtype,
        "scale": spec.scale,
        "offset": spec.offset,
        "unit": spec.unit,
    }
    if spec.nodata is not None:
        band["nodata"] = spec.nodata
    return band


def _asset_template(spec: LayerSpec) -> dict[str, Any]:
    return {
        "type": COG_TYPE,
        "title": spec.name,
        "description": spec.description,
        "roles": _roles(spec),
        "raster:bands": [_band(spec)],
    }


def _grid(coll: Collection, tile: TileFile) -> dict[str, Any]:
    res = coll.resolution
    return {
        "proj:shape": list(tile.shape),
        "proj:transform": [res, 0.0, tile.bbox[0], 0.0, -res, tile.bbox[3], 0.0, 0.0, 1.0],
    }


def _wgs84(bbox: tuple[float, ...]) -> tuple[dict[str, Any], list[float]]:
    geom = reproject(box(*bbox), "EPSG:3979", WGS84)
    rounded = mapping(geom)
    rounded = {
        "type": rounded["type"],
        "coordinates": [
            [[round(x, 7), round(y, 7)] for x, y in ring] for ring in rounded["coordinates"]
        ],
    }
    return rounded, [round(v, 7) for v in geom.bounds]


def _item(coll: Collection, entry: DateEntry, tile: str) -> dict[str, Any]:
    files = {n: lf.tiles[tile] for n, lf in entry.layers.items() if tile in lf.tiles}
    first = next(iter(files.values()))
    geometry, bbox = _wgs84(first.bbox)
    grid = _grid(coll, first)
    assets = {}
    for name, tf in files.items():
        asset = {"href": tf.href, **_asset_template(coll.layers[name])}
        if tf.bbox != first.bbox or tf.shape != first.shape:
            asset.update(_grid(coll, tf))
        assets[name] = asset
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [PROJ, RASTER],
        "id": f"{coll.name}-{entry.key}-{tile}",
        "collection": coll.name,
        "geometry": geometry,
        "bbox": bbox,
        "properties": {
            "datetime": None,
            "start_datetime": f"{entry.start.isoformat()}T00:00:00Z",
            "end_datetime": f"{entry.end.isoformat()}T23:59:59Z",
            "proj:code": coll.crs,
            **grid,
        },
        "assets": assets,
        "links": [
            {"rel": "root", "href": ROOT, "type": JSON_TYPE},
            {"rel": "parent", "href": f"stac/{coll.name}/collection.json", "type": JSON_TYPE},
            {"rel": "collection", "href": f"stac/{coll.name}/collection.json", "type": JSON_TYPE},
        ],
    }


def _collection(coll: Collection, item_hrefs: list[str], dates: list[DateEntry]) -> dict[str, Any]:
    ext = coll.extent or (0.0, 0.0, 0.0, 0.0)
    wgs = list(coll.extent_wgs84 or (-180.0, -90.0, 180.0, 90.0))
    first, last = (dates[0].start, dates[-1].end) if dates else (None, None)
    interval = [
        f"{first.isoformat()}T00:00:00Z" if first else None,
        f"{last.isoformat()}T23:59:59Z" if last else None,
    ]
    epsg = int(coll.crs.split(":")[1])
    here = f"stac/{coll.name}"
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [DATACUBE],
        "id": coll.name,
        "title": coll.title,
        "description": coll.description,
        "license": LICENSE,
        "keywords": ["LEAF", "LAI", "fAPAR", "fCOVER", "albedo", "Canada"],
        "providers": [
            {"name": "Canada Centre for Remote Sensing", "roles": ["producer", "licensor"]},
            {"name": "leafcube", "roles": ["processor", "host"]},
        ],
        "extent": {"spatial": {"bbox": [wgs]}, "temporal": {"interval": [interval]}},
        "item_assets": {n: _asset_template(s) for n, s in coll.layers.items()},
        "cube:dimensions": {
            "x": {
                "type": "spatial",
                "axis": "x",
                "extent": [ext[0], ext[2]],
                "step": coll.resolution,
                "reference_system": epsg,
            },
            "y": {
                "type": "spatial",
                "axis": "y",
                "extent": [ext[1], ext[3]],
                "step": -coll.resolution,
                "reference_system": epsg,
            },
            "time": {"type": "temporal", "extent": interval, "values": [e.key for e in dates]},
        },
        "cube:variables": {
            n: {
                "dimensions": ["time", "y", "x"],
                "type": "data" if s.kind == "continuous" else "auxiliary",
                "description": s.description,
                "unit": s.unit,
            }
            for n, s in coll.layers.items()
        },
        "links": [
            {"rel": "root", "href": ROOT, "type": JSON_TYPE},
            {"rel": "parent", "href": ROOT, "type": JSON_TYPE},
            {"rel": "items", "href": f"{here}/items.json", "type": "application/geo+json"},
            *({"rel": "item", "href": h, "type": "application/geo+json"} for h in item_hrefs),
        ],
    }


def write_stac(cat: Catalogue, cube: Path) -> dict[str, str]:
    """Write (only what changed of) the STAC view; return its entries for ``Catalogue.views``."""
    children = []
    for coll in (cat.collections[k] for k in sorted(cat.collections)):
        dates = coll.sorted_dates()
        here = f"stac/{coll.name}"
        items: list[dict[str, Any]] = []
        hrefs: list[str] = []
        for entry in dates:
            tiles = sorted({t for lf in entry.layers.values() for t in lf.tiles})
            for tile in tiles:
                item = _item(coll, entry, tile)
                href = f"{here}/items/{entry.key}_{tile}.json"
                write_json(cube / href, _rebase(item, f"{here}/items"))
                items.append(item)
                hrefs.append(href)
        write_json(cube / here / "collection.json", _rebase(_collection(coll, hrefs, dates), here))
        fc = {"type": "FeatureCollection", "features": items}
        write_json(cube / here / "items.json", _rebase(fc, here))
        children.append(
            {
                "rel": "child",
                "href": f"{here}/collection.json",
                "type": JSON_TYPE,
                "title": coll.title,
            }
        )
    root = {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "leafcube",
        "title": "leafcube",
        "description": "LEAF vegetation products (LAI, fCOVER, fAPAR, albedo) as COGs",
        "links": [{"rel": "root", "href": ROOT, "type": JSON_TYPE}, *children],
    }
    write_json(cube / ROOT, _rebase(root, "stac"))
    return {"stac": ROOT}
