"""QC bits and uint8 encoding, pixel for pixel, on constructed cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from leafcube.catalogue.products import PRODUCTS, QC_SENSOR_CODES
from leafcube.retrieval.engine import Engine
from leafcube.retrieval.network import Domain, Net, NetSet
from leafcube.retrieval.sensors import SENSORS as NET_SENSORS

S2 = NET_SENSORS["S2"]
#: Output = SCALE * tanh(cos_raa): the product follows cos_raa alone, far from the bands.
SCALE = {"LAI": 20.0, "fCOVER": 2.0, "fAPAR": 2.0, "Albedo": 2.0}
INSIDE = np.array([0.05, 0.04, 0.08, 0.25, 0.35, 0.4, 0.2, 0.1])


def tanh_net(scale: float) -> Net:
    """A net whose output is ``scale * tanh(cos_raa)`` (identity scalings, one neuron)."""
    w1 = np.zeros((5, 11))
    w1[0, 2] = 1.0
    return Net(np.ones(11), np.zeros(11), w1, np.zeros(5), np.r_[scale, 0, 0, 0, 0], 0.0, 1.0, 0.0)


def leaf_code(rho: np.ndarray) -> int:
    """LEAF's domain code, written out digit by digit."""
    return sum(int(np.ceil(10 * float(r)) % 10) * 10**i for i, r in enumerate(rho))


@pytest.fixture(scope="module")
def engine() -> Engine:
    domain = Domain(S2.bands, "leaf", np.zeros(8), np.full(8, 0.7), [leaf_code(INSIDE), 12345])
    netset = NetSet(
        "qc",
        "S2",
        21,
        S2.inputs,
        {p: tanh_net(SCALE[p]) for p in PRODUCTS},
        {p: tanh_net(SCALE[p] / 4) for p in PRODUCTS},
        domain,
    )
    return Engine(netset)


def cos_raa_for(product: str, value: float) -> float:
    return float(np.arctanh(value / SCALE[product]))


#: Band vectors: inside the domain, another grid cell, above the max, NaN.
BANDS = {
    "inside": INSIDE,
    "other_cell": INSIDE + np.r_[0, 0.1, 0, 0, 0, 0, 0, 0],
    "above_max": np.r_[INSIDE[:7], 0.75],
}
#: LAI values inside and outside LEAF's valid 0-15 range.
LAI_VALUES = {"ok": 3.01, "negative": -0.4, "above": 16.0}


def test_qc_bits_pixel_for_pixel(engine):
    cases = list(itertools.product(BANDS, LAI_VALUES, (False, True), [0, *sorted(QC_SENSOR_CODES)]))
    n = len(cases)
    block = np.empty((11, 1, n), np.float32)
    sensor = np.empty((1, n), np.uint8)
    invalid = np.empty((1, n), bool)
    for i, (band_case, lai_case, bad, code) in enumerate(cases):
        block[:3, 0, i] = [0.995, 0.7, cos_raa_for("LAI", LAI_VALUES[lai_case])]
        block[3:, 0, i] = BANDS[band_case]
        sensor[0, i], invalid[0, i] = code, bad
    layers = engine.retrieve(block, sensor=sensor, invalid=invalid)
    for i, (band_case, lai_case, bad, code) in enumerate(cases):
        if code == 0:
            expected = 0
        elif bad:
            expected = code << 3 | 0b100
        else:
            expected = code << 3 | (band_case != "inside") | (lai_case != "ok") << 1
        assert layers["LAI_QC"][0, i] == expected, cases[i]
        estimate = 0 if (code == 0 or bad) else min(max(LAI_VALUES[lai_case], 0) * 20, 255)
        assert layers["LAI"][0, i] == int(estimate), cases[i]


def test_sensor_codes_in_bits_3_to_7(engine):
    block = np.zeros((11, 5), np.float32)
    block[:3] = [[0.995], [0.7], [cos_raa_for("LAI", 2.0)]]
    block[3:] = INSIDE[:, None]
    codes = np.array(sorted(QC_SENSOR_CODES), np.uint8)
    layers = engine.retrieve(block, sensor=codes)
    for product in PRODUCTS:
        qc = layers[f"{product}_QC"]
        assert (qc >> 3).tolist() == codes.tolist()
        assert (qc & 0b111).tolist() == [0] * 5
    assert engine.retrieve(block)["LAI_QC"].tolist() == [21 << 3] * 5
    with pytest.raises(ValueError, match="sensor codes must be 0-31"):
        engine.retrieve(block, sensor=40)


@pytest.mark.parametrize(
    ("product", "value", "dn", "flag"),
    [
        ("LAI", 3.01, 60, 0),
        ("LAI", 12.74, 254, 0),
        ("LAI", 12.9, 255, 0),
        ("LAI", 15.5, 255, 1),
        ("LAI", -0.3, 0, 1),
        ("fCOVER", 0.5025, 100, 0),
        ("fCOVER", 1.1025, 220, 1),
        ("fAPAR", -0.05, 0, 1),
        ("fAPAR", 0.999, 199, 0),
        ("Albedo", 0.2025, 40, 0),
        ("Albedo", 1.5, 255, 1),
    ],
)
def test_encoding_clamps_scales_and_saturates(engine, product, value, dn, flag):
    block = np.zeros((11, 1), np.float32)
    block[:3, 0] = [0.995, 0.7, cos_raa_for(product, value)]
    block[3:, 0] = INSIDE
    outputs = engine.run(block)
    assert outputs.estimates[product][0] == pytest.approx(value, abs=2e-4)
    layers = engine.retrieve(block)
    assert layers[product][0] == dn
    assert (layers[f"{product}_QC"][0] >> 1) & 1 == flag


def test_domain_digits_follow_leaf_ceil_mod_10():
    domain = Domain(("B3", "B4"), "leaf", codes=[leaf_code(np.array([0.05, 0.95]))])
    rho = np.array([[0.05, 0.01, 0.0, 1.0, 0.11], [0.95, 0.91, 0.95, 0.95, 0.95]], np.float32)
    # 0.05 -> 1, 0.95 -> 0 (ceil 10 mod 10); 0.0 -> 0; 1.0 -> 0; 0.11 -> 2
    assert domain.grid_codes(rho).tolist() == [1, 1, 0, 0, 2]
    assert domain.outside(rho).tolist() == [False, False, True, True, True]


def test_non_finite_inputs_are_invalid(engine):
    block = np.zeros((11, 3), np.float32)
    block[:3] = [[0.995], [0.7], [0.1]]
    block[3:] = INSIDE[:, None]
    block[5, 1] = np.nan
    block[0, 2] = np.inf
    layers = engine.retrieve(block)
    assert layers["fAPAR_QC"].tolist() == [21 << 3, 21 << 3 | 4, 21 << 3 | 4]
    assert layers["fAPAR"][1:].tolist() == [0, 0]
