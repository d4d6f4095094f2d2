"""The ``dn`` wire format: what the server encodes, the client decodes to the same values."""

from __future__ import annotations

import numpy as np

from leafcube.reader.dn import decode_dn, encode_dn, header_value, header_values, narrowest


def test_round_trip_gives_the_readers_float32_values():
    rng = np.random.default_rng(3)
    shape = (4, 5, 13)  # a width that is not a multiple of 8: packbits pads it
    dns = [
        rng.integers(0, 256, shape).astype(np.uint8),
        rng.integers(0, 731, shape).astype(np.uint16),
    ]
    masked = rng.random((2, *shape)) < 0.3
    scales, offsets = [1 / 20, 1.0], [0.0, 0.0]
    got = decode_dn(encode_dn(dns, masked), header_values(header_value(scales)), offsets)
    assert got.dtype == np.float32 and got.shape == (2, *shape)
    for i, dn in enumerate(dns):
        want = dn.astype(np.float32) * np.float32(scales[i]) + np.float32(offsets[i])
        np.testing.assert_array_equal(got[i][~masked[i]], want[~masked[i]])
        assert np.isnan(got[i][masked[i]]).all()


def test_header_floats_round_trip_exactly():
    values = [1 / 20, 1 / 200, 0.1, 1e-7]
    assert header_values(header_value(values)) == values


def test_int16_dns_travel_in_the_narrowest_type():
    """The cube stores LEAF's DNs as int16 with -9999 where masked; on the wire the masked
    pixels are 0, so the DNs travel as uint8 (half the bytes) and decode the same."""
    rng = np.random.default_rng(5)
    shape = (3, 40, 40)
    dn = rng.integers(0, 256, shape).astype(np.int16)
    masked = rng.random((1, *shape)) < 0.4
    dn[masked[0]] = -9999
    body = encode_dn([dn], masked)
    got = decode_dn(body, [0.05], [0.0])
    want = dn.astype(np.float32) * np.float32(0.05)
    np.testing.assert_array_equal(got[0][~masked[0]], want[~masked[0]])
    assert np.isnan(got[0][masked[0]]).all()
    wide = encode_dn([dn.astype(np.int32)], np.zeros_like(masked))  # -9999 kept: no narrowing
    assert len(body) < len(wide)
    assert narrowest(np.array([0, 300], np.int16)).dtype == np.uint16
    assert narrowest(np.array([-5, 300], np.int16)).dtype == np.int16
    assert narrowest(np.array([-5, 70000], np.int32)).dtype == np.int32
