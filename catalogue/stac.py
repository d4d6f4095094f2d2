"""The cube as STAC: pure functions from the catalogue to STAC Items, Collections and the
static catalogue's documents, shared by ``leafcube ingest`` (the files under ``stac/``)
and ``leafcube serve`` (the STAC API), so the two never drift apart.

Items are one per date and tile. They carry what STAC tools need to read the COGs without
opening them first: the projection extension with both ``proj:code`` and ``proj:epsg``
(stackstac and GDAL 3.6's STACIT read only the latter), ``proj:shape`` and
``proj:transform``, and raster bands with ``data_type``, ``nodata``, ``scale``, ``offset``
and ``unit`` taken from the layer's :class:`LayerSpec`. Every item has a ``datetime``:
by convention the **first instant of its period** (``start_datetime``), with
``start_datetime``/``end_datetime`` giving the whole period (docs/stac.md).

Everything is built with hrefs relative to the cube root; :func:`absolute` and
:func:`relative` then place them under a base URL or relative to a document's folder.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Iterable, Iterator
from typing import Any

from shapely.geometry import box, mapping

from .models import Catalogue, Collection, DateEntry, LayerSpec, TileFile
from .parts import PartKeys, group, in_scope, index
from .roi import WGS84, reproject

STAC_VERSION = "1.1.0"
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
JSON_TYPE = "application/json"
GEOJSON_TYPE = "application/geo+json"
PROJ = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
DATACUBE = "https://stac-extensions.github.io/datacube/v2.2.0/schema.json"
LICENSE = "OGL-Canada-2.0"
#: The static catalogue's root, relative to the cube root.
ROOT = "stac/catalog.json"
ROOT_ID = "leafcube"
ROOT_TITLE = "leafcube"
ROOT_DESCRIPTION = "LEAF vegetation products (LAI, fCOVER, fAPAR, albedo) as COGs"


def epsg(crs: str) -> int | None:
    """The EPSG code of an ``EPSG:n`` CRS string, else None (then no ``proj:epsg``)."""
    authority, _, code = crs.partition(":")
    return int(code) if authority.upper() == "EPSG" and code.isdigit() else None


def start_of(day: dt.date) -> str:
    """RFC 3339 for the first instant (UTC) of ``day``."""
    return f"{day.isoformat()}T00:00:00Z"


def end_of(day: dt.date) -> str:
    """RFC 3339 for the last second (UTC) of ``day``: periods are whole days, inclusive."""
    return f"{day.isoformat()}T23:59:59Z"


def item_id(coll: Collection, entry: DateEntry, tile: str) -> str:
    """The id of the item of ``tile`` on ``entry``'s period, unique across the cube."""
    return f"{coll.name}-{entry.key}-{tile}"


def collection_file(name: str) -> str:
    """Where the static catalogue keeps a collection, relative to the cube root."""
    return f"stac/{name}/collection.json"


def items_dir(name: str) -> str:
    """The folder of a collection's item files (``{date}_{tile}.json``), from the cube root."""
    return f"stac/{name}/items"


def item_file(coll: Collection, entry: DateEntry, tile: str) -> str:
    """Where the static catalogue keeps that item, relative to the cube root."""
    return f"{items_dir(coll.name)}/{entry.key}_{tile}.json"


def part_catalog_file(name: str, key: str) -> str:
    """The sub-catalogue of a collection's part ``key`` (``2023`` or ``2023-08``)."""
    return f"stac/{name}/{key}/catalog.json"


def part_items_file(name: str, key: str) -> str:
    """The ItemCollection of a collection's part ``key``."""
    return f"stac/{name}/{key}/items.json"


def _roles(spec: LayerSpec) -> list[str]:
    return ["data"] if spec.kind == "continuous" else ["data", "metadata"]


def band(spec: LayerSpec) -> dict[str, Any]:
    """The raster extension's band of a layer: how to turn its DNs into values."""
    out: dict[str, Any] = {
        "data_type": spec.dtype,
        "scale": spec.scale,
        "offset": spec.offset,
        "unit": spec.unit,
    }
    if spec.nodata is not None:
        out["nodata"] = spec.nodata
    return out


def asset_template(spec: LayerSpec) -> dict[str, Any]:
    """What every asset of a layer shares (the collection's ``item_assets`` entry)."""
    return {
        "type": COG_TYPE,
        "title": spec.name,
        "description": spec.description,
        "roles": _roles(spec),
        "raster:bands": [band(spec)],
    }


def _grid(coll: Collection, tile: TileFile) -> dict[str, Any]:
    res = coll.resolution
    return {
        "proj:shape": list(tile.shape),
        "proj:transform": [res, 0.0, tile.bbox[0], 0.0, -res, tile.bbox[3], 0.0, 0.0, 1.0],
    }


def _wgs84(bbox: tuple[float, ...], crs: str) -> tuple[dict[str, Any], list[float]]:
    """A native bbox as a lon/lat polygon (its outline reprojected) and that polygon's bbox."""
    geom = reproject(box(*bbox), crs, WGS84)
    shape = mapping(geom)
    rounded = {
        "type": shape["type"],
        "coordinates": [
            [[round(x, 7), round(y, 7)] for x, y in ring] for ring in shape["coordinates"]
        ],
    }
    return rounded, [round(v, 7) for v in geom.bounds]


def item(coll: Collection, entry: DateEntry, tile: str) -> dict[str, Any]:
    """The STAC Item of one tile on one period: an asset per layer that has the tile.

    Hrefs are relative to the cube root and ``links`` is empty: the caller adds the links
    of where the item is published (a static file or the API).
    """
    files = {n: lf.tiles[tile] for n, lf in entry.layers.items() if tile in lf.tiles}
    first = next(iter(files.values()))
    geometry, bbox = _wgs84(first.bbox, coll.crs)
    assets = {}
    for name, tf in files.items():
        asset = {"href": tf.href, **asset_template(coll.layers[name])}
        if tf.bbox != first.bbox or tf.shape != first.shape:
            asset.update(_grid(coll, tf))
        assets[name] = asset
    code = epsg(coll.crs)
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [PROJ, RASTER],
        "id": item_id(coll, entry, tile),
        "collection": coll.name,
        "geometry": geometry,
        "bbox": bbox,
        "properties": {
            "datetime": start_of(entry.start),
            "start_datetime": start_of(entry.start),
            "end_datetime": end_of(entry.end),
            "proj:code": coll.crs,
            **({"proj:epsg": code} if code is not None else {}),
            **_grid(coll, first),
        },
        "assets": assets,
        "links": [],
    }


def items(
    coll: Collection, keys: Iterable[str] | None = None
) -> Iterator[tuple[DateEntry, str, dict[str, Any]]]:
    """The items of the dates ``keys`` (default: every date held), by date then tile, with
    the period and tile each is of."""
    for entry in (coll.dates[k] for k in sorted(coll.dates if keys is None else keys)):
        for tile in sorted({t for lf in entry.layers.values() for t in lf.tiles}):
            yield entry, tile, item(coll, entry, tile)


def interval(coll: Collection) -> list[str | None]:
    """The collection's temporal extent: first instant of its first period to the last
    second of its last one (null on both ends for a collection without dates), from its
    parts' spans, so no part need be loaded."""
    spans = index(coll).values()
    if not spans:
        return [None, None]
    return [start_of(min(s[0] for s in spans)), end_of(max(s[1] for s in spans))]


def collection(coll: Collection, values: list[str] | None = None) -> dict[str, Any]:
    """The STAC Collection of a leafcube collection, without links (the caller adds them).

    The ``time`` dimension lists ``values`` (every period's key) when given; the static
    view leaves them out, as naming every period would mean reading every part.
    """
    ext = coll.extent or (0.0, 0.0, 0.0, 0.0)
    wgs = list(coll.extent_wgs84 or (-180.0, -90.0, 180.0, 90.0))
    span = interval(coll)
    ref: int | str = epsg(coll.crs) or coll.crs
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
        "extent": {"spatial": {"bbox": [wgs]}, "temporal": {"interval": [span]}},
        "item_assets": {n: asset_template(s) for n, s in coll.layers.items()},
        "cube:dimensions": {
            "x": {
                "type": "spatial",
                "axis": "x",
                "extent": [ext[0], ext[2]],
                "step": coll.resolution,
                "reference_system": ref,
            },
            "y": {
                "type": "spatial",
                "axis": "y",
                "extent": [ext[1], ext[3]],
                "step": -coll.resolution,
                "reference_system": ref,
            },
            "time": {
                "type": "temporal",
                "extent": span,
                **({"values": values} if values is not None else {}),
            },
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
        "links": [],
    }


def absolute(obj: Any, base: str) -> Any:
    """``obj`` with every ``href`` (relative to the cube root) placed under URL ``base``."""
    if isinstance(obj, dict):
        return {
            k: f"{base.rstrip('/')}/{v}" if k == "href" else absolute(v, base)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [absolute(v, base) for v in obj]
    return obj


def relative(obj: Any, here: str) -> Any:
    """``obj`` with every ``href`` (relative to the cube root) made relative to folder
    ``here`` (also relative to the cube root): the document moves with the cube."""
    if isinstance(obj, dict):
        return {
            k: posixpath.relpath(v, here) if k == "href" else relative(v, here)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [relative(v, here) for v in obj]
    return obj


def _link(rel: str, href: str, kind: str = JSON_TYPE, **extra: str) -> dict[str, Any]:
    return {"rel": rel, "href": href, "type": kind, **extra}


def static_documents(
    cat: Catalogue, base_url: str | None = None, *, only: PartKeys | None = None
) -> dict[str, dict[str, Any]]:
    """The static STAC catalogue as ``{path relative to the cube root: document}``: the
    root, each collection (linking a sub-catalogue per part), and each part's
    sub-catalogue, ItemCollection ``items.json`` and item files.

    ``only`` (collection → part keys) limits the parts to those named (they must be
    loaded); the root and the collections are always there, made from the parts' spans.
    With ``base_url`` (where the cube folder is published) every href is an absolute URL
    and every document has a ``self`` link, so a document read on its own resolves — a
    part's ``items.json`` above all, which pystac, odc-stac and stackstac load directly.
    Without one, every href is relative to the document's folder: the catalogue is
    self-contained and moves with the cube (docs/stac.md).
    """
    docs = catalogue_documents(cat, base_url)
    for coll in cat.collections.values():
        keys = None if only is None else only.get(coll.name, ())
        docs |= part_documents(coll, keys, base_url)
    return docs


def catalogue_documents(cat: Catalogue, base_url: str | None = None) -> dict[str, dict[str, Any]]:
    """The root and each collection of :func:`static_documents`, without loading a part."""
    docs: dict[str, dict[str, Any]] = {}
    children = []
    for coll in (cat.collections[k] for k in sorted(cat.collections)):
        home = collection_file(coll.name)
        coll_doc = collection(coll)
        coll_doc["links"] = [
            _link("root", ROOT),
            _link("parent", ROOT),
            _link("self", home),
            *(_link("child", part_catalog_file(coll.name, k), title=k) for k in index(coll)),
        ]
        docs[home] = coll_doc
        children.append(_link("child", home, title=coll.title))
    docs[ROOT] = {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": ROOT_ID,
        "title": ROOT_TITLE,
        "description": ROOT_DESCRIPTION,
        "links": [_link("root", ROOT), _link("self", ROOT), *children],
    }
    return _placed(docs, base_url)


def part_documents(
    coll: Collection, keys: Iterable[str] | None, base_url: str | None = None
) -> dict[str, dict[str, Any]]:
    """The documents of :func:`static_documents` for the parts ``keys`` of ``coll`` (None:
    all; they must be loaded): what a writer renders a few parts at a time."""
    docs: dict[str, dict[str, Any]] = {}
    grouped = group(coll)
    for key in in_scope(coll, keys):
        docs |= _part_documents(coll, key, grouped[key])
    return _placed(docs, base_url)


def _placed(docs: dict[str, dict[str, Any]], base_url: str | None) -> dict[str, dict[str, Any]]:
    """Documents with hrefs from the cube root, made absolute under ``base_url`` or
    relative to each document's folder."""
    if base_url:
        return {path: absolute(doc, base_url) for path, doc in docs.items()}
    return {path: _without_self(path, doc) for path, doc in docs.items()}


def _part_documents(coll: Collection, key: str, dates: list[str]) -> dict[str, dict[str, Any]]:
    """A part's sub-catalogue, its ``items.json`` and its item files (hrefs from the root)."""
    home = collection_file(coll.name)
    here = part_catalog_file(coll.name, key)
    listed = part_items_file(coll.name, key)
    up = [_link("root", ROOT), _link("parent", here), _link("collection", home)]
    features = {}
    for entry, tile, doc in items(coll, dates):
        path = item_file(coll, entry, tile)
        doc["links"] = [*up, _link("self", path, GEOJSON_TYPE)]
        features[path] = doc
    docs: dict[str, dict[str, Any]] = dict(features)
    docs[here] = {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": f"{coll.name}-{key}",
        "title": f"{coll.title}: {key}",
        "description": f"The items of {coll.name} whose period starts in {key}",
        "links": [
            _link("root", ROOT),
            _link("parent", home),
            _link("self", here),
            _link("items", listed, GEOJSON_TYPE),
            *(_link("item", h, GEOJSON_TYPE) for h in features),
        ],
    }
    docs[listed] = {
        "type": "FeatureCollection",
        "features": list(features.values()),
        "links": [_link("root", ROOT), _link("self", listed, GEOJSON_TYPE)],
    }
    return docs


def _without_self(path: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The relative form of a static document: a relative ``self`` link is meaningless
    (STAC wants it absolute), so it is left out, and the features of a part's
    ``items.json`` keep hrefs relative to that ``items.json``."""
    return relative(_drop_self(doc), posixpath.dirname(path))


def _drop_self(obj: Any) -> Any:
    if isinstance(obj, dict):
        out = {k: _drop_self(v) for k, v in obj.items()}
        if "links" in out:
            out["links"] = [lk for lk in out["links"] if lk.get("rel") != "self"]
        return out
    if isinstance(obj, list):
        return [_drop_self(v) for v in obj]
    return obj
