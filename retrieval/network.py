"""SL2P network definitions: one net, the input-domain test, and a sensor's set of nets.

A net is LEAF's shape: inputs -> 5 tansig neurons -> 1 linear output, with input and
output scaling ``x' = x * in_slope + in_offset`` and ``y = (n - out_offset) / out_slope``.
Plain dataclasses; the file formats live in :mod:`leafcube.retrieval.formats`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from leafcube.catalogue.products import PRODUCTS

#: LEAF's input names (cosines of the view/sun zenith and relative azimuth, then bands).
ANGLES: tuple[str, ...] = ("cos_vza", "cos_sza", "cos_raa")

#: How the input-domain grid bins a reflectance: LEAF's ``ceil(10 rho) mod 10`` digits,
#: or SNAP's ``floor(10 (rho - min) / (max - min) + 1)`` cells.
DomainScheme = Literal["leaf", "snap"]


@dataclass(frozen=True)
class Net:
    """One feed-forward net: ``w1`` is (neurons, inputs); ``w2`` is (neurons,)."""

    in_slope: np.ndarray
    in_offset: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: float
    out_slope: float
    out_offset: float

    def __post_init__(self) -> None:
        n_neurons, n_inputs = np.shape(self.w1)
        shapes = {
            "in_slope": (np.shape(self.in_slope), (n_inputs,)),
            "in_offset": (np.shape(self.in_offset), (n_inputs,)),
            "b1": (np.shape(self.b1), (n_neurons,)),
            "w2": (np.shape(self.w2), (n_neurons,)),
        }
        for name, (got, want) in shapes.items():
            if got != want:
                raise ValueError(f"network {name} has shape {got}, expected {want}")
        if self.out_slope == 0:
            raise ValueError("network output slope is 0")

    @property
    def n_inputs(self) -> int:
        return int(np.shape(self.w1)[1])

    @classmethod
    def from_minmax(
        cls,
        in_min: np.ndarray,
        in_max: np.ndarray,
        w1: np.ndarray,
        b1: np.ndarray,
        w2: np.ndarray,
        b2: float,
        out_min: float,
        out_max: float,
    ) -> Net:
        """A net whose scalings map [min, max] to [-1, 1] (SNAP's normalisation)."""
        in_min, in_max = np.asarray(in_min, float), np.asarray(in_max, float)
        in_slope, in_offset = _minmax_affine(in_min, in_max)
        out_slope, out_offset = _minmax_affine(np.float64(out_min), np.float64(out_max))
        return cls(
            in_slope,
            in_offset,
            np.asarray(w1, float),
            np.asarray(b1, float),
            np.asarray(w2, float),
            float(b2),
            float(out_slope),
            float(out_offset),
        )

    def input_minmax(self) -> tuple[np.ndarray, np.ndarray]:
        """The input values mapped to -1 and +1."""
        return _affine_minmax(np.asarray(self.in_slope, float), np.asarray(self.in_offset, float))

    def output_minmax(self) -> tuple[float, float]:
        """The output values the net's -1 and +1 stand for."""
        lo, hi = _affine_minmax(np.float64(self.out_slope), np.float64(self.out_offset))
        return float(lo), float(hi)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Reference float64 forward pass over ``x`` of shape (inputs, ...)."""
        x = np.asarray(x, float)
        flat = x.reshape(x.shape[0], -1)
        scaled = flat * np.asarray(self.in_slope)[:, None] + np.asarray(self.in_offset)[:, None]
        hidden = np.tanh(np.asarray(self.w1) @ scaled + np.asarray(self.b1)[:, None])
        n = np.asarray(self.w2) @ hidden + self.b2
        return ((n - self.out_offset) / self.out_slope).reshape(x.shape[1:])


def _minmax_affine(lo, hi):
    span = hi - lo
    if np.any(span <= 0):
        raise ValueError("normalisation maximum must exceed its minimum")
    return 2.0 / span, -2.0 * lo / span - 1.0


def _affine_minmax(slope, offset):
    return (-1.0 - offset) / slope, (1.0 - offset) / slope


@dataclass(frozen=True)
class Domain:
    """The definition domain: per-band min/max and the populated grid codes.

    A pixel is inside when every band lies in [min, max] (when given) and its grid code
    ``sum(digit_i * base**i)`` is one of ``codes`` (when given).
    """

    bands: tuple[str, ...]
    scheme: DomainScheme = "leaf"
    band_min: np.ndarray | None = None
    band_max: np.ndarray | None = None
    codes: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.scheme not in ("leaf", "snap"):
            raise ValueError(f"domain scheme must be 'leaf' or 'snap', not {self.scheme!r}")
        if self.scheme == "snap" and self.codes is not None and self.band_min is None:
            raise ValueError("a SNAP domain grid needs the band min/max")
        if (self.band_min is None) != (self.band_max is None):
            raise ValueError("domain min and max come together")
        if self.codes is not None:
            object.__setattr__(self, "codes", np.unique(np.asarray(self.codes, np.int64)))

    @property
    def base(self) -> int:
        """Radix of the grid code: 10 digits per band (LEAF) or 12 cells (SNAP 0..11)."""
        return 10 if self.scheme == "leaf" else 12

    def digits(self, rho: np.ndarray) -> np.ndarray:
        """Grid digit of each band value; ``rho`` is (bands, pixels)."""
        if self.scheme == "leaf":
            return np.nan_to_num(np.mod(np.ceil(rho * np.float32(10)), 10)).astype(np.int64)
        lo = np.asarray(self.band_min, rho.dtype)[:, None]
        span = (np.asarray(self.band_max, float) - np.asarray(self.band_min, float)).astype(
            rho.dtype
        )[:, None]
        cells = np.floor(np.float32(10) * (rho - lo) / span + 1)
        return np.clip(np.nan_to_num(cells), 0, 11).astype(np.int64)

    def grid_codes(self, rho: np.ndarray) -> np.ndarray:
        """Grid code of each pixel; ``rho`` is (bands, pixels)."""
        powers = self.base ** np.arange(len(self.bands), dtype=np.int64)
        return powers @ self.digits(rho)

    def outside(self, rho: np.ndarray) -> np.ndarray:
        """True where a pixel lies outside the domain; ``rho`` is (bands, pixels)."""
        out = ~np.all(np.isfinite(rho), axis=0)
        if self.band_min is not None:
            lo = np.asarray(self.band_min, rho.dtype)[:, None]
            hi = np.asarray(self.band_max, rho.dtype)[:, None]
            out |= np.any((rho < lo) | (rho > hi), axis=0)
        if self.codes is not None and len(self.codes):
            code = self.grid_codes(rho)
            pos = np.minimum(np.searchsorted(self.codes, code), len(self.codes) - 1)
            out |= self.codes[pos] != code
        return out


@dataclass(frozen=True)
class NetSet:
    """A sensor's nets: per product an estimate net and optionally an uncertainty net."""

    name: str
    sensor: str
    sensor_code: int
    inputs: tuple[str, ...]
    estimates: dict[str, Net]
    errors: dict[str, Net] = field(default_factory=dict)
    domain: Domain | None = None
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.estimates:
            raise ValueError("a net set needs at least one estimate network")
        for product in [*self.estimates, *self.errors]:
            if product not in PRODUCTS:
                raise ValueError(f"unknown product {product!r}; expected one of {PRODUCTS}")
        for product in self.errors:
            if product not in self.estimates:
                raise ValueError(f"uncertainty network for {product} has no estimate network")
        for net in [*self.estimates.values(), *self.errors.values()]:
            if net.n_inputs != len(self.inputs):
                raise ValueError(
                    f"a network takes {net.n_inputs} inputs, the set names {len(self.inputs)}"
                )
        if self.domain is not None:
            missing = [b for b in self.domain.bands if b not in self.inputs]
            if missing:
                raise ValueError(f"domain bands {missing} are not network inputs")
        if not 0 <= self.sensor_code < 32:
            raise ValueError("sensor code must fit QC bits 3-7 (0-31)")

    @property
    def products(self) -> tuple[str, ...]:
        """Products with an estimate net, in LEAF's fixed order."""
        return tuple(p for p in PRODUCTS if p in self.estimates)
