"""Retrieval fixtures: a known random net set and fresh held-out PROSAIL simulations."""

from __future__ import annotations

import numpy as np
import pytest

from leafcube.retrieval.network import Domain, Net, NetSet
from leafcube.retrieval.sensors import SENSORS

#: Input ranges of the known nets (LEAF order: cos VZA, cos SZA, cos RAA, 8 S2 bands).
IN_MIN = np.array([0.98, 0.3, -1.0, 0.0, 0.0, 0.0, 0.01, 0.02, 0.02, 0.01, 0.0])
IN_MAX = np.array([1.0, 0.95, 1.0, 0.25, 0.3, 0.33, 0.6, 0.75, 0.76, 0.5, 0.49])


def random_net(rng: np.random.Generator, out_max: float) -> Net:
    """A net with SNAP-style min/max scalings and random weights."""
    return Net.from_minmax(
        IN_MIN,
        IN_MAX,
        rng.normal(0, 1, (5, 11)),
        rng.normal(0, 1, 5),
        rng.normal(0, 0.7, 5),
        rng.normal(0, 0.2),
        0.0,
        out_max,
    )


def random_inputs(n: int, seed: int = 7) -> np.ndarray:
    """``(11, n)`` S2 inputs spread over the known nets' ranges."""
    rng = np.random.default_rng(seed)
    return rng.uniform(IN_MIN[:, None], IN_MAX[:, None], (11, n))


@pytest.fixture(scope="session")
def make_inputs():
    """The :func:`random_inputs` factory."""
    return random_inputs


@pytest.fixture(scope="session")
def known_netset() -> NetSet:
    """Eight random S2 nets (estimate + uncertainty per product) with a SNAP domain."""
    rng = np.random.default_rng(42)
    s2 = SENSORS["S2"]
    tops = {"LAI": 8.0, "fCOVER": 1.0, "fAPAR": 1.0, "Albedo": 0.4}
    cells = rng.integers(1, 11, (300, 8))
    return NetSet(
        name="known",
        sensor="S2",
        sensor_code=21,
        inputs=s2.inputs,
        estimates={p: random_net(rng, top) for p, top in tops.items()},
        errors={p: random_net(rng, top / 5) for p, top in tops.items()},
        domain=Domain(s2.bands, "snap", IN_MIN[3:], IN_MAX[3:], cells @ 12 ** np.arange(8)),
    )


@pytest.fixture(scope="session")
def heldout():
    """4,000 fresh S2 PROSAIL cases from a seed the shipped nets never saw."""
    from leafcube.retrieval.simulate import simulate

    return simulate(SENSORS["S2"], 4000, seed=20_240_601, workers=2, progress=False)
