"""``leafcube nets info`` and ``convert`` as users run them."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from leafcube.retrieval.formats import load, load_shipped

LEAFCUBE = [sys.executable, "-m", "leafcube.cli.main"]


def nets(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*LEAFCUBE, "nets", *args], capture_output=True, text=True)


def test_info_on_shipped_nets():
    done = nets("info", "S2")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["sensor"] == "S2" and info["sensor_code"] == 21
    assert list(info["products"]) == ["LAI", "fCOVER", "fAPAR", "Albedo"]
    assert all(p["uncertainty"] for p in info["products"].values())
    assert info["domain"]["scheme"] == "leaf" and info["domain"]["codes"] > 100
    assert info["heldout"]["LAI"]["rmse"] > 0


def test_convert_to_snap_and_leaf_then_read_back(tmp_path):
    shipped = load_shipped("L8")
    for fmt, out in (("snap", tmp_path / "snap"), ("leaf", tmp_path / "leaf")):
        done = nets("convert", "L8", str(out), "--to", fmt, "--sensor", "L8")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("wrote ")
    snap = load(tmp_path / "snap", sensor="L8")
    leaf = load(tmp_path / "leaf" / f"{shipped.name}.csv", sensor="L8")
    x = np.random.default_rng(0).uniform(0, 0.5, (8, 1000))
    x[:3] = [[0.995], [0.6], [0.1]]
    for product in shipped.products:
        want = shipped.estimates[product].forward(x)
        x_snap = x[[shipped.inputs.index(n) for n in snap.inputs]]
        np.testing.assert_allclose(snap.estimates[product].forward(x_snap), want, atol=1e-9)
        np.testing.assert_allclose(leaf.estimates[product].forward(x), want, atol=1e-12)
        np.testing.assert_allclose(
            leaf.errors[product].forward(x), shipped.errors[product].forward(x), atol=1e-12
        )
    assert np.array_equal(leaf.domain.codes, shipped.domain.codes)
    # SNAP keeps the domain's min/max; its cells cannot hold LEAF's digit codes
    np.testing.assert_array_equal(snap.domain.band_max, shipped.domain.band_max)
    assert snap.domain.codes is None


def test_user_errors_are_one_line(tmp_path):
    done = nets("info", str(tmp_path / "missing.json"))
    assert done.returncode == 2
    assert (
        done.stderr.strip() == f"leafcube nets: error: {tmp_path / 'missing.json'} does not exist"
    )
    (tmp_path / "empty").mkdir()
    done = nets("info", str(tmp_path / "empty"))
    assert done.returncode == 2
    assert "no SNAP network folders" in done.stderr and "Traceback" not in done.stderr
