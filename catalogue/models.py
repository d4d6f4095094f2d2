"""Plain dataclasses for the catalogue, and their exact JSON form.

``to_dict``/``from_dict`` round-trip the root ``catalogue.json`` and its parts
(docs/catalogue.md); the JSON Schema in ``schema/catalogue.schema.json`` checks the same
shapes. A collection's dates live in parts, one per year or month (:class:`PartRef`); a
:class:`Collection` in memory holds the dates of the parts it has ``loaded``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

FORMAT_VERSION = "2.0"
#: Versions this code reads: 1.0 held every date inline in ``catalogue.json``.
READ_VERSIONS = ("1.0", "2.0")

Bounds = tuple[float, float, float, float]
LayerKind = Literal["continuous", "bitmask", "date", "categorical"]
MaskRule = Literal["qc", "nodata", "none"]
Partition = Literal["year", "month"]


@dataclass(frozen=True)
class QCBit:
    """A field of the QC bitmask: ``width`` bits starting at ``bit``."""

    bit: int
    width: int
    name: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "bit": self.bit,
            "width": self.width,
            "name": self.name,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QCBit:
        return cls(d["bit"], d["width"], d["name"], d["description"])


@dataclass(frozen=True)
class LayerSpec:
    """How one layer is stored and what its values mean.

    Physical value = DN * scale + offset. ``mask`` says where no data comes from:
    ``qc`` (the version's rule on ``qc_layer``, applied at ingest), ``nodata`` (the
    source's own DN ``nodata``) or ``none`` (every pixel is data). Either way the cube
    stores no data as the DN ``nodata`` (a GDAL nodata value every client reads); cubes
    older than that (``nodata`` None with ``qc``) kept it in an internal mask band.
    """

    name: str
    dtype: str
    scale: float
    offset: float
    unit: str
    valid_range: tuple[float, float]
    description: str
    colormap: str
    display_range: tuple[float, float]
    kind: LayerKind
    mask: MaskRule
    qc_layer: str | None = None
    nodata: float | None = None
    bits: tuple[QCBit, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "dtype": self.dtype,
            "scale": self.scale,
            "offset": self.offset,
            "unit": self.unit,
            "valid_range": list(self.valid_range),
            "description": self.description,
            "colormap": self.colormap,
            "display_range": list(self.display_range),
            "kind": self.kind,
            "mask": self.mask,
        }
        if self.qc_layer is not None:
            d["qc_layer"] = self.qc_layer
        if self.nodata is not None:
            d["nodata"] = self.nodata
        if self.bits:
            d["bits"] = [b.to_dict() for b in self.bits]
        return d

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> LayerSpec:
        return cls(
            name=name,
            dtype=d["dtype"],
            scale=d["scale"],
            offset=d["offset"],
            unit=d["unit"],
            valid_range=tuple(d["valid_range"]),
            description=d["description"],
            colormap=d["colormap"],
            display_range=tuple(d["display_range"]),
            kind=d["kind"],
            mask=d["mask"],
            qc_layer=d.get("qc_layer"),
            nodata=d.get("nodata"),
            bits=tuple(QCBit.from_dict(b) for b in d.get("bits", ())),
        )


@dataclass(frozen=True)
class TileFile:
    """One COG of one layer, date and region; ``href`` is relative to the catalogue.

    ``source`` says what it was made from: ``leaf`` (the LEAF version of the export:
    ``v2022``, ``2023``, ``current``, ``compact``) and for Date layers ``date_encoding``
    (the export's encoding, converted to the cube's day of year; docs/ingest.md).
    """

    href: str
    bbox: Bounds
    shape: tuple[int, int]
    source: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"href": self.href, "bbox": list(self.bbox), "shape": list(self.shape)}
        if self.source:
            d["source"] = dict(self.source)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TileFile:
        source = tuple(sorted(d.get("source", {}).items()))
        return cls(d["href"], tuple(d["bbox"]), tuple(d["shape"]), source)


@dataclass
class LayerFiles:
    """The files of one layer on one date: a COG per tile and a mosaic VRT of them all."""

    mosaic: str
    tiles: dict[str, TileFile] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mosaic": self.mosaic,
            "tiles": {k: self.tiles[k].to_dict() for k in sorted(self.tiles)},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayerFiles:
        return cls(d["mosaic"], {k: TileFile.from_dict(v) for k, v in d["tiles"].items()})


@dataclass
class DateEntry:
    """One period of a collection: its first and last day (inclusive) and its files."""

    start: dt.date
    end: dt.date
    layers: dict[str, LayerFiles] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.start.isoformat()

    def to_dict(self, layer_order: list[str]) -> dict[str, Any]:
        names = [n for n in layer_order if n in self.layers]
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "layers": {n: self.layers[n].to_dict() for n in names},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DateEntry:
        return cls(
            dt.date.fromisoformat(d["start"]),
            dt.date.fromisoformat(d["end"]),
            {k: LayerFiles.from_dict(v) for k, v in d["layers"].items()},
        )


@dataclass(frozen=True)
class PartRef:
    """One part of a collection as the root names it: the file holding the dates of one
    year (``2023``) or month (``2023-08``), its SHA-256, and what it spans, so a reader
    knows which parts a request touches, and whether its copy is current, without them."""

    key: str
    href: str
    sha256: str
    start: dt.date
    end: dt.date
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "href": self.href,
            "sha256": self.sha256,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "dates": self.count,
        }

    @classmethod
    def from_dict(cls, key: str, d: dict[str, Any]) -> PartRef:
        start, end = dt.date.fromisoformat(d["start"]), dt.date.fromisoformat(d["end"])
        return cls(key, d["href"], d["sha256"], start, end, d["dates"])


@dataclass
class Collection:
    """A set of layers on one grid (CRS, resolution, pixel origin) over many dates.

    ``parts`` is the root's index of the collection's parts; ``dates`` holds the entries
    of the parts in ``loaded`` (all of them when read whole, none in a bare root) plus
    any an ingest added. ``partition`` (year or month) is chosen once, at the first save.
    """

    name: str
    title: str
    description: str
    crs: str
    resolution: float
    origin: tuple[float, float]
    layers: dict[str, LayerSpec]
    dates: dict[str, DateEntry] = field(default_factory=dict)
    extent: Bounds | None = None
    extent_wgs84: Bounds | None = None
    partition: Partition | None = None
    parts: dict[str, PartRef] = field(default_factory=dict)
    loaded: set[str] = field(default_factory=set)

    def sorted_dates(self) -> list[DateEntry]:
        return [self.dates[k] for k in sorted(self.dates)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "crs": self.crs,
            "resolution": self.resolution,
            "origin": list(self.origin),
            "extent": {
                "native": list(self.extent) if self.extent else None,
                "wgs84": list(self.extent_wgs84) if self.extent_wgs84 else None,
            },
            "layers": {n: s.to_dict() for n, s in self.layers.items()},
            "partition": self.partition,
            "parts": {k: self.parts[k].to_dict() for k in sorted(self.parts)},
        }

    def dates_dict(self, keys: list[str]) -> dict[str, Any]:
        """The JSON form of the date entries ``keys``, sorted (a part's ``dates``)."""
        order = list(self.layers)
        return {k: self.dates[k].to_dict(order) for k in sorted(keys)}

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> Collection:
        ext = d["extent"]
        inline = d.get("dates")  # format 1.0: every date in the root, nothing to load
        return cls(
            name=name,
            title=d["title"],
            description=d["description"],
            crs=d["crs"],
            resolution=d["resolution"],
            origin=tuple(d["origin"]),
            layers={n: LayerSpec.from_dict(n, s) for n, s in d["layers"].items()},
            dates={k: DateEntry.from_dict(v) for k, v in (inline or {}).items()},
            extent=tuple(ext["native"]) if ext["native"] else None,
            extent_wgs84=tuple(ext["wgs84"]) if ext["wgs84"] else None,
            partition=d.get("partition"),
            parts={k: PartRef.from_dict(k, v) for k, v in d.get("parts", {}).items()},
        )


@dataclass
class Catalogue:
    """The whole cube: its collections, and the derived views written beside it."""

    collections: dict[str, Collection] = field(default_factory=dict)
    updated: str = ""
    views: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "leafcube": FORMAT_VERSION,
            "updated": self.updated,
            "views": dict(sorted(self.views.items())),
            "collections": {k: self.collections[k].to_dict() for k in sorted(self.collections)},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Catalogue:
        return cls(
            collections={k: Collection.from_dict(k, v) for k, v in d["collections"].items()},
            updated=d.get("updated", ""),
            views=dict(d.get("views", {})),
        )
