"""Vectorised SL2P forward pass: every net of a set in two matrix products per block.

All estimate and uncertainty nets share their inputs, so their hidden layers stack into
one (5 K x inputs) matrix and their output layers into one block-diagonal (K x 5 K) matrix;
input and output scalings are folded into those weights. Inputs are centred first so the
folded float32 weights do not cancel catastrophically (docs/retrieval.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .network import Net, NetSet
from .outputs import Outputs
from .qc import encode_products

#: Pixels per chunk: keeps the (5 K x chunk) hidden layer in cache.
CHUNK = 16384


class Engine:
    """Runs a :class:`NetSet` over blocks of pixels (inputs first: ``(inputs, H, W)``)."""

    def __init__(self, netset: NetSet, dtype: type = np.float32) -> None:
        self.netset = netset
        self.dtype = np.dtype(dtype)
        self._nets: list[tuple[str, str, Net]] = [
            (p, "estimate", netset.estimates[p]) for p in netset.products
        ] + [(p, "error", netset.errors[p]) for p in netset.products if p in netset.errors]
        self._center, self._w1, self._b1, self._w2, self._b2 = _stack([n for _, _, n in self._nets])
        self._w1, self._b1 = self._w1.astype(self.dtype), self._b1.astype(self.dtype)
        self._w2, self._b2 = self._w2.astype(self.dtype), self._b2.astype(self.dtype)
        self._center = self._center.astype(self.dtype)
        domain = netset.domain
        self._domain_rows = (
            [netset.inputs.index(b) for b in domain.bands] if domain is not None else []
        )

    def stack_inputs(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> np.ndarray:
        """Inputs as one ``(inputs, pixels...)`` array in the net set's order."""
        if isinstance(inputs, Mapping):
            missing = [name for name in self.netset.inputs if name not in inputs]
            if missing:
                raise ValueError(f"missing inputs {missing}; the nets take {self.netset.inputs}")
            return np.stack([np.asarray(inputs[n], self.dtype) for n in self.netset.inputs])
        block = np.asarray(inputs, self.dtype)
        if block.shape[0] != len(self.netset.inputs):
            raise ValueError(
                f"block has {block.shape[0]} inputs, the nets take {len(self.netset.inputs)}"
                f" ({', '.join(self.netset.inputs)})"
            )
        return block

    def run(self, inputs: Mapping[str, np.ndarray] | np.ndarray) -> Outputs:
        """Float estimates, uncertainties and the out-of-domain flag for a block."""
        block = self.stack_inputs(inputs)
        shape = block.shape[1:]
        flat = block.reshape(block.shape[0], -1)
        out = np.empty((len(self._nets), flat.shape[1]), self.dtype)
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite inputs: QC bit 2
            for start in range(0, flat.shape[1], CHUNK):
                stop = min(start + CHUNK, flat.shape[1])
                x = flat[:, start:stop] - self._center
                hidden = np.matmul(self._w1, x)
                hidden += self._b1
                np.tanh(hidden, out=hidden)
                np.matmul(self._w2, hidden, out=out[:, start:stop])
        out += self._b2
        estimates: dict[str, np.ndarray] = {}
        errors: dict[str, np.ndarray] = {}
        for row, (product, kind, _) in enumerate(self._nets):
            (estimates if kind == "estimate" else errors)[product] = out[row].reshape(shape)
        if self.netset.domain is not None:
            outside = self.netset.domain.outside(flat[self._domain_rows]).reshape(shape)
        else:
            outside = ~np.all(np.isfinite(flat), axis=0).reshape(shape)
        return Outputs(estimates, errors, outside)

    def retrieve(
        self,
        inputs: Mapping[str, np.ndarray] | np.ndarray,
        sensor: np.ndarray | int | None = None,
        invalid: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """LEAF's uint8 layers for a block: ``LAI``, ``errorLAI``, ``LAI_QC``, ... .

        ``sensor`` is the QC sensor code (scalar or per pixel; 0 = no observation,
        default: the net set's); ``invalid`` marks cloud, shadow, snow, water... (QC bit 2).
        """
        block = self.stack_inputs(inputs)
        outputs = self.run(block)
        code = np.asarray(self.netset.sensor_code if sensor is None else sensor)
        if np.any((code < 0) | (code > 31)):
            raise ValueError("sensor codes must be 0-31 (QC bits 3-7)")
        bad = ~np.all(np.isfinite(block), axis=0)
        if invalid is not None:
            bad |= np.asarray(invalid, bool)
        return encode_products(outputs, np.broadcast_to(code, bad.shape), bad)


def _stack(nets: list[Net]) -> tuple[np.ndarray, ...]:
    """Fold every net's scalings into stacked float64 weights around a common centre."""
    n_hidden = [len(n.b1) for n in nets]
    # centre each input on the mean of the nets' [-1, 1] midpoints (x' = 0 there)
    center = np.mean([-np.asarray(n.in_offset) / np.asarray(n.in_slope) for n in nets], axis=0)
    w1 = np.concatenate([np.asarray(n.w1) * np.asarray(n.in_slope) for n in nets])
    b1 = np.concatenate(
        [
            np.asarray(n.w1) @ (np.asarray(n.in_slope) * center + np.asarray(n.in_offset))
            + np.asarray(n.b1)
            for n in nets
        ]
    )
    w2 = np.zeros((len(nets), sum(n_hidden)))
    b2 = np.empty(len(nets))
    start = 0
    for row, (net, size) in enumerate(zip(nets, n_hidden, strict=True)):
        w2[row, start : start + size] = np.asarray(net.w2) / net.out_slope
        b2[row] = (net.b2 - net.out_offset) / net.out_slope
        start += size
    return center[:, None], w1, b1[:, None], w2, b2[:, None]
