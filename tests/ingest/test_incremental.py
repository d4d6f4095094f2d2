"""Incremental, idempotent and crash-safe ingest, with the real ``leafcube`` command."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from leafcube.catalogue import load
from leafcube.ingest.demo import make_exports, write_month
from tests.conftest import opened

LEAFCUBE = [sys.executable, "-m", "leafcube.cli.main"]
COLL = "leaf-s2-20m-monthly"


def test_second_ingest_changes_nothing(cube_copy, demo_exports, run_ingest, snapshot):
    before = snapshot(cube_copy)
    out = run_ingest(demo_exports, "--cube", cube_copy, "--workers", "2")
    assert out.returncode == 0, out.stderr
    assert "0 COG(s) written, 314 unchanged; catalogue unchanged" in out.stderr
    assert snapshot(cube_copy) == before  # same bytes and same modification times


def test_adding_one_month_adds_exactly_that_month(
    cube_copy, demo_exports, tmp_path, run_ingest, snapshot
):
    new = tmp_path / "new"
    write_month(new, 2025, 1)  # current LEAF: tile42_2025/tile42_Jan_LAI_20m.tif, ...
    old_cat = load(cube_copy)
    before = snapshot(cube_copy)
    out = run_ingest(demo_exports, new, "--cube", cube_copy)
    assert out.returncode == 0, out.stderr
    assert "14 COG(s) written, 314 unchanged" in out.stderr
    after = snapshot(cube_copy)
    changed = {p for p in after if before.get(p) != after[p]}
    allowed_changed = {
        "catalogue.json",
        f"gomez/{COLL}.json",
        f"gomez/{COLL}/index.json",
        f"stac/{COLL}/collection.json",
    }
    new_paths = {p for p in changed if p not in before}
    assert changed - new_paths == allowed_changed
    assert all(  # a new year: a new part and its views, the older parts' untouched
        p.startswith(
            (f"{COLL}/2025-01-01/", f"stac/{COLL}/items/2025-01-01_", f"stac/{COLL}/2025/")
        )
        or p
        in (
            f"catalogue/{COLL}/2025.json",
            f"gomez/{COLL}/2025.json",
            f".leafcube/ledger/{COLL}/2025-01.json",
        )
        or p.startswith(".leafcube/sources/")  # the new folder's state
        for p in new_paths
    ), new_paths
    assert f"catalogue/{COLL}/2025.json" in new_paths
    cat = load(cube_copy)
    coll, old = cat.collections[COLL], old_cat.collections[COLL]
    assert sorted(coll.dates) == [*sorted(old.dates), "2025-01-01"]
    for key, entry in old.dates.items():
        assert coll.dates[key].to_dict(list(coll.layers)) == entry.to_dict(list(coll.layers))
    gomez = orjson.loads((cube_copy / "gomez" / f"{COLL}.json").read_bytes())
    assert "2025-01-01" in gomez and len(gomez) == 25


def test_base_url_makes_gomez_urls_absolute_and_is_remembered(cube_copy, demo_exports, run_ingest):
    out = run_ingest(demo_exports, "--cube", cube_copy, "--base-url", "https://cube.example/leaf/")
    assert out.returncode == 0, out.stderr
    view = orjson.loads((cube_copy / "gomez" / f"{COLL}.json").read_bytes())
    assert view["2023-05-01"][0] == f"https://cube.example/leaf/{COLL}/2023-05-01/LAI.vrt"
    (cube_copy / "gomez" / f"{COLL}.json").unlink()
    assert run_ingest(demo_exports, "--cube", cube_copy).returncode == 0
    again = orjson.loads((cube_copy / "gomez" / f"{COLL}.json").read_bytes())
    assert again == view


def live_files(folder: Path, suffix: str) -> list[str]:
    """Files ending in ``suffix`` below ``folder`` while an ingest writes it: folders that
    vanish mid-walk (its temporary ones) are skipped, where ``Path.rglob`` raises."""
    return [n for _, _, names in os.walk(folder) for n in names if n.endswith(suffix)]


@pytest.mark.slow
def test_kill_9_keeps_the_previous_catalogue_and_a_rerun_completes(tmp_path, run_ingest):
    exports = make_exports(tmp_path / "exports", [(2023, m) for m in range(1, 6)])
    first = tmp_path / "first"
    first.mkdir()
    for p in [*exports.rglob("*_2023_Jan_*"), *exports.rglob("*_2023_Partition_*")]:
        (first / p.parent.name).mkdir(exist_ok=True)
        shutil.move(p, first / p.parent.name / p.name)
    cube = tmp_path / "cube"
    assert run_ingest(first, "--cube", cube).returncode == 0
    previous = (cube / "catalogue.json").read_bytes()

    every_month = [f"2023-0{m}-01" for m in range(1, 6)]
    written = len(live_files(cube, ".tif"))
    kept_previous = 0
    # Kill at three moments of progress (COGs on disk), not after fixed delays, so the
    # kills land mid-run however fast the machine is.
    for more in (1, 20, 40):
        proc = subprocess.Popen(
            [*LEAFCUBE, "ingest", str(first), str(exports), "--cube", str(cube), "--workers", "2"],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if len(live_files(cube, ".tif")) >= written + more:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "ingest finished before the kill: raise the thresholds"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        written = len(live_files(cube, ".tif"))
        cat = load(cube, check=True)
        kept_previous += (cube / "catalogue.json").read_bytes() == previous
        for entry in cat.collections[COLL].dates.values():
            for files in entry.layers.values():
                assert all((cube / t.href).is_file() for t in files.tiles.values())
    assert kept_previous == 3

    out = run_ingest(first, exports, "--cube", cube)
    assert out.returncode == 0, out.stderr
    cat = load(cube, check=True)
    assert sorted(cat.collections[COLL].dates) == every_month
    assert not any((cube / ".leafcube" / "tmp").glob("*"))
    again = run_ingest(first, exports, "--cube", cube)
    assert "0 COG(s) written" in again.stderr and "catalogue unchanged" in again.stderr


def _re_export(
    run_ingest, snapshot, exports: Path, cube: Path, src: Path, written: str
) -> tuple[set[str], dict, dict]:
    """Ingest ``exports`` into ``cube``, re-export ``src`` (a later mtime), ingest again
    (its log must say ``written``): the COGs rewritten, the cube before and after."""
    assert run_ingest(exports, "--cube", cube).returncode == 0
    before = snapshot(cube)
    os.utime(src, ns=(src.stat().st_atime_ns, src.stat().st_mtime_ns + 10**9))  # a re-export
    out = run_ingest(exports, "--cube", cube)
    assert out.returncode == 0, out.stderr
    assert written in out.stderr
    after = snapshot(cube)
    rewritten = {p for p in after if p.endswith(".tif") and after[p] != before.get(p)}
    return rewritten, before, after


@pytest.mark.parametrize("layer", ["QC", "Albedo"])
def test_a_re_exported_mask_input_rewrites_the_layers_it_masks(
    tmp_path, run_ingest, snapshot, layer
):
    """2023 and later: which pixels hold data comes from QC and the other layers, so a
    re-export of any of them rewrites every masked layer of its tile (not Partition)."""
    exports = make_exports(tmp_path / "exports", [(2023, 6)])
    src = exports / "tile42_2023" / f"tile42_2023_Jun_{layer}_20m.tif"
    rewritten, before, after = _re_export(
        run_ingest, snapshot, exports, tmp_path / "cube", src, "6 COG(s) written, 8 unchanged"
    )
    base = f"{COLL}/2023-06-01/tile42"
    names = ("LAI", "fCOVER", "fAPAR", "Albedo", "QC", "Date")
    assert rewritten == {f"{base}/{n}.tif" for n in names}
    assert after["catalogue.json"] == before["catalogue.json"]  # same files, same catalogue


def test_a_re_exported_v2022_qc_rewrites_it_and_the_layers_it_masks(tmp_path, run_ingest, snapshot):
    exports = tmp_path / "exports"
    write_month(exports, 2022, 6, version="v2022")
    qc = exports / "tile42_2022_Jun_LAI_QC_20m.tif"
    rewritten, _, _ = _re_export(
        run_ingest, snapshot, exports, tmp_path / "cube", qc, "4 COG(s) written, 22 unchanged"
    )
    base = f"{COLL}-v2022/2022-06-01/tile42"
    assert rewritten == {f"{base}/{n}.tif" for n in ("LAI_QC", "LAI", "errorLAI", "Date")}


def test_a_noop_rerun_opens_no_cog_and_no_part(cube_copy, demo_exports, tmp_path, snapshot):
    """A re-run of unchanged folders stats them and plans nothing: strace sees it open no
    COG (in the cube or the exports) and no catalogue part, and it writes nothing."""
    before = snapshot(cube_copy)
    trace = tmp_path / "trace.txt"
    out = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=openat", "-o", str(trace), *LEAFCUBE, "ingest"]
        + [str(demo_exports), "--cube", str(cube_copy)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "0 COG(s) written, 314 unchanged; catalogue unchanged" in out.stderr
    paths = opened(trace)
    assert str(cube_copy / "catalogue.json") in paths  # the trace does see its reads
    assert [p for p in paths if p.endswith((".tif", ".vrt"))] == []
    assert [p for p in paths if p.startswith(str(cube_copy / "catalogue") + "/")] == []
    assert [p for p in paths if "/.leafcube/ledger/" in p] == []
    states = [p for p in paths if "/.leafcube/sources/" in p]  # each folder's index alone
    assert states and all(p.endswith("/index.json") for p in states)
    assert snapshot(cube_copy) == before


def test_a_whole_folder_state_of_an_earlier_leafcube_is_split(cube_copy, demo_exports, run_ingest):
    """An earlier leafcube kept one state file per source folder: the next run splits it
    by sub-folder, removes it and plans nothing."""
    sources = cube_copy / ".leafcube" / "sources"
    (folder,) = [p for p in sources.iterdir() if p.is_dir()]
    shards = {p.name: p.read_bytes() for p in folder.iterdir()}
    index = orjson.loads(shards["index.json"])
    whole = {}
    for name, data in shards.items():
        if name != "index.json":  # a sub-folder's records: the one holding its files
            files = orjson.loads(data)
            (prefix,) = [
                d for d in index["dirs"] if (demo_exports / d / next(iter(files))).is_file()
            ]
            whole |= {prefix + f: rec for f, rec in files.items()}
    assert len(whole) == sum(1 for _ in demo_exports.rglob("*.tif"))
    shutil.rmtree(folder)
    old = folder.with_suffix(".json")
    old.write_bytes(orjson.dumps({"recipe": index["recipe"], "files": whole}))

    out = run_ingest(demo_exports, "--cube", cube_copy)
    assert out.returncode == 0, out.stderr
    assert "0 COG(s) written, 314 unchanged; catalogue unchanged" in out.stderr
    assert not old.exists()
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == shards


def test_a_new_date_rewrites_only_its_part_the_root_and_its_views(tmp_path, run_ingest, snapshot):
    """A new month of a year the cube has: its COGs and mosaics, that year's part, ledger
    month and views, and the collection-wide files change; the other year's do not. The
    catalogue is the one a fresh ingest of every export makes."""
    exports = make_exports(tmp_path / "exports", [(2023, 1), (2023, 2), (2024, 1)])
    cube = tmp_path / "cube"
    assert run_ingest(exports, "--cube", cube).returncode == 0
    before = snapshot(cube)
    write_month(exports, 2024, 2)
    out = run_ingest(exports, "--cube", cube)
    assert out.returncode == 0, out.stderr
    cogs = len([p for p in before if p.endswith(".tif")])
    assert f"14 COG(s) written, {cogs} unchanged" in out.stderr
    after = snapshot(cube)
    changed = {p for p in after if before.get(p) != after[p]}
    assert all(before[p] == after[p] for p in before if "2023" in p)  # the other year's
    expected_old = {
        "catalogue.json",
        f"catalogue/{COLL}/2024.json",
        f"gomez/{COLL}.json",
        f"gomez/{COLL}/index.json",
        f"gomez/{COLL}/2024.json",
        f"stac/{COLL}/collection.json",
        f"stac/{COLL}/2024/catalog.json",
        f"stac/{COLL}/2024/items.json",
        "stac/catalog.json",
        f".leafcube/ledger/{COLL}/2024-02.json",
    }
    # the folder's state: its index and the records of the sub-folders the month went to
    # (one per tile, as LEAF exports them); those of the other sub-folders are not rewritten
    sources = {p for p in changed if p.startswith(".leafcube/sources/")}
    tiles = {p.parent for p in write_month(tmp_path / "again", 2024, 2)}
    assert len({Path(p).parent for p in sources}) == 1
    assert sorted(Path(p).name for p in sources if p.endswith("/index.json")) == ["index.json"]
    assert len(sources) == 1 + len(tiles) < len([p for p in before if "/sources/" in p])
    assert {p for p in changed - sources if p in before} <= expected_old
    assert {f"catalogue/{COLL}/2024.json", "catalogue.json"} <= changed
    new = {p for p in changed if p not in before}
    assert all(
        p.startswith((f"{COLL}/2024-02-01/", f"stac/{COLL}/items/2024-02-01_")) or p in expected_old
        for p in new
    ), new

    fresh = tmp_path / "fresh"
    assert run_ingest(exports, "--cube", fresh).returncode == 0
    got, want = load(cube).to_dict(), load(fresh).to_dict()
    got.pop("updated"), want.pop("updated")
    assert got == want
    for name in (f"catalogue/{COLL}/2024.json", f"gomez/{COLL}.json"):
        assert (cube / name).read_bytes() == (fresh / name).read_bytes()


def test_an_old_whole_ledger_is_split_into_months_and_gives_the_same_catalogue(
    cube_copy, demo_exports, run_ingest
):
    """A cube of an earlier leafcube keeps one ``ledger.json``: the next run splits it by
    collection and month, removes it, rewrites no COG and leaves the catalogue as it was."""
    state = cube_copy / ".leafcube"
    months = {p.relative_to(state): p.read_bytes() for p in (state / "ledger").rglob("*.json")}
    whole: dict = {}
    for data in months.values():
        whole |= orjson.loads(data)
    assert len(whole) == 314
    (state / "ledger.json").write_bytes(orjson.dumps(whole))
    shutil.rmtree(state / "ledger")
    shutil.rmtree(state / "sources")  # as an older leafcube left it
    catalogue = (cube_copy / "catalogue.json").read_bytes()

    out = run_ingest(demo_exports, "--cube", cube_copy)
    assert out.returncode == 0, out.stderr
    assert "0 COG(s) written, 314 unchanged; catalogue unchanged" in out.stderr
    assert not (state / "ledger.json").exists()
    again = {p.relative_to(state): p.read_bytes() for p in (state / "ledger").rglob("*.json")}
    assert again == months
    assert (cube_copy / "catalogue.json").read_bytes() == catalogue
    assert "0 COG(s) written" in run_ingest(demo_exports, "--cube", cube_copy).stderr


@pytest.mark.slow
def test_a_killed_run_is_finished_by_the_next_whatever_its_sources(tmp_path, run_ingest):
    """A run killed after its ledger recorded COGs leaves ``pending.json``; the next run,
    given other exports, still puts every COG the ledger holds into the catalogue."""
    exports = make_exports(tmp_path / "exports", [(2023, m) for m in (1, 2, 3)])
    other = make_exports(tmp_path / "other", [(2024, 1)])
    cube = tmp_path / "cube"
    ledger = cube / ".leafcube" / "ledger"
    proc = subprocess.Popen(
        [*LEAFCUBE, "ingest", str(exports), "--cube", str(cube), "--workers", "2"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if live_files(ledger, ".json"):  # COGs recorded, run not done
            break
        time.sleep(0.005)
    assert proc.poll() is None, "ingest finished before the kill: give it more exports"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (cube / ".leafcube" / "pending.json").is_file()
    recorded = set()
    for path in ledger.rglob("*.json"):
        recorded |= set(orjson.loads(path.read_bytes()))
    assert recorded

    out = run_ingest(other, "--cube", cube)
    assert out.returncode == 0, out.stderr
    listed = {
        t.href
        for coll in load(cube).collections.values()
        for entry in coll.dates.values()
        for files in entry.layers.values()
        for t in files.tiles.values()
    }
    assert recorded <= listed
    assert any(h.startswith(f"{COLL}/2024-01-01/") for h in listed)
    assert not (cube / ".leafcube" / "pending.json").exists()
