"""Training is seeded and reproducible; the command writes exactly what training returns."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from leafcube.retrieval.formats import NETS_DIR, dumps_json, load_json, shipped_path
from leafcube.retrieval.sensors import SENSORS
from leafcube.retrieval.simulate import draw_parameters
from leafcube.retrieval.train import TrainConfig, train

LEAFCUBE = [sys.executable, "-m", "leafcube.cli.main"]
SMALL = TrainConfig(samples=400, seed=3, restarts=1, max_iter=15, workers=1)


@pytest.mark.slow
def test_reduced_training_is_deterministic_and_matches_the_command(tmp_path):
    first = dumps_json(train(SENSORS["L8"], SMALL, progress=False))
    second = dumps_json(train(SENSORS["L8"], SMALL, progress=False))
    assert first == second
    args = ["--sensor", "l8", "--samples", "400", "--seed", "3", "--restarts", "1"]
    args += ["--max-iter", "15", "--workers", "1", "--out", str(tmp_path), "--quiet"]
    done = subprocess.run([*LEAFCUBE, "nets", "train", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    written = tmp_path / "leafcube_l8_prosail.json"
    assert f"wrote {written}" in done.stdout
    assert written.read_text() == first
    other_seed = TrainConfig(samples=400, seed=4, restarts=1, max_iter=15, workers=1)
    assert dumps_json(train(SENSORS["L8"], other_seed, progress=False)) != first


def _sha256sums() -> dict[str, str]:
    lines = (NETS_DIR / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split("  ") for line in lines)}


@pytest.mark.parametrize("sensor", ["S2", "L8", "L9"])
def test_shipped_nets_are_the_recorded_command_output(sensor):
    path = shipped_path(sensor)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == _sha256sums()[path.name]
    netset = load_json(path)
    assert netset.sensor == sensor
    assert netset.sensor_code == SENSORS[sensor].code
    defaults = "--seed 0 --samples 41000 --restarts 3 --max-iter 300"
    assert netset.metadata["command"] == f"leafcube nets train --sensor {sensor} {defaults}"
    assert dumps_json(netset) == path.read_text()
    assert set(netset.errors) == set(netset.estimates) == {"LAI", "fCOVER", "fAPAR", "Albedo"}


def test_landsat_8_and_9_share_their_weights():
    l8, l9 = load_json(shipped_path("L8")), load_json(shipped_path("L9"))
    # same band intervals and seed: identical nets, only the sensor code differs
    assert (l8.sensor_code, l9.sensor_code) == (8, 9)
    for product in l8.products:
        for kind in ("estimates", "errors"):
            a, b = getattr(l8, kind)[product], getattr(l9, kind)[product]
            assert (a.w1 == b.w1).all() and (a.w2 == b.w2).all() and a.b2 == b.b2


def test_train_refuses_tiny_sample_counts(tmp_path: Path):
    done = subprocess.run(
        [*LEAFCUBE, "nets", "train", "--sensor", "S2", "--samples", "10", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "leafcube nets: error: --samples must be at least 100"
    assert not any(tmp_path.iterdir())


def test_train_checks_its_output_folder_before_simulating(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = subprocess.run(
        [*LEAFCUBE, "nets", "train", "--sensor", "L8", "--out", str(blocker / "nets")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"leafcube nets: error: cannot write to {blocker / 'nets'}"


def test_sza_option_replaces_the_canadian_sun():
    rng = np.random.default_rng(5)
    canada = draw_parameters(SENSORS["S2"], 2000, rng)["SZA"]
    uniform = draw_parameters(SENSORS["S2"], 2000, rng, sza_range=(0.0, 60.0))["SZA"]
    assert canada.min() > 30 and canada.max() > 75  # 10:00 sun, 41-70 N, days 60-300
    assert uniform.min() < 1 and 59 < uniform.max() <= 60


def test_sza_option_is_recorded_in_the_command(tmp_path):
    config = TrainConfig(samples=200, seed=3, restarts=1, max_iter=5, workers=1, sza_range=(0, 60))
    netset = train(SENSORS["L8"], config, progress=False)
    assert netset.metadata["command"].endswith("--max-iter 5 --sza 0 60")


def test_train_refuses_a_bad_sun_zenith_range(tmp_path: Path):
    done = subprocess.run(
        [*LEAFCUBE, "nets", "train", "--sensor", "S2", "--sza", "60", "10", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "leafcube nets: error: --sza needs 0 <= MIN < MAX < 90 (degrees)"
    assert not any(tmp_path.iterdir())
