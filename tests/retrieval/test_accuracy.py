"""The shipped S2 nets on fresh PROSAIL simulations: accuracy and uncertainty calibration."""

from __future__ import annotations

import numpy as np
import pytest

from leafcube.retrieval import Engine, load_shipped

#: leafcube's documented held-out RMSE ceilings (docs/retrieval.md). Not the ATBD's figures:
#: those could not be verified against the document, and the nets do not reach the figures
#: attributed to it (LAI 0.89, fCOVER 0.04, fAPAR 0.05) under leafcube's Canadian-sun
#: protocol (see "Accuracy on held-out simulations" in docs/retrieval.md).
LEAFCUBE_RMSE = {"LAI": 1.12, "fCOVER": 0.048, "fAPAR": 0.06, "Albedo": 0.02}


@pytest.fixture(scope="module")
def outputs(heldout):
    return Engine(load_shipped("S2")).run(heldout.inputs.astype(np.float32))


@pytest.mark.slow
@pytest.mark.parametrize("product", ["LAI", "fCOVER", "fAPAR", "Albedo"])
def test_heldout_rmse_and_bias(outputs, heldout, product):
    residual = outputs.estimates[product] - heldout.targets[product]
    rmse = float(np.sqrt(np.mean(residual**2)))
    assert rmse <= LEAFCUBE_RMSE[product]
    assert abs(float(np.mean(residual))) <= 0.1 * LEAFCUBE_RMSE[product]


@pytest.mark.slow
@pytest.mark.parametrize("product", ["LAI", "fCOVER", "fAPAR", "Albedo"])
def test_uncertainty_tracks_observed_error_by_decile(outputs, heldout, product):
    predicted = outputs.errors[product]
    residual = outputs.estimates[product] - heldout.targets[product]
    order = np.argsort(predicted)
    observed, expected = [], []
    for decile in np.array_split(order, 10):
        observed.append(np.sqrt(np.mean(residual[decile] ** 2)))
        expected.append(np.mean(predicted[decile]))
    ratio = np.array(observed) / np.array(expected)
    assert np.all((ratio > 0.7) & (ratio < 1.5)), ratio.round(2)
    # the predicted error orders the cases: the top decile's error far exceeds the bottom's
    assert observed[-1] > 3 * observed[0]
