"""Multi-range answers are streamed: ``bytes=0-0,2-`` of a 256 MB file costs the worker a
chunk of memory, not the file, and the bytes are right; and no answer leaves its file open."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LEAFCUBE, free_port, start_process, stop_process
from tests.hardening.conftest import process_tree

#: Its bounds on time or memory hold on a quiet machine: run apart from other tests.
pytestmark = pytest.mark.serial

SIZE = 256 * 2**20


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children (the workers), from /proc."""
    total = 0
    pids = [pid, *map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def test_multirange_of_a_big_file_is_streamed(demo_cube, tmp_path):
    cube = tmp_path / "cube"
    shutil.copytree(demo_cube, cube)
    big = cube / "big.bin"
    with open(big, "wb") as fh:  # real bytes, so the page cache holds what is read
        block = bytes(range(256)) * 4096
        for _ in range(SIZE // len(block)):
            fh.write(block)
    port = free_port()
    args = [*LEAFCUBE, "serve", str(cube), "--host", "127.0.0.1", "--port", str(port)]
    proc = start_process(args, f"http://127.0.0.1:{port}/catalogue.json")
    try:
        before = rss_mb(proc.pid)
        got, peak = 0, before
        headers = {"range": "bytes=0-0,2-"}
        with (
            httpx.Client(timeout=120) as client,
            client.stream("GET", f"http://127.0.0.1:{port}/big.bin", headers=headers) as r,
        ):
            assert r.status_code == 206
            assert r.headers["content-type"].startswith("multipart/byteranges; boundary=")
            length = int(r.headers["content-length"])
            tail = b""
            for chunk in r.iter_bytes():
                got += len(chunk)
                tail = (tail + chunk)[-64:]
                if got % (32 * 2**20) < len(chunk):
                    peak = max(peak, rss_mb(proc.pid))
        assert got == length and length > SIZE - 1
        assert tail.endswith(b"--\r\n")
        assert peak - before < 150, (before, peak)  # the file is 256 MB
    finally:
        stop_process(proc)


def open_files(pids: list[int], files: set[Path]) -> list[str]:
    """Which of ``files`` the processes ``pids`` hold open, from /proc."""
    held = []
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue  # closed meanwhile
            if Path(target) in files:
                held.append(target)
    return held


def test_no_file_stays_open(demo_cube, tmp_path):
    """Every answer closes its file, whole or streamed, finished or abandoned mid-way (the
    reader's own open COGs are not the mirror's)."""
    cube = tmp_path / "cube"
    shutil.copytree(demo_cube, cube)
    (cube / "big.bin").write_bytes(bytes(range(256)) * (32 * 4096))  # 32 MB: streamed
    port = free_port()
    args = [*LEAFCUBE, "serve", str(cube), "--host", "127.0.0.1", "--port", str(port)]
    proc = start_process(args, f"http://127.0.0.1:{port}/catalogue.json")
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            etag = client.head("/catalogue.json").headers["etag"]
            for headers, status in [
                ({}, 200),
                ({"range": "bytes=0-99"}, 206),
                ({"range": "bytes=0-0,5-9"}, 206),
                ({"range": "bytes=999999999-"}, 416),
                ({"if-none-match": etag}, 304),
            ]:
                assert client.get("/catalogue.json", headers=headers).status_code == status
            assert client.get("/big.bin").content == (cube / "big.bin").read_bytes()
        for headers in ({}, {"range": "bytes=0-0,2-"}):  # streamed, then dropped
            with (
                httpx.Client(base_url=url, timeout=60) as client,
                client.stream("GET", "/big.bin", headers=headers) as r,
            ):
                next(r.iter_raw(65536))
        deadline = time.monotonic() + 30
        asked = {(cube / name).resolve() for name in ("catalogue.json", "big.bin")}
        while held := open_files(process_tree(proc.pid), asked):
            assert time.monotonic() < deadline, held
            time.sleep(0.1)  # polling a condition, with a deadline
    finally:
        stop_process(proc)
