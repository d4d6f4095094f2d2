"""The catalogue: leafcube's shared contract between ingest, server, clients and a plain web server.

No server or HTTP imports here. See docs/catalogue.md.
"""

from .errors import CatalogueError, NoDataError, ROIError
from .models import (
    FORMAT_VERSION,
    Bounds,
    Catalogue,
    Collection,
    DateEntry,
    LayerFiles,
    LayerSpec,
    PartRef,
    QCBit,
    TileFile,
)
from .store import (
    CATALOGUE_NAME,
    dumps,
    load,
    load_root,
    parse,
    parse_part,
    read_parts,
    save,
    validate,
    write_bytes_atomic,
)

__all__ = [
    "CATALOGUE_NAME",
    "FORMAT_VERSION",
    "Bounds",
    "Catalogue",
    "CatalogueError",
    "Collection",
    "DateEntry",
    "LayerFiles",
    "LayerSpec",
    "NoDataError",
    "PartRef",
    "QCBit",
    "ROIError",
    "TileFile",
    "dumps",
    "load",
    "load_root",
    "parse",
    "parse_part",
    "read_parts",
    "save",
    "validate",
    "write_bytes_atomic",
]
