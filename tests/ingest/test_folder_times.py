"""``leafcube ingest --trust-folder-times``: a sub-folder whose status-change time is the
one the last trusting run recorded is not listed; anything that adds, removes or renames
a file in it is still seen, and a file rewritten in place is (as documented) not."""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import orjson
import pytest

from leafcube.catalogue import load
from leafcube.ingest import scan
from leafcube.ingest.demo import write_month
from leafcube.ingest.pipeline import ingest

LEAFCUBE = [sys.executable, "-m", "leafcube.cli.main"]
COLL = "leaf-s2-20m-monthly"


@pytest.fixture
def settled(monkeypatch) -> None:
    """Folder times count as settled at once (the real rule waits 2 s, which a test
    would have to sleep through)."""
    monkeypatch.setattr(scan, "SETTLED_NS", 0)


def _rewrite_in_place(path: Path, other: Path) -> None:
    """Overwrite ``path``'s bytes with ``other``'s (``cp other path``: same inode, same
    folder entry, a new modification time)."""
    data = other.read_bytes()
    with open(path, "r+b") as f:
        f.truncate(0)
        f.write(data)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def _records(cube: Path) -> dict[str, object]:
    """What the source states record of each file and sub-folder, less what only a
    trusting run records: folder times, and the folders with no file of their own."""
    out: dict[str, object] = {}
    for p in (cube / ".leafcube" / "sources").rglob("*.json"):
        doc = orjson.loads(p.read_bytes())
        if p.name == "index.json":
            dirs = {k: d for k, d in doc["dirs"].items() if d["lo"] is not None}
            doc = {k: {f: v for f, v in d.items() if f != "ctime"} for k, d in dirs.items()}
        out[p.name] = doc
    return out


def _dates(cube: Path) -> dict[str, dict]:
    """Each date's entry in the catalogue, every layer's tiles and files."""
    coll = load(cube).collections[COLL]
    return {key: entry.to_dict(list(coll.layers)) for key, entry in coll.dates.items()}


def test_a_trusting_rerun_skips_an_untouched_folder_and_writes_nothing(tmp_path, settled, snapshot):
    """The second trusting run does not look inside the folder (a size-changing rewrite
    in place goes unseen) and leaves every file of the cube as it was."""
    exports = tmp_path / "exports"
    write_month(exports, 2023, 6)
    cube = tmp_path / "cube"
    ingest([exports], cube, progress=False, trust_folder_times=True)
    first = ingest([exports], cube, progress=False, trust_folder_times=True)
    assert not first.written and first.unchanged == 12
    before = snapshot(cube)
    lai = exports / "tile42_2023" / "tile42_2023_Jun_LAI_20m.tif"
    _rewrite_in_place(lai, exports / "tile42_2023" / "tile42_2023_Jun_QC_20m.tif")
    trusted = ingest([exports], cube, progress=False, trust_folder_times=True)
    assert not trusted.written and not trusted.failures
    assert snapshot(cube) == before
    plain = ingest([exports], cube, progress=False)  # without the flag: every file stat'ed
    assert f"{COLL}/2023-06-01/tile42/LAI.tif" in plain.written


@pytest.mark.parametrize("recent", [False, True])
def test_a_folder_changed_too_recently_is_listed_again(tmp_path, monkeypatch, recent):
    """A folder time that may still be shared by a change to come is not recorded, so a
    rewrite in place right after the run is seen by the next trusting run."""
    monkeypatch.setattr(scan, "SETTLED_NS", 10**19 if recent else 0)
    exports = tmp_path / "exports"
    write_month(exports, 2023, 6)
    cube = tmp_path / "cube"
    ingest([exports], cube, progress=False, trust_folder_times=True)
    folder = exports / "tile42_2023"
    _rewrite_in_place(folder / "tile42_2023_Jun_LAI_20m.tif", folder / "tile42_2023_Jun_QC_20m.tif")
    again = ingest([exports], cube, progress=False, trust_folder_times=True)
    assert (f"{COLL}/2023-06-01/tile42/LAI.tif" in again.written) is recent


def _remove_june_lai(exports: Path) -> None:
    (exports / "tile42_2023" / "tile42_2023_Jun_LAI_20m.tif").unlink()


def _rename_july(exports: Path) -> None:
    folder = exports / "tile42_2023"
    for p in folder.glob("*_Jul_*"):
        p.rename(folder / p.name.replace("_Jul_", "_Aug_"))


def _new_sub_folder(exports: Path) -> None:
    write_month(exports / "later", 2024, 3)


def _deeper_change(exports: Path) -> None:
    """A month added two levels down, under a folder whose own entries stay the same."""
    write_month(exports / "later", 2024, 4)


def _bad_piece_elsewhere(exports: Path) -> None:
    """A broken file of June's LAI in another folder: the layer fails, and with it the
    record of the good file in the untouched ``tile42_2023/``."""
    folder = exports / "late" / "tile42_2023"
    folder.mkdir(parents=True)
    (folder / "tile42_2023_Jun_LAI_20m.tif").write_bytes(b"not a GeoTIFF")


def _bad_piece_gone(exports: Path) -> None:
    shutil.rmtree(exports / "late")


def _broken_link(exports: Path) -> None:
    """A symlinked folder whose target is not there yet (a share not mounted)."""
    (exports / "linked").symlink_to(exports.parent / "elsewhere")


def _link_target_appears(exports: Path) -> None:
    """The target appears: the folder holding the link keeps its own times."""
    write_month(exports.parent / "elsewhere", 2024, 5)


@pytest.mark.parametrize(
    "changes",
    [
        [lambda e: write_month(e, 2023, 7), _rename_july],
        [_remove_june_lai],
        [_new_sub_folder, _deeper_change],
        [_bad_piece_elsewhere, _bad_piece_gone],
        [_broken_link, _link_target_appears],
    ],
    ids=["add-then-rename", "remove", "sub-folders", "failed-with-another", "symlink"],
)
def test_trusting_runs_see_what_a_plain_run_sees(tmp_path, settled, changes):
    """Side by side from the same exports, a trusting and a plain cube end each step with
    the same catalogue and the same COGs written. The trusting cube starts from a plain
    run, as a cube does when its producer first gives the flag."""
    exports = tmp_path / "exports"
    write_month(exports, 2023, 6)
    plain, trusting = tmp_path / "plain", tmp_path / "trusting"
    ingest([exports], plain, progress=False)
    ingest([exports], trusting, progress=False)
    for change in changes:
        change(exports)
        a = ingest([exports], plain, progress=False)
        b = ingest([exports], trusting, progress=False, trust_folder_times=True)
        assert sorted(b.written) == sorted(a.written) and b.failures == a.failures
        assert _dates(trusting) == _dates(plain)
        assert _records(trusting) == _records(plain)
        assert not ingest([exports], trusting, progress=False, trust_folder_times=True).written


def test_a_file_that_failed_is_retried_by_trusting_runs(tmp_path, settled):
    """A file whose COG failed is not vouched for: the trusting runs keep trying it, and
    see it once it is mended in place."""
    exports = tmp_path / "exports"
    write_month(exports, 2023, 6)
    cube = tmp_path / "cube"
    ingest([exports], cube, progress=False, trust_folder_times=True)
    lai = exports / "tile42_2023" / "tile42_2023_Jun_LAI_20m.tif"
    good = tmp_path / "good.tif"
    shutil.copy2(lai, good)
    lai.unlink()
    lai.write_bytes(b"not a GeoTIFF")
    for _ in range(2):
        broken = ingest([exports], cube, progress=False, trust_folder_times=True)
        assert any("tile42_2023_Jun_LAI_20m.tif" in line for line in broken.failures)
    _rewrite_in_place(lai, good)
    mended = ingest([exports], cube, progress=False, trust_folder_times=True)
    assert not mended.failures and f"{COLL}/2023-06-01/tile42/LAI.tif" in mended.written


def test_the_flag_on_the_command_line(tmp_path, run_ingest):
    exports = tmp_path / "exports"
    write_month(exports, 2023, 6)
    cube = tmp_path / "cube"
    for summary in ("12 COG(s) written, 0 unchanged", "0 COG(s) written, 12 unchanged"):
        out = run_ingest(exports, "--cube", cube, "--trust-folder-times", "--quiet")
        assert out.returncode == 0 and summary in out.stderr, out.stderr
    index = next((cube / ".leafcube" / "sources").glob("*/index.json"))
    assert "ctime" in orjson.loads(index.read_bytes())["dirs"]["tile42_2023/"]


def test_a_folder_with_a_file_still_being_written_is_listed_again(tmp_path, settled):
    """A file modified no earlier than the settling time before the run (here: a time
    ahead of the clock, as a download still going would keep) may still be rewritten in
    place: its folder's time is not recorded, so the rewrite is seen."""
    exports = tmp_path / "exports"
    write_month(exports, 2023, 6)
    folder = exports / "tile42_2023"
    lai = folder / "tile42_2023_Jun_LAI_20m.tif"
    ahead = time.time_ns() + 600 * 10**9
    os.utime(lai, ns=(ahead, ahead))
    cube = tmp_path / "cube"
    ingest([exports], cube, progress=False, trust_folder_times=True)
    _rewrite_in_place(lai, folder / "tile42_2023_Jun_QC_20m.tif")
    again = ingest([exports], cube, progress=False, trust_folder_times=True)
    assert f"{COLL}/2023-06-01/tile42/LAI.tif" in again.written
