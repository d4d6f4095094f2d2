"""Read and write net sets: leafcube JSON, ESA SNAP auxdata folders, LEAF-Toolbox CSV tables.

Layouts are documented in docs/retrieval.md. Nothing is downloaded: users point at a
file or folder they have. :func:`load` picks the format from the path.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from leafcube.catalogue.products import PRODUCTS

from .network import ANGLES, Domain, Net, NetSet
from .sensors import sensor as get_sensor

FORMAT = "leafcube-sl2p"
FORMAT_VERSION = 1
#: The nets shipped with leafcube (package data), as ``leafcube nets train`` writes them.
NETS_DIR = Path(__file__).parent / "nets"

# ---------------------------------------------------------------- leafcube JSON


def _net_to_dict(net: Net) -> dict:
    return {
        "in_slope": [float(v) for v in net.in_slope],
        "in_offset": [float(v) for v in net.in_offset],
        "w1": [[float(v) for v in row] for row in np.asarray(net.w1)],
        "b1": [float(v) for v in net.b1],
        "w2": [float(v) for v in net.w2],
        "b2": float(net.b2),
        "out_slope": float(net.out_slope),
        "out_offset": float(net.out_offset),
    }


def _net_from_dict(d: dict) -> Net:
    return Net(
        np.asarray(d["in_slope"], float),
        np.asarray(d["in_offset"], float),
        np.asarray(d["w1"], float),
        np.asarray(d["b1"], float),
        np.asarray(d["w2"], float),
        float(d["b2"]),
        float(d["out_slope"]),
        float(d["out_offset"]),
    )


def dumps_json(netset: NetSet) -> str:
    """The leafcube JSON text of a net set (deterministic: same nets, same bytes)."""
    domain = netset.domain
    doc = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": netset.name,
        "sensor": netset.sensor,
        "sensor_code": netset.sensor_code,
        "inputs": list(netset.inputs),
        "domain": None
        if domain is None
        else {
            "scheme": domain.scheme,
            "bands": list(domain.bands),
            "min": None if domain.band_min is None else [float(v) for v in domain.band_min],
            "max": None if domain.band_max is None else [float(v) for v in domain.band_max],
            "codes": None if domain.codes is None else [int(c) for c in domain.codes],
        },
        "networks": {
            p: {
                "estimate": _net_to_dict(netset.estimates[p]),
                "error": _net_to_dict(netset.errors[p]) if p in netset.errors else None,
            }
            for p in netset.products
        },
        "metadata": netset.metadata,
    }
    return json.dumps(doc, indent=1) + "\n"


def save_json(netset: NetSet, path: str | Path) -> Path:
    """Write a net set as leafcube JSON (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps_json(netset))
    tmp.replace(path)
    return path


def load_json(path: str | Path) -> NetSet:
    """Read a leafcube JSON net set."""
    try:
        doc = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} file")
    if doc.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path} has {FORMAT} version {doc.get('version')}, expected 1")
    try:
        d = doc["domain"]
        domain = None
        if d is not None:
            domain = Domain(
                tuple(d["bands"]),
                d["scheme"],
                None if d["min"] is None else np.asarray(d["min"], float),
                None if d["max"] is None else np.asarray(d["max"], float),
                None if d["codes"] is None else np.asarray(d["codes"], np.int64),
            )
        nets = doc["networks"]
        return NetSet(
            name=doc["name"],
            sensor=doc["sensor"],
            sensor_code=int(doc["sensor_code"]),
            inputs=tuple(doc["inputs"]),
            estimates={p: _net_from_dict(v["estimate"]) for p, v in nets.items()},
            errors={p: _net_from_dict(v["error"]) for p, v in nets.items() if v["error"]},
            domain=domain,
            metadata=doc.get("metadata", {}),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: malformed {FORMAT} file ({exc!r})") from None


# ---------------------------------------------------------------- ESA SNAP auxdata

_SNAP_NAMES = {"LAI": "LAI", "fAPAR": "FAPAR", "fCOVER": "FCOVER", "Albedo": "ALBEDO"}


def _read_table(path: Path) -> np.ndarray:
    try:
        return np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path}: not a numeric CSV table ({exc})") from None


def _write_table(path: Path, rows) -> None:
    text = "".join(",".join(repr(float(v)) for v in np.atleast_1d(row)) + "\n" for row in rows)
    path.write_text(text)


def snap_inputs(sensor_name: str) -> tuple[str, ...]:
    """SNAP's input order: the bands, then cos(VZA), cos(SZA), cos(RAA)."""
    return get_sensor(sensor_name).bands + ANGLES


def load_snap(folder: str | Path, sensor: str = "S2", name: str | None = None) -> NetSet:
    """Read a SNAP biophysical-processor auxdata folder (e.g. ``auxdata/3_0/S2A``).

    Reads the ``LAI``, ``FAPAR``, ``FCOVER`` (and ``ALBEDO``) sub-folders, or ``folder``
    itself when it is one product's folder. SNAP ships no uncertainty nets.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    info = get_sensor(sensor)
    inputs = snap_inputs(sensor)
    estimates: dict[str, Net] = {}
    domain: Domain | None = None
    for product, snap in _SNAP_NAMES.items():
        base = next(
            (d for d in (folder / snap, folder) if (d / f"{snap}_Normalisation").exists()), None
        )
        if base is None:
            continue
        files = {
            key: base / f"{snap}_{key}"
            for key in (
                "Normalisation",
                "Denormalisation",
                "Weights_Layer1_Neurons",
                "Weights_Layer1_Bias",
                "Weights_Layer2_Neurons",
                "Weights_Layer2_Bias",
            )
        }
        missing = [p.name for p in files.values() if not p.exists()]
        if missing:
            raise FileNotFoundError(f"{base}: missing {', '.join(missing)}")
        norm = _read_table(files["Normalisation"])
        if norm.shape != (len(inputs), 2):
            raise ValueError(
                f"{files['Normalisation']}: {norm.shape[0]} inputs, {sensor} nets take"
                f" {len(inputs)} ({', '.join(inputs)})"
            )
        denorm = _read_table(files["Denormalisation"]).ravel()
        estimates[product] = Net.from_minmax(
            norm[:, 0],
            norm[:, 1],
            _read_table(files["Weights_Layer1_Neurons"]),
            _read_table(files["Weights_Layer1_Bias"]).ravel(),
            _read_table(files["Weights_Layer2_Neurons"]).ravel(),
            float(_read_table(files["Weights_Layer2_Bias"]).ravel()[0]),
            denorm[0],
            denorm[1],
        )
        if domain is None:
            domain = _snap_domain(base, snap, info.bands)
    if not estimates:
        raise FileNotFoundError(f"{folder}: no SNAP network folders (LAI, FAPAR, FCOVER)")
    return NetSet(
        name=name or folder.name,
        sensor=info.name,
        sensor_code=info.code,
        inputs=inputs,
        estimates=estimates,
        domain=domain,
        metadata={"source": "snap"},
    )


def _snap_domain(base: Path, snap: str, bands: tuple[str, ...]) -> Domain | None:
    minmax_path = base / f"{snap}_DefinitionDomain_MinMax"
    if not minmax_path.exists():
        return None
    minmax = _read_table(minmax_path)
    if minmax.shape != (2, len(bands)):
        raise ValueError(f"{minmax_path}: expected 2 rows of {len(bands)} band limits")
    grid_path = base / f"{snap}_DefinitionDomain_Grid"
    codes = None
    if grid_path.exists():
        grid = _read_table(grid_path).astype(np.int64)
        if grid.shape[1] != len(bands):
            raise ValueError(f"{grid_path}: expected {len(bands)} cells per row")
        codes = grid @ (12 ** np.arange(len(bands), dtype=np.int64))
    return Domain(bands, "snap", minmax[0], minmax[1], codes)


def write_snap(netset: NetSet, folder: str | Path) -> Path:
    """Write a net set's estimate nets as a SNAP auxdata folder (one sub-folder per product).

    The definition domain is written when it has min/max; its grid only for a SNAP-scheme
    domain (LEAF's digit codes have no SNAP equivalent).
    """
    folder = Path(folder)
    inputs = snap_inputs(netset.sensor)
    if sorted(inputs) != sorted(netset.inputs):
        raise ValueError(f"net set inputs {netset.inputs} do not match SNAP's {inputs}")
    order = [netset.inputs.index(n) for n in inputs]
    domain = netset.domain
    for product in netset.products:
        net = netset.estimates[product]
        snap = _SNAP_NAMES[product]
        base = folder / snap
        base.mkdir(parents=True, exist_ok=True)
        lo, hi = net.input_minmax()
        out_lo, out_hi = net.output_minmax()
        _write_table(base / f"{snap}_Normalisation", np.column_stack([lo, hi])[order])
        _write_table(base / f"{snap}_Denormalisation", [[out_lo, out_hi]])
        _write_table(base / f"{snap}_Weights_Layer1_Neurons", np.asarray(net.w1)[:, order])
        _write_table(base / f"{snap}_Weights_Layer1_Bias", [net.b1])
        _write_table(base / f"{snap}_Weights_Layer2_Neurons", [net.w2])
        _write_table(base / f"{snap}_Weights_Layer2_Bias", [[net.b2]])
        if domain is not None and domain.band_min is not None:
            rows = [domain.bands.index(b) for b in inputs if b in domain.bands]
            _write_table(
                base / f"{snap}_DefinitionDomain_MinMax",
                [np.asarray(domain.band_min)[rows], np.asarray(domain.band_max)[rows]],
            )
            if domain.scheme == "snap" and domain.codes is not None:
                cells = (domain.codes[:, None] // 12 ** np.arange(len(domain.bands))) % 12
                lines = "".join(",".join(str(int(c)) for c in row[rows]) + "\n" for row in cells)
                (base / f"{snap}_DefinitionDomain_Grid").write_text(lines)
    return folder


# ---------------------------------------------------------------- LEAF-Toolbox CSV

#: LEAF's variable numbers (column ``tabledata3``).
LEAF_VARIABLES: dict[str, int] = {"LAI": 1, "fAPAR": 2, "fCOVER": 3, "Albedo": 6}

_LEAF_FIELDS = ("in_slope", "in_offset", "w1", "b1", "w2", "b2", "out_slope", "out_offset")


def _leaf_rows(path: Path) -> list[list[float]]:
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist") from None
    if not rows or not rows[0] or not rows[0][0].startswith("tabledata"):
        raise ValueError(f"{path}: not a LEAF network table (header tabledata1, ...)")
    try:
        return [[float(v) for v in row] for row in rows[1:] if row]
    except ValueError as exc:
        raise ValueError(f"{path}: non-numeric value ({exc})") from None


def _leaf_net(row: list[float], path: Path) -> Net:
    values: dict[str, list[float]] = {}
    pos = 5  # tabledata6: the first count
    try:
        for key in _LEAF_FIELDS:
            count = int(row[pos])
            values[key] = row[pos + 1 : pos + 1 + count]
            if len(values[key]) != count:
                raise IndexError(key)
            pos += 1 + count
    except IndexError:
        raise ValueError(f"{path}: truncated network row") from None
    n_in = len(values["in_slope"])
    n_hidden = len(values["b1"])
    return Net(
        np.asarray(values["in_slope"]),
        np.asarray(values["in_offset"]),
        np.asarray(values["w1"]).reshape(n_hidden, n_in),
        np.asarray(values["b1"]),
        np.asarray(values["w2"]),
        values["b2"][0],
        values["out_slope"][0],
        values["out_offset"][0],
    )


def _leaf_table(path: Path, net_index: int) -> dict[str, Net]:
    rows = _leaf_rows(path)
    nets: dict[str, Net] = {}
    for product, number in LEAF_VARIABLES.items():
        matching = [r for r in rows if len(r) > 2 and int(r[2]) == number]
        if len(matching) > net_index:
            nets[product] = _leaf_net(matching[net_index], path)
    if not nets:
        raise ValueError(f"{path}: no LAI, fAPAR, fCOVER or Albedo network (net {net_index})")
    return nets


def load_leaf_csv(
    estimates: str | Path,
    errors: str | Path | None = None,
    domain: str | Path | None = None,
    sensor: str = "S2",
    net_index: int = 0,
) -> NetSet:
    """Read LEAF-Toolbox network tables (estimate and error CSV, DomainCode CSV).

    ``net_index`` picks the land-cover network when a table holds several per variable.
    """
    info = get_sensor(sensor)
    estimates = Path(estimates)
    codes = None
    if domain is not None:
        with open(domain, newline="") as f:
            rows = list(csv.reader(f))
        if not rows or rows[0] != ["DomainCode"]:
            raise ValueError(f"{domain}: expected a DomainCode column")
        codes = np.asarray([int(float(r[0])) for r in rows[1:] if r], np.int64)
    return NetSet(
        name=estimates.stem,
        sensor=info.name,
        sensor_code=info.code,
        inputs=info.inputs,
        estimates=_leaf_table(estimates, net_index),
        errors={} if errors is None else _leaf_table(Path(errors), net_index),
        domain=None if codes is None else Domain(info.bands, "leaf", codes=codes),
        metadata={"source": "leaf-csv"},
    )


def _leaf_row(product: str, net: Net) -> list[str]:
    parts: list[np.ndarray | list[float]] = [
        np.asarray(net.in_slope),
        np.asarray(net.in_offset),
        np.asarray(net.w1).ravel(),
        np.asarray(net.b1),
        np.asarray(net.w2),
        [net.b2],
        [net.out_slope],
        [net.out_offset],
    ]
    row = ["0", "0", str(LEAF_VARIABLES[product]), "0", "1"]
    for values in parts:
        row.append(str(len(values)))
        row.extend(repr(float(v)) for v in values)
    return row


def write_leaf_csv(netset: NetSet, folder: str | Path) -> dict[str, Path]:
    """Write LEAF-Toolbox tables: ``<name>.csv``, ``<name>_Error.csv``, ``<name>_DOMAIN.csv``."""
    info = get_sensor(netset.sensor)
    if netset.inputs != info.inputs:
        raise ValueError(f"LEAF tables take inputs {info.inputs}, not {netset.inputs}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind, nets in (("estimates", netset.estimates), ("errors", netset.errors)):
        if not nets:
            continue
        rows = [_leaf_row(p, nets[p]) for p in PRODUCTS if p in nets]
        width = max(len(r) for r in rows)
        suffix = "" if kind == "estimates" else "_Error"
        path = folder / f"{netset.name}{suffix}.csv"
        with open(path, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow([f"tabledata{i + 1}" for i in range(width)])
            writer.writerows(rows)
        written[kind] = path
    domain = netset.domain
    if domain is not None and domain.scheme == "leaf" and domain.codes is not None:
        path = folder / f"{netset.name}_DOMAIN.csv"
        path.write_text("DomainCode\n" + "".join(f"{int(c)}\n" for c in domain.codes))
        written["domain"] = path
    return written


# ---------------------------------------------------------------- any format


def load(path: str | Path, sensor: str = "S2") -> NetSet:
    """Read a net set from leafcube JSON, a SNAP auxdata folder or a LEAF CSV table.

    For a LEAF table ``X.csv`` the uncertainty table ``X_Error.csv`` (or ``_error``,
    ``_errors``) and domain ``X_DOMAIN.csv`` next to it are read when present.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        return load_snap(path, sensor)
    if path.suffix.lower() == ".json":
        return load_json(path)
    if path.suffix.lower() == ".csv":
        sibling = next(
            (
                path.with_name(path.stem + s + ".csv")
                for s in ("_Error", "_error", "_errors")
                if path.with_name(path.stem + s + ".csv").exists()
            ),
            None,
        )
        domain = path.with_name(path.stem + "_DOMAIN.csv")
        return load_leaf_csv(path, sibling, domain if domain.exists() else None, sensor)
    raise ValueError(f"{path}: expected a .json net set, a LEAF .csv table or a SNAP folder")


def shipped_path(sensor: str) -> Path:
    """Path of leafcube's own net set for a sensor (``S2``, ``L8``, ``L9``)."""
    return NETS_DIR / f"leafcube_{get_sensor(sensor).name.lower()}_prosail.json"


def load_shipped(sensor: str) -> NetSet:
    """leafcube's own PROSAIL-trained net set for a sensor."""
    return load_json(shipped_path(sensor))
