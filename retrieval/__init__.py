"""SL2P retrieval: LEAF's networks (and leafcube's own) run over numpy blocks, with LEAF's QC.

See docs/retrieval.md. The engine is numpy only; training needs ``leafcube[train]``.
"""

from .engine import Engine
from .formats import (
    load,
    load_json,
    load_leaf_csv,
    load_shipped,
    load_snap,
    save_json,
    write_leaf_csv,
    write_snap,
)
from .network import Domain, Net, NetSet
from .outputs import Outputs
from .qc import encode_products, to_uint8
from .sensors import SENSORS, Sensor

__all__ = [
    "SENSORS",
    "Domain",
    "Engine",
    "Net",
    "NetSet",
    "Outputs",
    "Sensor",
    "encode_products",
    "load",
    "load_json",
    "load_leaf_csv",
    "load_shipped",
    "load_snap",
    "save_json",
    "to_uint8",
    "write_leaf_csv",
    "write_snap",
]
