"""Views benchmark: the STAC and GomezEngine views of a daily collection written whole
against written incrementally (``only``: the one part whose dates changed), side by side.

For each size, a synthetic daily collection (``--tiles`` tiles a date, every LEAF layer;
made in memory as ingest records it, no COG written: the views only name the files) is
saved with both views written whole. Then one day is added after the last one and the
views are brought up to date twice, each in its own copy of the cube:

- **full**: the whole catalogue loaded (``load``), ``write_stac`` and ``write_gomez`` with
  ``only=None`` (every file rebuilt and compared, those changed written);
- **incremental**: the root and the changed part loaded (``load_root`` + ``read_parts``),
  the writers with ``only={collection: {part}}``.

The two copies' view files are checked byte-identical. Also reported: the sizes of the
files a reader fetches (the whole GomezEngine view and its bytes per date, a year view, a
month's ``items.json``, ``collection.json``). Run:
``.venv/bin/python bench/views.py [--dates 1000 5000] [--tiles 2]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leafcube.catalogue import Catalogue, load, load_root, read_parts, save  # noqa: E402
from leafcube.catalogue.gomez import write_gomez  # noqa: E402
from leafcube.catalogue.parts import part_key  # noqa: E402
from leafcube.ingest.stac import write_stac  # noqa: E402
from tests.stac import synthetic  # noqa: E402
from tests.stac.synthetic import view_files  # noqa: E402

NAME = "leaf-s3-500m-daily"
BASE = "https://leaf.example.org/cube"
FIRST = dt.date(2010, 1, 1)


def write_views(cat: Catalogue, cube: Path, only: dict[str, set[str]] | None) -> float:
    """Seconds to write both views."""
    t0 = time.perf_counter()
    write_stac(cat, cube, BASE, only=only)
    write_gomez(cat, cube, BASE, only=only)
    return time.perf_counter() - t0


def run(dates: int, tiles: int, tmp: Path) -> dict[str, float]:
    cube = tmp / f"cube-{dates}"
    cat = synthetic.catalogue(synthetic.daily(NAME, FIRST, dates, tiles))
    first = write_views(cat, cube, None)
    save(cat, cube)
    incr = tmp / f"incr-{dates}"
    shutil.copytree(cube, incr)
    day = FIRST + dt.timedelta(days=dates)
    key = part_key(day.isoformat(), "month")
    added = synthetic.entry(NAME, day, 1, tiles)

    t0 = time.perf_counter()
    whole = load(cube)
    full_load = time.perf_counter() - t0
    whole.collections[NAME].dates[added.key] = added
    full = write_views(whole, cube, None)
    save(whole, cube)

    t0 = time.perf_counter()
    root = load_root(incr)
    coll = root.collections[NAME]
    root.collections[NAME] = read_parts(incr, coll, [coll.parts[key]] if key in coll.parts else [])
    incr_load = time.perf_counter() - t0
    root.collections[NAME].dates[added.key] = added
    incremental = write_views(root, incr, {NAME: {key}})
    save(root, incr)

    assert view_files(incr) == view_files(cube), "incremental and full writes differ"
    gomez = (cube / "gomez" / f"{NAME}.json").stat().st_size
    year = (cube / "gomez" / NAME / f"{FIRST.year}.json").stat().st_size  # a whole year
    items = (cube / "stac" / NAME / FIRST.isoformat()[:7] / "items.json").stat().st_size
    collection = (cube / "stac" / NAME / "collection.json").stat().st_size
    return {
        "dates": dates + 1,
        "first": first,
        "full_load": full_load,
        "full": full,
        "incr_load": incr_load,
        "incremental": incremental,
        "gomez_mb": gomez / 1e6,
        "gomez_per_date": gomez / (dates + 1),
        "year_kb": year / 1e3,
        "items_kb": items / 1e3,
        "collection_kb": collection / 1e3,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dates", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--tiles", type=int, default=2)
    args = ap.parse_args()
    print(f"daily collection, {args.tiles} tile(s) a date, base URL {BASE}")
    print(
        "| dates | first write (s) | full: load + write (s) | incremental: load + write (s) "
        "| full / incremental | gomez/{c}.json | bytes/date | a year's view | a month's "
        "items.json (31 days) | collection.json |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.dates:
            r = run(n, args.tiles, Path(tmp))
            full, incr = r["full_load"] + r["full"], r["incr_load"] + r["incremental"]
            print(
                f"| {r['dates']:,} | {r['first']:.1f} | {r['full_load']:.2f} + {r['full']:.2f} "
                f"| {r['incr_load']:.3f} + {r['incremental']:.3f} | {full / incr:.0f}x "
                f"| {r['gomez_mb']:.2f} MB | {r['gomez_per_date']:.0f} | {r['year_kb']:.0f} kB "
                f"| {r['items_kb']:.0f} kB | {r['collection_kb']:.1f} kB |",
                flush=True,
            )


if __name__ == "__main__":
    main()
