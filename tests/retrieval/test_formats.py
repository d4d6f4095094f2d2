"""Net-set formats: SNAP auxdata folders and LEAF CSV tables written here by hand, JSON."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from leafcube.retrieval.engine import Engine
from leafcube.retrieval.formats import (
    dumps_json,
    load,
    load_json,
    load_leaf_csv,
    load_snap,
    save_json,
    write_leaf_csv,
    write_snap,
)
from leafcube.retrieval.network import ANGLES
from leafcube.retrieval.sensors import SENSORS
from leafcube.retrieval.train import domain_of

SNAP_FOLDERS = {"LAI": "LAI", "fAPAR": "FAPAR", "fCOVER": "FCOVER"}


def csv_text(rows) -> str:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows)


def snap_reference(x_snap: np.ndarray, files: dict[str, np.ndarray]) -> np.ndarray:
    """SNAP's documented forward pass, written independently of leafcube's engine."""
    norm, denorm = files["Normalisation"], files["Denormalisation"][0]
    xn = 2 * (x_snap - norm[:, :1]) / (norm[:, 1:] - norm[:, :1]) - 1
    hidden = np.tanh(files["Weights_Layer1_Neurons"] @ xn + files["Weights_Layer1_Bias"].T)
    n = files["Weights_Layer2_Neurons"] @ hidden + files["Weights_Layer2_Bias"]
    return (0.5 * (n + 1) * (denorm[1] - denorm[0]) + denorm[0]).ravel()


def write_snap_by_hand(folder: Path, rng: np.random.Generator) -> dict[str, dict]:
    """A SNAP auxdata folder of three random nets, written file by file."""
    nets = {}
    norm = np.column_stack(
        [
            [0, 0, 0, 0.0087, 0.0197, 0.0262, 0.0189, 0, 0.9796, 0.3421, -1.0],
            [0.239, 0.2917, 0.3265, 0.5939, 0.7467, 0.7582, 0.4929, 0.4877, 1.0, 0.9275, 1.0],
        ]
    )
    for product, snap in SNAP_FOLDERS.items():
        files = {
            "Normalisation": norm,
            "Denormalisation": np.array([[0.0002, 13.83 if product == "LAI" else 0.95]]),
            "Weights_Layer1_Neurons": rng.normal(0, 1, (5, 11)),
            "Weights_Layer1_Bias": rng.normal(0, 1, (1, 5)),
            "Weights_Layer2_Neurons": rng.normal(0, 0.5, (1, 5)),
            "Weights_Layer2_Bias": rng.normal(0, 0.3, (1, 1)),
            "DefinitionDomain_MinMax": np.vstack([norm[:8, 0], norm[:8, 1]]),
        }
        (folder / snap).mkdir(parents=True)
        for key, table in files.items():
            (folder / snap / f"{snap}_{key}").write_text(csv_text(table))
        (folder / snap / f"{snap}_DefinitionDomain_Grid").write_text(
            "2,2,2,2,2,2,2,2\n3,2,3,4,5,5,2,2\n"
        )
        nets[product] = files
    return nets


def test_snap_folder_reproduces_its_nets_to_1e6(tmp_path):
    files = write_snap_by_hand(tmp_path / "S2A", np.random.default_rng(1))
    netset = load_snap(tmp_path / "S2A")
    assert set(netset.products) == {"LAI", "fAPAR", "fCOVER"}
    assert netset.errors == {}
    x_snap = np.random.default_rng(2).uniform(0, 1, (11, 5000)) * 0.5
    x_snap[8:] = [[0.99], [0.6], [0.2]] + 0.01 * x_snap[8:]
    by_name = dict(zip(SENSORS["S2"].bands + ANGLES, x_snap, strict=True))
    outputs = Engine(netset, np.float64).run(by_name)
    fast = Engine(netset).run(by_name)
    for product, tables in files.items():
        reference = snap_reference(x_snap, tables)
        np.testing.assert_allclose(outputs.estimates[product], reference, rtol=0, atol=1e-6)
        np.testing.assert_allclose(netset.estimates[product].forward(x_snap), reference, atol=1e-6)
        np.testing.assert_allclose(fast.estimates[product], reference, atol=2e-4)


def test_snap_domain_grid_matches_snap_cells(tmp_path):
    write_snap_by_hand(tmp_path / "S2A", np.random.default_rng(1))
    domain = load_snap(tmp_path / "S2A").domain
    lo, hi = np.asarray(domain.band_min), np.asarray(domain.band_max)
    # SNAP cell = floor(10 (x - min) / (max - min) + 1): aim at cell centres
    inside = lo + (np.array([2, 2, 2, 2, 2, 2, 2, 2]) - 0.5) / 10 * (hi - lo)
    inside2 = lo + (np.array([3, 2, 3, 4, 5, 5, 2, 2]) - 0.5) / 10 * (hi - lo)
    other = lo + (np.array([3, 3, 3, 3, 3, 3, 3, 3]) - 0.5) / 10 * (hi - lo)
    above = inside.copy()
    above[4] = hi[4] + 0.01
    rho = np.column_stack([inside, inside2, other, above]).astype(np.float32)
    assert domain.outside(rho).tolist() == [False, False, True, True]


def test_snap_round_trip_through_writer(tmp_path, known_netset, make_inputs):
    write_snap(known_netset, tmp_path / "snap")
    back = load_snap(tmp_path / "snap")
    assert back.inputs == SENSORS["S2"].bands + ANGLES
    x = make_inputs(3000)
    x_snap = x[[known_netset.inputs.index(n) for n in back.inputs]]
    for product in back.products:
        got = back.estimates[product].forward(x_snap)
        np.testing.assert_allclose(got, known_netset.estimates[product].forward(x), atol=1e-9)
    assert np.array_equal(back.domain.codes, known_netset.domain.codes)
    np.testing.assert_array_equal(back.domain.band_min, known_netset.domain.band_min)


def leaf_row(variable: int, net: dict) -> str:
    """One LEAF-Toolbox table row: 5 header fields, then (count, values...) per field."""
    fields = ["0", "0", str(variable), "0", "1"]
    for key in ("slope", "offset", "w1", "b1", "w2", "b2", "out_slope", "out_bias"):
        values = np.atleast_1d(net[key]).ravel()
        fields += [str(len(values))] + [repr(float(v)) for v in values]
    return ",".join(fields)


def leaf_reference(x: np.ndarray, net: dict) -> np.ndarray:
    """LEAF's documented forward pass, written independently of leafcube's engine."""
    scaled = x * net["slope"][:, None] + net["offset"][:, None]
    hidden = 2 / (1 + np.exp(-2 * (net["w1"] @ scaled + net["b1"][:, None]))) - 1
    return (net["w2"] @ hidden + net["b2"] - net["out_bias"]) / net["out_slope"]


def test_leaf_csv_table_reproduces_its_nets_to_1e6(tmp_path, make_inputs):
    rng = np.random.default_rng(3)
    variables = {"LAI": 1, "fAPAR": 2, "fCOVER": 3, "Albedo": 6}
    nets = {}
    for product in [*variables, "CCC"]:
        nets[product] = {
            "slope": rng.uniform(1, 10, 11),
            "offset": rng.uniform(-2, 0, 11),
            "w1": rng.normal(0, 1, (5, 11)),
            "b1": rng.normal(0, 1, 5),
            "w2": rng.normal(0, 1, 5),
            "b2": rng.normal(0, 0.3),
            "out_slope": rng.uniform(0.2, 2),
            "out_bias": rng.uniform(-1.1, -0.9),
        }
    variables_all = {**variables, "CCC": 4}
    rows = [
        leaf_row(variables_all[p], nets[p]) for p in ("LAI", "fAPAR", "fCOVER", "CCC", "Albedo")
    ]
    width = max(r.count(",") for r in rows) + 1
    header = ",".join(f"tabledata{i + 1}" for i in range(width))
    table = tmp_path / "s2_test_NNT1_Single_0_1.csv"
    table.write_text(header + "\n" + "\n".join(rows) + "\n")
    domain = tmp_path / "s2_test_DOMAIN.csv"
    domain.write_text("DomainCode\n11021000\n12031000\n11021000\n")
    netset = load_leaf_csv(table, errors=table, domain=domain, sensor="S2")
    assert netset.products == ("LAI", "fCOVER", "fAPAR", "Albedo")
    assert netset.domain.codes.tolist() == [11021000, 12031000]
    x = make_inputs(5000)
    outputs = Engine(netset, np.float64).run(x)
    for product in variables:
        reference = leaf_reference(x, nets[product])
        np.testing.assert_allclose(outputs.estimates[product], reference, rtol=0, atol=1e-6)
        np.testing.assert_allclose(outputs.errors[product], reference, rtol=0, atol=1e-6)


def test_leaf_csv_round_trip_and_load_finds_siblings(tmp_path, known_netset, make_inputs):
    leafish = replace(known_netset, domain=domain_of(SENSORS["S2"], make_inputs(500)))
    written = write_leaf_csv(leafish, tmp_path)
    assert set(written) == {"estimates", "errors", "domain"}
    back = load(written["estimates"])
    x = make_inputs(2000, seed=9)
    for product in leafish.products:
        for kind in ("estimates", "errors"):
            got = getattr(back, kind)[product].forward(x)
            want = getattr(leafish, kind)[product].forward(x)
            np.testing.assert_allclose(got, want, atol=1e-12)
    assert np.array_equal(back.domain.codes, leafish.domain.codes)


def test_json_round_trip_is_byte_identical(tmp_path, known_netset):
    path = save_json(known_netset, tmp_path / "nets.json")
    back = load_json(path)
    assert dumps_json(back) == path.read_text()
    assert load(path).products == known_netset.products


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.json", "{", "not valid JSON"),
        ("other.json", '{"format": "x"}', "not a leafcube-sl2p file"),
        ("bad.csv", "a,b\n1,2\n", "not a LEAF network table"),
        ("short.csv", "tabledata1,tabledata2\n0,0,1,0,1,11,1.0\n", "truncated network row"),
        ("weird.txt", "", "expected a .json net set"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load(path)


def test_snap_folder_with_wrong_input_count(tmp_path):
    files = write_snap_by_hand(tmp_path / "S2A", np.random.default_rng(1))
    assert files
    (tmp_path / "S2A" / "LAI" / "LAI_Normalisation").write_text("0,1\n0,1\n")
    with pytest.raises(ValueError, match="2 inputs, S2 nets take 11"):
        load_snap(tmp_path / "S2A")
    with pytest.raises(FileNotFoundError, match="no SNAP network folders"):
        load_snap(tmp_path)
