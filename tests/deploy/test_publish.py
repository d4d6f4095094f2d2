"""`leafcube publish`: complete, idempotent, catalogue last, deletions after, clear errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from xml.etree import ElementTree

import orjson
import pytest

from leafcube.catalogue import load, save
from leafcube.catalogue.folder import locked
from leafcube.deploy.layout import VIEW_FOLDERS as VIEWS
from leafcube.deploy.layout import cube_files, public_views
from leafcube.deploy.publish import plan
from leafcube.deploy.publish import publish as publish_folder
from tests.conftest import LEAFCUBE, opened

BASE = "https://data.example.org/leaf"
#: ``--delete`` waiting a short while before it removes files (the default is a minute).
DELETE_AFTER = 2.0
WAIT = ("--delete", "--delete-after", str(DELETE_AFTER))


#: rsync's remote shell for the tests: runs the remote rsync here instead of over ssh
FAKE_SSH = """#!/bin/sh
shift
exec "$@"
"""


@pytest.fixture(scope="session")
def fake_ssh(tmp_path_factory) -> str:
    """Real rsync, remote protocol and all, with ssh replaced by a local shell."""
    if not shutil.which("rsync"):
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "rsync"]
        subprocess.run(cmd, check=True, capture_output=True)
    script = tmp_path_factory.mktemp("ssh") / "ssh"
    script.write_text(FAKE_SSH)
    script.chmod(0o755)
    return str(script)


@pytest.fixture(params=["folder", "rsync"])
def publish(request, fake_ssh):
    """``leafcube publish`` into a local folder, or to ``localhost:/folder`` over rsync."""

    def run(cube: Path, dest: Path, *extra: str) -> subprocess.CompletedProcess:
        to = f"localhost:{dest}" if request.param == "rsync" else str(dest)
        cmd = [*LEAFCUBE, "publish", "--cube", str(cube), "--base-url", BASE, "--to", to]
        env = {**os.environ, "RSYNC_RSH": fake_ssh}
        return subprocess.run([*cmd, *extra], capture_output=True, text=True, check=False, env=env)

    run.over_rsync = request.param == "rsync"  # type: ignore[attr-defined]
    return run


def mtimes(folder: Path) -> dict[str, int]:
    return {h: (folder / h).stat().st_mtime_ns for h in cube_files(folder)}


@pytest.fixture
def older_cube(demo_cube, tmp_path) -> Path:
    """The demo cube as it was one month earlier: its last date is not there yet."""
    cube = tmp_path / "older"
    shutil.copytree(demo_cube, cube, ignore=shutil.ignore_patterns(".leafcube"))
    cat = load(cube)
    coll = next(iter(cat.collections.values()))
    last = max(coll.dates)
    del coll.dates[last]
    save(cat, cube)
    shutil.rmtree(cube / coll.name / last)
    return cube


def test_publish_is_complete_and_idempotent(publish, demo_cube, tmp_path):
    dest = tmp_path / "www"
    dry = publish(demo_cube, dest, "--dry-run")
    assert dry.returncode == 0 and "5. catalogue: 1 file(s)" in dry.stdout
    assert "4. catalogue parts: " in dry.stdout
    assert not dest.exists()

    first = publish(demo_cube, dest)
    assert first.returncode == 0, first.stderr
    for href in cube_files(demo_cube):
        if not href.startswith(("gomez/", "stac/")):
            assert (dest / href).read_bytes() == (demo_cube / href).read_bytes(), href
    assert not list(dest.rglob(".*"))  # no private state, no temporary files

    coll = next(iter(load(demo_cube).collections))
    view = orjson.loads((dest / "gomez" / f"{coll}.json").read_bytes())
    urls = [u for date_urls in view.values() for u in date_urls]
    assert urls and all(u.startswith(f"{BASE}/{coll}/") for u in urls)
    assert all((dest / u.removeprefix(BASE + "/")).is_file() for u in urls)
    # the static STAC is rewritten for the public URL: a part's stand-alone items.json resolves
    items = orjson.loads((dest / "stac" / coll / "2023" / "items.json").read_bytes())
    hrefs = [a["href"] for f in items["features"] for a in f["assets"].values()]
    assert hrefs and all(h.startswith(f"{BASE}/{coll}/") for h in hrefs)
    assert all((dest / h.removeprefix(BASE + "/")).is_file() for h in hrefs)
    self_links = [lk["href"] for lk in items["links"] if lk["rel"] == "self"]
    assert self_links == [f"{BASE}/stac/{coll}/2023/items.json"]
    assert sorted(p.relative_to(dest).as_posix() for p in (dest / "stac").rglob("*.json")) == (
        sorted(h for h in cube_files(demo_cube) if h.startswith("stac/"))
    )

    before = mtimes(dest)
    again = publish(demo_cube, dest)
    assert again.returncode == 0 and "is up to date" in again.stdout
    assert mtimes(dest) == before


def consistent(dest: Path) -> list[str]:
    """What the published catalogue (and its views) points at that is not there."""
    try:
        cat = load(dest)
    except ValueError:
        return []  # no catalogue yet
    missing = []
    for coll in cat.collections.values():
        for entry in coll.dates.values():
            for files in entry.layers.values():
                hrefs = [files.mosaic, *(t.href for t in files.tiles.values())]
                missing += [h for h in hrefs if not (dest / h).is_file()]
                vrt = dest / files.mosaic
                if vrt.is_file():
                    for src in ElementTree.parse(vrt).iter("SourceFilename"):
                        if not (vrt.parent / src.text).is_file():
                            missing.append(f"{files.mosaic} -> {src.text}")
    return missing


def test_parts_land_after_every_file_their_dates_name(older_cube, demo_cube, tmp_path):
    """A reader holding the previous root fetches a part by its path: the new part must not
    land before the mosaics and COGs of the dates it adds (the race of the test below)."""
    dest = tmp_path / "www"
    publish_folder(older_cube, dest, BASE)
    copies = plan(demo_cube, dest).copies
    parts = [i for i, h in enumerate(copies) if h.startswith("catalogue/")]
    named = [i for i, h in enumerate(copies) if h.endswith((".vrt", ".tif"))]
    assert parts and named and max(named) < min(parts)
    assert copies[-1] == "catalogue.json"
    # a root rewritten within the same second at the same size is copied all the same
    publish_folder(demo_cube, dest, BASE)
    root, ours = dest / "catalogue.json", demo_cube / "catalogue.json"
    data = ours.read_bytes()
    at = data.index(b'"updated": "') + len(b'"updated": "')  # another year, the same length
    root.write_bytes(data[:at] + (b"1" if data[at : at + 1] != b"1" else b"2") + data[at + 1 :])
    os.utime(root, ns=(ours.stat().st_atime_ns, ours.stat().st_mtime_ns))
    assert plan(demo_cube, dest).copies == ["catalogue.json"]


def test_readers_never_see_a_catalogue_pointing_at_missing_files(
    publish, older_cube, demo_cube, tmp_path
):
    dest = tmp_path / "www"
    assert publish(older_cube, dest).returncode == 0
    problems: list[str] = []
    checks = [0]
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            problems.extend(consistent(dest))
            checks[0] += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        result = publish(demo_cube, dest)
    finally:
        done.set()
        thread.join()
    assert result.returncode == 0, result.stderr
    assert "did copy" in result.stdout
    assert checks[0] >= 1 and problems == []  # (how many checks fit depends on the machine)
    assert load(dest).to_dict()["collections"] == load(demo_cube).to_dict()["collections"]


def view_bytes(folder: Path) -> dict[str, bytes]:
    return {h: (folder / h).read_bytes() for h in cube_files(folder) if h.startswith(VIEWS)}


def test_a_new_date_renders_only_its_parts_views(publish, older_cube, demo_cube, tmp_path):
    """Publishing over the month before renders the views of the new date's part and the
    collection-wide files only, and the result is what a publish into an empty folder
    writes; a view removed by hand, or another base URL, has every view written again."""
    dest, fresh = tmp_path / "www", tmp_path / "fresh"
    assert publish(older_cube, dest).returncode == 0
    cat = load(demo_cube)
    coll = next(iter(cat.collections.values()))
    last = max(coll.dates)
    year = last[:4]
    assert publish(demo_cube, dest).returncode == 0
    assert publish(demo_cube, fresh).returncode == 0
    assert view_bytes(dest) == view_bytes(fresh)  # the truth: every view rendered anew

    assert publish(older_cube, dest).returncode == 0
    # rendering reads the parts that changed since the catalogue the destination holds
    trace = tmp_path / "trace.txt"
    cmd = [*LEAFCUBE, "publish", "--cube", str(demo_cube), "--base-url", BASE, "--to", str(dest)]
    done = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=openat", "-o", str(trace), *cmd, "--dry-run"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    parts = {p for p in opened(trace) if p.startswith(f"{demo_cube}/catalogue/{coll.name}/")}
    parts = {p for p in parts if p.endswith(".json")}
    assert parts == {f"{demo_cube}/catalogue/{coll.name}/{year}.json"}, parts
    views = [h for h, _ in public_views(demo_cube, dest, BASE)]  # (rsync: against its staging)
    collection_wide = {
        "stac/catalog.json",
        f"stac/{coll.name}/collection.json",
        f"gomez/{coll.name}.json",
        f"gomez/{coll.name}/index.json",
    }
    assert collection_wide - {"stac/catalog.json"} <= set(views) and len(views) < 20
    assert all(h in collection_wide or f"/{year}" in h or f"/{last}_" in h for h in views), sorted(
        views
    )
    out = publish(demo_cube, dest)
    assert out.returncode == 0, out.stderr
    # (over rsync, the views the older cube's own staging copy sent differ in time from
    # this cube's, so rsync sends those again: more than rendered, never fewer)
    if not publish.over_rsync:
        assert f"write {len(views)} view(s)" in out.stdout, out.stdout
    assert view_bytes(dest) == view_bytes(fresh)
    assert "is up to date" in publish(demo_cube, dest).stdout

    (dest / f"gomez/{coll.name}/index.json").unlink()
    again = publish(demo_cube, dest)
    every = len(view_bytes(fresh))
    assert again.returncode == 0 and f"write {every} view(s)" not in again.stdout
    assert view_bytes(dest) == view_bytes(fresh)  # restored: each file compared, all rendered
    other = publish(demo_cube, dest, "--base-url", "https://mirror.example.org/leaf")
    assert other.returncode == 0 and f"write {every} view(s)" in other.stdout, other.stdout


def test_delete_removes_what_left_the_cube_after_the_catalogue(
    publish, older_cube, demo_cube, tmp_path
):
    dest = tmp_path / "www"
    assert publish(demo_cube, dest).returncode == 0
    (dest / ".htaccess").write_text("Options -Indexes\n")
    coll = next(iter(load(demo_cube).collections.values()))
    last = max(coll.dates)

    kept = publish(older_cube, dest)
    assert kept.returncode == 0 and (dest / coll.name / last).is_dir()
    # the removal waits --delete-after seconds once the new catalogue is in place: a reader
    # holding the old catalogue (cached for its max-age) still finds every file it names
    result: list[subprocess.CompletedProcess] = []
    run = threading.Thread(target=lambda: result.append(publish(older_cube, dest, *WAIT)))
    run.start()
    try:
        deadline = time.monotonic() + 60
        while load(dest).collections[coll.name].dates.keys() != {*coll.dates} - {last}:
            assert time.monotonic() < deadline and run.is_alive(), "no new catalogue"
        seen = time.monotonic()  # the new catalogue is there (polled: no sleep)
        assert (dest / coll.name / last).is_dir(), "removed before readers' caches expired"
    finally:
        run.join()
    assert time.monotonic() - seen > DELETE_AFTER / 2
    gone = result[0]
    assert gone.returncode == 0 and "remove" in gone.stdout, gone.stderr
    assert "once readers' cached catalogues have expired" in gone.stderr
    assert not (dest / coll.name / last).exists()
    assert (dest / ".htaccess").is_file()  # the web server's own hidden files stay
    assert consistent(dest) == []
    assert "is up to date" in publish(older_cube, dest, *WAIT).stdout


def test_clear_errors(demo_cube, tmp_path):
    cases = {
        ("--base-url", "ftp://x"): "must be an http(s) URL",
        ("--cube", str(tmp_path / "nothing")): "no catalogue.json",
        ("--to", str(demo_cube / "www")): "must be outside the cube folder",
    }
    for (flag, value), message in cases.items():
        args = {"--cube": str(demo_cube), "--base-url": BASE, "--to": str(tmp_path / "www")}
        args[flag] = value
        cmd = [*LEAFCUBE, "publish", *(x for kv in args.items() for x in kv)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
    assert not (demo_cube / "www").exists()


@pytest.mark.parametrize("to", ["www", "localhost:{tmp}/www"])
def test_publish_waits_for_no_ingest(older_cube, tmp_path, to):
    cmd = [*LEAFCUBE, "publish", "--cube", str(older_cube), "--base-url", BASE]
    with locked(older_cube):
        out = subprocess.run(
            [*cmd, "--to", str(tmp_path / to) if to == "www" else to.format(tmp=tmp_path)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
    assert out.returncode == 2 and "ingest" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "www").exists()
