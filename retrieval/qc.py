"""LEAF's uint8 encoding of estimates, uncertainties and QC bytes for one block.

Estimates are clamped at 0, divided by the layer's scale (LAI x 20, others x 200) and
cast to uint8, truncating and saturating at 255. QC bit 0: input outside the domain;
bit 1: estimate outside its valid range before clamping; bit 2: invalid pixel; bits 3-7:
sensor code. Invalid pixels keep 0 estimates and only their sensor and invalid bits; pixels
with sensor code 0 (no observation) are 0 in every layer.
"""

from __future__ import annotations

import numpy as np

from leafcube.catalogue.products import leaf_layers, qc_layer_name
from leafcube.catalogue.qc import encode

from .outputs import Outputs

_LAYERS = leaf_layers(per_product_qc=True)


def to_uint8(values: np.ndarray, product: str) -> np.ndarray:
    """LEAF's DN of ``values`` (physical units) for ``product``: clamp at 0, scale, saturate."""
    factor = np.float32(1.0 / _LAYERS[product].scale)
    scaled = np.nan_to_num(np.asarray(values, np.float32) * factor, nan=0.0)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def out_of_range(values: np.ndarray, product: str) -> np.ndarray:
    """True where an estimate lies outside the product's valid range (NaN included)."""
    lo, hi = _LAYERS[product].valid_range
    values = np.asarray(values)
    return ~((values >= lo) & (values <= hi))


def encode_products(
    outputs: Outputs, sensor: np.ndarray, invalid: np.ndarray
) -> dict[str, np.ndarray]:
    """The uint8 layers ``{PROD, errorPROD, PROD_QC}`` of every product in ``outputs``."""
    sensor = np.asarray(sensor, np.uint8)
    observed = sensor != 0
    keep = observed & ~invalid
    layers: dict[str, np.ndarray] = {}
    for product, estimate in outputs.estimates.items():
        layer = to_uint8(estimate, product)
        layer[~keep] = 0
        layers[product] = layer
        if product in outputs.errors:
            error = to_uint8(outputs.errors[product], product)
            error[~keep] = 0
            layers[f"error{product}"] = error
        qc = encode(
            sensor,
            input_flag=outputs.out_of_domain & keep,
            output_flag=out_of_range(estimate, product) & keep,
            invalid=invalid & observed,
        )
        layers[qc_layer_name(product, True)] = qc
    return layers
