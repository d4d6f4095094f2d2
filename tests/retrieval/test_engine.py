"""The stacked engine: float32 against the float64 reference, inputs, chunking, layers."""

from __future__ import annotations

import numpy as np
import pytest

from leafcube.catalogue.products import EXPORT_DTYPES, leaf_layers
from leafcube.retrieval import engine as engine_module
from leafcube.retrieval.engine import Engine


def test_float32_engine_matches_reference_forward(known_netset, make_inputs):
    x = make_inputs(20_000).reshape(11, 100, 200)
    fast = Engine(known_netset).run(x)
    exact = Engine(known_netset, np.float64).run(x)
    for product in known_netset.products:
        for kind, nets in (("estimates", known_netset.estimates), ("errors", known_netset.errors)):
            reference = nets[product].forward(x)
            span = np.ptp(reference)
            np.testing.assert_allclose(getattr(exact, kind)[product], reference, atol=1e-9)
            # float32 costs < 1e-5 of the output range: far below one uint8 step (1/255)
            assert np.max(np.abs(getattr(fast, kind)[product] - reference)) < 1e-5 * span + 1e-6


def test_mapping_inputs_in_any_order(known_netset, make_inputs):
    x = make_inputs(500)
    engine = Engine(known_netset, np.float64)
    by_name = {name: x[i] for i, name in reversed(list(enumerate(known_netset.inputs)))}
    np.testing.assert_array_equal(
        engine.run(by_name).estimates["LAI"], engine.run(x).estimates["LAI"]
    )
    del by_name["B8A"]
    with pytest.raises(ValueError, match=r"missing inputs \['B8A'\]"):
        engine.run(by_name)
    with pytest.raises(ValueError, match="block has 10 inputs, the nets take 11"):
        engine.run(x[:10])


def test_chunking_does_not_change_results(known_netset, make_inputs, monkeypatch):
    x = make_inputs(10_000)
    whole = Engine(known_netset).run(x)
    monkeypatch.setattr(engine_module, "CHUNK", 777)
    chunked = Engine(known_netset).run(x)
    # BLAS may round the last bit differently for other chunk widths
    for product in known_netset.products:
        np.testing.assert_allclose(whole.estimates[product], chunked.estimates[product], atol=1e-5)
        np.testing.assert_allclose(whole.errors[product], chunked.errors[product], atol=1e-5)
    np.testing.assert_array_equal(whole.out_of_domain, chunked.out_of_domain)


def test_retrieve_returns_leaf_layers(known_netset, make_inputs):
    x = make_inputs(64 * 48).reshape(11, 64, 48).astype(np.float32)
    layers = Engine(known_netset).retrieve(x)
    specs = leaf_layers(per_product_qc=True)
    expected = {n for n in specs if n not in ("Date", "Partition")}
    assert set(layers) == expected
    for name, layer in layers.items():
        assert layer.shape == (64, 48)
        assert layer.dtype == np.dtype(EXPORT_DTYPES[specs[name].kind])  # as LEAF writes it
    assert set(np.unique(layers["LAI_QC"] >> 3)) == {21}
