"""``leafcube nets``: train the project's own SL2P nets, inspect or convert any net set."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from .formats import NETS_DIR, load, shipped_path
from .sensors import SENSORS


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("nets", help="train and inspect SL2P retrieval networks")
    sub = parser.add_subparsers(dest="nets_command", metavar="ACTION", required=True)

    train = sub.add_parser("train", help="simulate PROSAIL cases and train a sensor's nets")
    train.add_argument("--sensor", required=True, type=str.upper, choices=sorted(SENSORS))
    train.add_argument("--out", type=Path, default=NETS_DIR, help="output folder")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--samples", type=int, default=41000, help="PROSAIL cases")
    train.add_argument("--restarts", type=int, default=3, help="LM restarts per net")
    train.add_argument("--max-iter", type=int, default=300, help="LM iterations per fit")
    train.add_argument("--workers", type=int, default=2, help="PROSAIL processes")
    train.add_argument(
        "--sza",
        nargs=2,
        type=float,
        metavar=("MIN", "MAX"),
        help="sun zenith uniform in MIN-MAX degrees instead of Canada's 10:00 sun",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(run=_train)

    info = sub.add_parser("info", help="describe a net set (leafcube JSON, SNAP folder, LEAF CSV)")
    info.add_argument("path", help="file or folder; a sensor name (S2, L8, L9) for shipped nets")
    info.add_argument("--sensor", type=str.upper, default="S2", choices=sorted(SENSORS))
    info.set_defaults(run=_info)

    convert = sub.add_parser("convert", help="write a net set as leafcube JSON, SNAP or LEAF CSV")
    convert.add_argument("path", help="file or folder; a sensor name (S2, L8, L9) for shipped nets")
    convert.add_argument("out", type=Path, help="output .json file or folder")
    convert.add_argument("--to", choices=("json", "snap", "leaf"), default="json")
    convert.add_argument("--sensor", type=str.upper, default="S2", choices=sorted(SENSORS))
    convert.set_defaults(run=_convert)


def _resolve(path: str, sensor: str):
    if path.upper() in SENSORS:
        return load(shipped_path(path))
    return load(path, sensor)


def _writable_folder(folder: Path) -> bool:
    """Create ``folder`` if needed; True when files can be written there (checked up front)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return folder.is_dir() and os.access(folder, os.W_OK)


def _train(args: argparse.Namespace) -> int:
    if args.samples < 100:
        raise ValueError("--samples must be at least 100")
    try:
        import prosail  # noqa: F401
    except ImportError:
        raise ValueError("training needs PROSAIL: pip install 'leafcube[train]'") from None
    if args.sza is not None and not 0 <= args.sza[0] < args.sza[1] < 90:
        raise ValueError("--sza needs 0 <= MIN < MAX < 90 (degrees)")
    if not _writable_folder(args.out):
        raise ValueError(f"cannot write to {args.out}")
    from .formats import save_json
    from .sensors import sensor
    from .train import TrainConfig, train

    sza = tuple(args.sza) if args.sza else None
    config = TrainConfig(args.samples, args.seed, args.restarts, args.max_iter, args.workers, sza)
    netset = train(sensor(args.sensor), config, progress=not args.quiet)
    path = save_json(netset, Path(args.out) / shipped_path(args.sensor).name)
    print(f"wrote {path}")
    for product, m in netset.metadata["heldout"].items():
        print(f"  {product:7s} held-out RMSE {m['rmse']:.4f}  bias {m['bias']:+.4f}")
    return 0


def _info(args: argparse.Namespace) -> int:
    netset = _resolve(args.path, args.sensor)
    domain = netset.domain
    summary = {
        "name": netset.name,
        "sensor": netset.sensor,
        "sensor_code": netset.sensor_code,
        "inputs": list(netset.inputs),
        "products": {
            p: {
                "estimate_range": netset.estimates[p].output_minmax(),
                "uncertainty": p in netset.errors,
            }
            for p in netset.products
        },
        "domain": None
        if domain is None
        else {
            "scheme": domain.scheme,
            "bands": list(domain.bands),
            "codes": 0 if domain.codes is None else len(domain.codes),
            "min_max": domain.band_min is not None,
        },
        "heldout": netset.metadata.get("heldout"),
        "command": netset.metadata.get("command"),
    }
    print(json.dumps(summary, indent=2))
    return 0


def _convert(args: argparse.Namespace) -> int:
    from .formats import save_json, write_leaf_csv, write_snap

    netset = _resolve(args.path, args.sensor)
    if args.to == "json":
        print(f"wrote {save_json(netset, args.out)}")
    elif args.to == "snap":
        print(f"wrote {write_snap(netset, args.out)}")
    else:
        for path in write_leaf_csv(netset, args.out).values():
            print(f"wrote {path}")
    return 0
