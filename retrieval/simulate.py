"""PROSAIL training simulations: canopy reflectance and LAI, fCOVER, fAPAR, albedo targets.

Needs the optional ``prosail`` package (``pip install leafcube[train]``). Priors, angles,
noise and the derived variables are documented in docs/retrieval.md.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from leafcube.catalogue.products import PRODUCTS

from .sensors import Sensor

#: Truncated-normal priors: name -> (mean, sd, min, max); ``None`` sd = uniform.
PRIORS: dict[str, tuple[float, float | None, float, float]] = {
    "LAI": (2.0, 3.0, 0.0, 15.0),
    "ALA": (60.0, 30.0, 30.0, 80.0),
    "N": (1.5, 0.3, 1.2, 2.2),
    "Cab": (45.0, 30.0, 20.0, 90.0),
    "Cdm": (0.005, 0.005, 0.003, 0.011),
    "Cw_rel": (0.0, None, 0.6, 0.85),
    "Cbp": (0.0, 0.3, 0.0, 2.0),
    "Bs": (1.2, 2.0, 0.5, 3.5),
    "hotspot": (0.2, 0.5, 0.1, 0.5),
    "latitude": (0.0, None, 41.0, 70.0),
    "doy": (0.0, None, 60.0, 300.0),
    "RAA": (0.0, None, 0.0, 180.0),
}

#: Co-distribution with LAI: each variable's range shrinks linearly from its prior range at
#: LAI 0 to this range at LAI 15, keeping its relative position (dense canopies vary less).
CODISTRIBUTION: dict[str, tuple[float, float]] = {
    "ALA": (55.0, 65.0),
    "N": (1.3, 1.8),
    "Cab": (45.0, 90.0),
    "Cdm": (0.005, 0.011),
    "Cw_rel": (0.7, 0.8),
    "Cbp": (0.0, 0.2),
    "Bs": (0.5, 1.2),
}

#: Additive and multiplicative reflectance noise (standard deviations).
NOISE_ADDITIVE = 0.01
NOISE_MULTIPLICATIVE = 0.02
#: Carotenoids follow chlorophyll (Car = Cab / 4).
CAR_PER_CAB = 0.25
#: Solar hour angle of 10:00 local solar time (degrees).
HOUR_ANGLE_10H = -30.0


@dataclass(frozen=True)
class Simulations:
    """Net inputs ``(inputs, cases)`` in the sensor's LEAF order, targets and parameters."""

    inputs: np.ndarray
    targets: dict[str, np.ndarray]
    parameters: dict[str, np.ndarray]


def _truncated(rng: np.random.Generator, prior, n: int) -> np.ndarray:
    mean, sd, lo, hi = prior
    if sd is None:
        return rng.uniform(lo, hi, n)
    out = rng.normal(mean, sd, n)
    bad = (out < lo) | (out > hi)
    while bad.any():
        out[bad] = rng.normal(mean, sd, int(bad.sum()))
        bad = (out < lo) | (out > hi)
    return out


def sun_zenith_10h(latitude: np.ndarray, doy: np.ndarray) -> np.ndarray:
    """Sun zenith angle (degrees) at 10:00 local solar time."""
    decl = np.radians(23.44) * np.sin(2 * np.pi * (284 + doy) / 365)
    lat = np.radians(latitude)
    cos_sza = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(
        np.radians(HOUR_ANGLE_10H)
    )
    return np.degrees(np.arccos(cos_sza))


def draw_parameters(
    sensor: Sensor,
    n: int,
    rng: np.random.Generator,
    sza_range: tuple[float, float] | None = None,
) -> dict[str, np.ndarray]:
    """Canopy, soil and geometry parameters of ``n`` cases.

    The sun is at 10:00 local solar time over Canada's growing season, or, with
    ``sza_range``, at a zenith uniform in that range (degrees).
    """
    p = {name: _truncated(rng, prior, n) for name, prior in PRIORS.items()}
    frac = p["LAI"] / PRIORS["LAI"][3]
    for name, (lo_end, hi_end) in CODISTRIBUTION.items():
        lo, hi = PRIORS[name][2:]
        new_lo, new_hi = lo + (lo_end - lo) * frac, hi + (hi_end - hi) * frac
        p[name] = new_lo + (p[name] - lo) / (hi - lo) * (new_hi - new_lo)
    p["Cm"] = p.pop("Cdm")
    p["Cw"] = p["Cm"] * p["Cw_rel"] / (1 - p["Cw_rel"])
    p["Car"] = CAR_PER_CAB * p["Cab"]
    p["SZA"] = sun_zenith_10h(p["latitude"], p["doy"])
    p["VZA"] = rng.uniform(0.0, sensor.max_vza, n)
    if sza_range is not None:
        p["SZA"] = rng.uniform(*sza_range, n)
    return p


def _run_cases(args) -> np.ndarray:
    """PROSAIL for a chunk of cases: band reflectances, LAI, fCOVER, fAPAR, albedo per case."""
    from prosail import spectral_lib
    from prosail.FourSAIL import foursail
    from prosail.prospect_d import run_prospect

    params, intervals = args
    es = spectral_lib.light.es
    par = slice(0, 301)  # 400-700 nm
    reference_soil = spectral_lib.soil.rsoil2  # soil = Bs x PROSAIL's wet (darker) spectrum
    n = len(params["LAI"])
    out = np.empty((n, len(intervals) + 4))
    for i in range(n):
        _, refl, trans = run_prospect(
            params["N"][i],
            params["Cab"][i],
            params["Car"][i],
            params["Cbp"][i],
            params["Cw"][i],
            params["Cm"][i],
            ant=0.0,
            prospect_version="5",
        )
        soil = np.minimum(params["Bs"][i] * reference_soil, 1.0)
        common = (refl, trans, params["ALA"][i], 0.0, 2, params["LAI"][i], params["hotspot"][i])
        obs = foursail(*common, params["SZA"][i], params["VZA"][i], params["RAA"][i], soil)
        sun = foursail(*common, params["SZA"][i], 0.0, 0.0, soil)
        tss, too, rdd, tsd, rsdt = sun[0], sun[1], sun[3], sun[6], sun[13]
        rsot = obs[17]
        for b, (lo, hi) in enumerate(intervals):
            out[i, b] = rsot[lo - 400 : hi - 400 + 1].mean()
        to_soil = (tss + tsd) / (1 - soil * rdd)
        absorbed = 1 - rsdt - (1 - soil) * to_soil
        out[i, -4] = params["LAI"][i]
        out[i, -3] = 1 - too
        out[i, -2] = np.sum(es[par] * absorbed[par]) / np.sum(es[par])
        out[i, -1] = np.sum(es * rsdt) / np.sum(es)
    return out


def simulate(
    sensor: Sensor,
    n: int,
    seed: int,
    workers: int = 1,
    progress: bool = True,
    sza_range: tuple[float, float] | None = None,
) -> Simulations:
    """``n`` noisy PROSAIL cases for ``sensor``; the same seed gives the same cases."""
    rng = np.random.default_rng(seed)
    params = draw_parameters(sensor, n, rng, sza_range)
    chunk = 500
    jobs = [
        ({k: v[s : s + chunk] for k, v in params.items()}, sensor.intervals)
        for s in range(0, n, chunk)
    ]
    bar = tqdm(total=n, desc=f"PROSAIL {sensor.name}", unit="case", disable=not progress)
    parts = []
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for part in pool.map(_run_cases, jobs):
                parts.append(part)
                bar.update(len(part))
    else:
        for job in jobs:
            parts.append(_run_cases(job))
            bar.update(len(parts[-1]))
    bar.close()
    table = np.concatenate(parts)
    clean = table[:, : len(sensor.bands)].T
    noisy = clean * (1 + rng.normal(0, NOISE_MULTIPLICATIVE, clean.shape)) + rng.normal(
        0, NOISE_ADDITIVE, clean.shape
    )
    angles = np.cos(np.radians(np.stack([params["VZA"], params["SZA"], params["RAA"]])))
    targets = {name: table[:, len(sensor.bands) + k] for k, name in enumerate(PRODUCTS)}
    return Simulations(np.concatenate([angles, noisy]), targets, params)
