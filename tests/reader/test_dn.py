"""The ``dn`` wire format: what the server encodes, the client decodes to the same values."""

from __future__ import annotations

import numpy as np

from leafcube.reader.dn import decode_dn, encode_dn, header_value, header_values


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
