"""Train a sensor's SL2P nets from PROSAIL simulations (Levenberg-Marquardt, numpy only).

Per product: an estimate net on the training split, then an uncertainty net on the
estimate's absolute residuals, scaled on the validation split so it predicts the RMSE.
The held-out test split gives the RMSE and bias written into the file's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from tqdm import tqdm

from leafcube.catalogue.products import PRODUCTS

from .network import Domain, Net, NetSet
from .sensors import Sensor
from .simulate import (
    CODISTRIBUTION,
    NOISE_ADDITIVE,
    NOISE_MULTIPLICATIVE,
    PRIORS,
    Simulations,
    simulate,
)

HIDDEN = 5
#: Fractions of the simulations used for training and validation; the rest is held out.
SPLIT = (0.7, 0.1)


@dataclass(frozen=True)
class TrainConfig:
    """What ``leafcube nets train`` runs; equal configs give byte-identical files."""

    samples: int = 41000
    seed: int = 0
    restarts: int = 3
    max_iter: int = 300
    workers: int = 2
    #: Sun zenith uniform in this range (degrees) instead of the Canadian 10:00 sun.
    sza_range: tuple[float, float] | None = None


def _forward(theta: np.ndarray, x: np.ndarray, n_in: int):
    w1 = theta[: HIDDEN * n_in].reshape(HIDDEN, n_in)
    b1 = theta[HIDDEN * n_in : HIDDEN * (n_in + 1)]
    w2 = theta[HIDDEN * (n_in + 1) : HIDDEN * (n_in + 2)]
    hidden = np.tanh(x @ w1.T + b1)
    return hidden, hidden @ w2 + theta[-1], w2


def _jacobian(x: np.ndarray, hidden: np.ndarray, w2: np.ndarray) -> np.ndarray:
    slope = w2 * (1 - hidden**2)  # d y / d z, (cases, hidden)
    d_w1 = (slope[:, :, None] * x[:, None, :]).reshape(len(x), -1)
    return np.hstack([d_w1, slope, hidden, np.ones((len(x), 1))])


def fit_levenberg_marquardt(
    x: np.ndarray,
    t: np.ndarray,
    x_val: np.ndarray,
    t_val: np.ndarray,
    rng: np.random.Generator,
    max_iter: int,
    patience: int = 15,
) -> tuple[np.ndarray, float]:
    """Fit one 5-tansig net on normalised data; returns (parameters, validation MSE).

    Stops early when the validation error has not improved for ``patience`` steps.
    """
    n_in = x.shape[1]
    theta = np.concatenate(
        [
            rng.normal(0, 1 / np.sqrt(n_in), HIDDEN * n_in),
            rng.uniform(-1, 1, HIDDEN),
            rng.normal(0, 0.5, HIDDEN),
            [0.0],
        ]
    )
    hidden, y, w2 = _forward(theta, x, n_in)
    sse = float(np.sum((t - y) ** 2))
    mu = 1e-3
    best = (theta, np.inf)
    stale = 0
    eye = np.eye(len(theta))
    for _ in range(max_iter):
        jac = _jacobian(x, hidden, w2)
        jtj, grad = jac.T @ jac, jac.T @ (t - y)
        while mu < 1e10:
            step = np.linalg.solve(jtj + mu * eye, grad)
            trial = theta + step
            h_new, y_new, w2_new = _forward(trial, x, n_in)
            sse_new = float(np.sum((t - y_new) ** 2))
            if sse_new < sse:
                theta, hidden, y, w2, sse = trial, h_new, y_new, w2_new, sse_new
                mu = max(mu / 10, 1e-12)
                break
            mu *= 10
        else:
            break
        val = float(np.mean((t_val - _forward(theta, x_val, n_in)[1]) ** 2))
        if val < best[1] * (1 - 1e-6):
            best, stale = (theta.copy(), val), 0
        else:
            stale += 1
            if stale >= patience:
                break
    return best


def _to_net(theta: np.ndarray, in_lo, in_hi, out_lo: float, out_hi: float) -> Net:
    n_in = len(in_lo)
    return Net.from_minmax(
        in_lo,
        in_hi,
        theta[: HIDDEN * n_in].reshape(HIDDEN, n_in),
        theta[HIDDEN * n_in : HIDDEN * (n_in + 1)],
        theta[HIDDEN * (n_in + 1) : HIDDEN * (n_in + 2)],
        theta[-1],
        out_lo,
        out_hi,
    )


def _to_unit(values: np.ndarray, lo, hi) -> np.ndarray:
    """Map [lo, hi] to [-1, 1] (the nets' input and output normalisation)."""
    return 2 * (values - lo) / (hi - lo) - 1


def _train_net(x, t, x_val, t_val, in_lo, in_hi, config: TrainConfig, rng) -> Net:
    """Best of ``config.restarts`` LM fits, as a Net mapping raw inputs to raw outputs."""
    out_lo, out_hi = float(t.min()), float(t.max())
    t_unit, t_val_unit = _to_unit(t, out_lo, out_hi), _to_unit(t_val, out_lo, out_hi)
    fits = [
        fit_levenberg_marquardt(x, t_unit, x_val, t_val_unit, rng, config.max_iter)
        for _ in range(config.restarts)
    ]
    theta = min(fits, key=lambda f: f[1])[0]
    return _to_net(theta, in_lo, in_hi, out_lo, out_hi)


def heldout_metrics(netset: NetSet, sims: Simulations, index: np.ndarray) -> dict[str, dict]:
    """RMSE, bias and mean predicted uncertainty per product over the cases ``index``."""
    x = sims.inputs[:, index]
    metrics = {}
    for product in netset.products:
        estimate = netset.estimates[product].forward(x)
        residual = estimate - sims.targets[product][index]
        entry = {
            "rmse": float(np.sqrt(np.mean(residual**2))),
            "bias": float(np.mean(residual)),
            "cases": int(len(index)),
        }
        if product in netset.errors:
            entry["mean_uncertainty"] = float(np.mean(netset.errors[product].forward(x)))
        metrics[product] = {k: round(v, 6) if isinstance(v, float) else v for k, v in entry.items()}
    return metrics


def domain_of(sensor: Sensor, inputs: np.ndarray) -> Domain:
    """LEAF-style domain of training inputs: band min/max and populated grid codes."""
    rho = inputs[-len(sensor.bands) :].astype(np.float32)
    codes = Domain(sensor.bands, "leaf").grid_codes(rho)
    lo, hi = rho.min(axis=1).astype(float), rho.max(axis=1).astype(float)
    return Domain(sensor.bands, "leaf", lo, hi, codes)


def train(sensor: Sensor, config: TrainConfig, progress: bool = True) -> NetSet:
    """Simulate, train every estimate and uncertainty net, and build the domain."""
    sims = simulate(sensor, config.samples, config.seed, config.workers, progress, config.sza_range)
    rng = np.random.default_rng([config.seed, 1])
    order = rng.permutation(config.samples)
    n_train, n_val = (int(f * config.samples) for f in SPLIT)
    train_idx, val_idx = order[:n_train], order[n_train : n_train + n_val]
    test_idx = order[n_train + n_val :]
    fit_idx = np.concatenate([train_idx, val_idx])
    in_lo, in_hi = sims.inputs[:, fit_idx].min(axis=1), sims.inputs[:, fit_idx].max(axis=1)
    x = _to_unit(sims.inputs[:, train_idx].T, in_lo, in_hi)
    x_val = _to_unit(sims.inputs[:, val_idx].T, in_lo, in_hi)
    estimates: dict[str, Net] = {}
    errors: dict[str, Net] = {}
    bar = tqdm(total=2 * len(PRODUCTS), desc=f"train {sensor.name}", disable=not progress)
    for product in PRODUCTS:
        t = sims.targets[product]
        net = _train_net(x, t[train_idx], x_val, t[val_idx], in_lo, in_hi, config, rng)
        estimates[product] = net
        bar.update()
        residual = np.abs(net.forward(sims.inputs[:, train_idx]) - t[train_idx])
        residual_val = np.abs(net.forward(sims.inputs[:, val_idx]) - t[val_idx])
        error = _train_net(x, residual, x_val, residual_val, in_lo, in_hi, config, rng)
        predicted = error.forward(sims.inputs[:, val_idx])
        factor = float(np.sqrt(np.sum(residual_val**2) / np.sum(predicted**2)))
        errors[product] = replace(error, out_slope=error.out_slope / factor)  # output x factor
        bar.update()
    bar.close()
    netset = NetSet(
        name=f"leafcube_{sensor.name.lower()}_prosail",
        sensor=sensor.name,
        sensor_code=sensor.code,
        inputs=sensor.inputs,
        estimates=estimates,
        errors=errors,
        domain=domain_of(sensor, sims.inputs[:, fit_idx]),
    )
    metadata = {
        "command": (
            f"leafcube nets train --sensor {sensor.name} --seed {config.seed}"
            f" --samples {config.samples} --restarts {config.restarts}"
            f" --max-iter {config.max_iter}"
            + (" --sza {:g} {:g}".format(*config.sza_range) if config.sza_range else "")
        ),
        "sensor": sensor.description,
        "samples": config.samples,
        "seed": config.seed,
        "split": {"train": n_train, "validation": n_val, "test": len(test_idx)},
        "priors": {k: list(v) for k, v in PRIORS.items()},
        "codistribution_at_lai_15": {k: list(v) for k, v in CODISTRIBUTION.items()},
        "noise": {"additive": NOISE_ADDITIVE, "multiplicative": NOISE_MULTIPLICATIVE},
        "heldout": heldout_metrics(netset, sims, test_idx),
    }
    return replace(netset, metadata=metadata)
