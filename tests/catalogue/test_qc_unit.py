"""catalogue.qc over every possible QC byte, against the bit table of docs/catalogue.md.

The expectation is written with plain integer arithmetic on the documented layout
(bit 0 input out of domain, bit 1 output out of range, bit 2 invalid, bits 3-7 the
v2022 sensor code, 0 = never observed), not with the module's masks and shifts.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from leafcube.catalogue import qc as qcmod
from leafcube.catalogue.products import QC_BITS, QC_FLAG_BITS, QC_SENSOR_CODES

EVERY = np.arange(256, dtype=np.uint8)
VALUES = list(range(256))


def _bit(value: int, n: int) -> bool:
    return (value // 2**n) % 2 == 1


def test_sensor_code_is_the_top_five_bits():
    assert qcmod.sensor_code(EVERY).tolist() == [v // 8 for v in VALUES]


def test_valid_means_no_flag_of_bits_0_to_2():
    want = [not (_bit(v, 0) or _bit(v, 1) or _bit(v, 2)) for v in VALUES]
    assert qcmod.is_valid(EVERY).tolist() == want
    assert qcmod.keep(EVERY, "valid").tolist() == want


def test_v2022_has_data_when_observed_and_not_invalid():
    observed = [v // 8 != 0 for v in VALUES]
    assert qcmod.observed_v2022(EVERY, invalid_too=True).tolist() == observed
    want = [o and not _bit(v, 2) for o, v in zip(observed, VALUES, strict=True)]
    assert qcmod.observed_v2022(EVERY).tolist() == want
    # clouds over a Sentinel-2 pixel: observed (the QC layer has data), but no estimate
    cloud = np.array([21 * 8 + 4], np.uint8)
    assert qcmod.observed_v2022(cloud, invalid_too=True).tolist() == [True]
    assert qcmod.observed_v2022(cloud).tolist() == [False]


@pytest.mark.parametrize("sensor", [0, 5, 7, 8, 9, 21, 31])
def test_encode_places_sensor_and_flags(sensor):
    for a, b, c in itertools.product([False, True], repeat=3):
        want = sensor * 8 + int(a) + 2 * int(b) + 4 * int(c)
        got = qcmod.encode(sensor, input_flag=a, output_flag=b, invalid=c)
        assert int(got) == want, (sensor, a, b, c)
        assert np.asarray(got).dtype == np.uint8


def test_encode_decode_round_trip_on_arrays():
    combos = list(itertools.product(range(32), [0, 1], [0, 1], [0, 1]))
    sensor, a, b, c = (np.array(col) for col in zip(*combos, strict=True))
    qc = qcmod.encode(sensor, a.astype(bool), b.astype(bool), c.astype(bool))
    assert sorted(qc.tolist()) == VALUES  # every byte exactly once
    assert qcmod.sensor_code(qc).tolist() == sensor.tolist()
    assert (((qc & 1) != 0) == a.astype(bool)).all()
    assert (((qc & 2) != 0) == b.astype(bool)).all()
    assert (((qc & 4) != 0) == c.astype(bool)).all()


def test_module_constants_match_the_catalogue_bit_table():
    """The bits catalogue.products describes are the ones catalogue.qc tests."""
    by_name = {b.name: b for b in QC_BITS}
    assert [(b.bit, b.width) for b in QC_FLAG_BITS] == [(0, 1), (1, 1), (2, 1)]
    assert 2 ** by_name["input_out_of_domain"].bit == qcmod.INPUT_OUT_OF_DOMAIN
    assert 2 ** by_name["output_out_of_range"].bit == qcmod.OUTPUT_OUT_OF_RANGE
    assert 2 ** by_name["invalid"].bit == qcmod.INVALID
    assert qcmod.FLAGS == 7
    sensor = by_name["sensor"]
    assert (sensor.bit, sensor.width) == (qcmod.SENSOR_SHIFT, 5)
    assert all(0 < code < 2**sensor.width for code in QC_SENSOR_CODES)
    # the fields tile the byte without overlapping
    covered = [n for b in QC_BITS for n in range(b.bit, b.bit + b.width)]
    assert sorted(covered) == list(range(8))


@pytest.mark.parametrize("invalid_too", [False, True])
def test_single_qc_rule_over_every_flag_combination(invalid_too):
    """2023+: data where not invalid and (a flag is set or another layer is non-zero);
    with ``invalid_too`` (the QC layer itself) wherever observed: any flag or layer."""
    flags = list(range(8))
    for others in itertools.product([0, 3], repeat=2):
        qc = np.array(flags, np.uint8)
        layers = [np.full(8, others[0], np.uint8), np.full(8, others[1], np.uint16)]
        got = qcmod.observed_single(qc, layers, invalid_too=invalid_too).tolist()
        any_layer = any(o != 0 for o in others)
        want = []
        for v in flags:
            if invalid_too:
                want.append(v != 0 or any_layer)
            else:
                want.append(not _bit(v, 2) and (_bit(v, 0) or _bit(v, 1) or any_layer))
        assert got == want, (others, invalid_too)


def test_single_qc_rule_reads_others_once_and_leaves_inputs_alone():
    qc = np.array([0, 0, 4], np.uint8)
    lai = np.array([0, 5, 5], np.uint8)
    before = (qc.copy(), lai.copy())
    seen = qcmod.observed_single(qc, (layer for layer in [lai]))  # a one-shot iterable
    assert seen.tolist() == [False, True, False]
    assert (qc == before[0]).all() and (lai == before[1]).all()
    assert qcmod.observed_single(qc, []).tolist() == [False, False, False]


def test_keep_data_keeps_everything_in_any_shape():
    qc = EVERY.reshape(16, 16)
    kept = qcmod.keep(qc, "data")
    assert kept.shape == (16, 16) and kept.dtype == bool and kept.all()
    assert qcmod.keep(qc, "valid").shape == (16, 16)
    for bad in ("", "Valid", "none", None):
        with pytest.raises(ValueError):
            qcmod.keep(qc, bad)
