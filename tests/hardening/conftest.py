"""Hardening fixtures: servers and nginx over cubes with traps, bounded in memory and time."""

from __future__ import annotations

import os
import resource
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import LEAFCUBE, free_port, start_process, stop_process
from tests.server.conftest import SECRET, copy_cube

#: Address space of a `leafcube serve` under attack: a regression fails fast with a
#: MemoryError (a 500) instead of taking the machine down with it.
ADDRESS_SPACE = 4 << 30


@dataclass
class Worker:
    """A running ``leafcube serve`` we started: its URL, process and cube."""

    url: str
    proc: subprocess.Popen
    cube: Path

    def peak_rss_mb(self) -> float:
        """The largest peak resident set (VmHWM) of the server's processes, in MB."""
        return max(_status_kb(pid, "VmHWM") for pid in process_tree(self.proc.pid)) / 1024


def _status_kb(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/PID/status (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (the server's worker processes), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree += frontier
    return tree


def _cap_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def start_worker(cube: Path) -> Worker:
    """``leafcube serve cube`` on 127.0.0.1 with its address space capped."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [*LEAFCUBE, "serve", str(cube), "--host", "127.0.0.1", "--port", str(port)]
    proc = start_process(args, f"{url}/catalogue.json", preexec_fn=_cap_address_space)
    return Worker(url, proc, cube)


@pytest.fixture(scope="module")
def worker(demo_cube) -> Iterator[Worker]:
    """A bounded ``leafcube serve`` of the (read-only) demo cube."""
    w = start_worker(demo_cube)
    yield w
    stop_process(w.proc)


@pytest.fixture(scope="module")
def trap_cube(demo_cube, tmp_path_factory) -> Path:
    """A copy of the demo cube with every symlink trap: out of the cube (a file, a folder,
    /etc), into its private ``.leafcube/`` (a file and the folder), and one within it."""
    cube = copy_cube(demo_cube, tmp_path_factory.mktemp("traps"))
    private = cube / ".leafcube"
    private.mkdir(exist_ok=True)
    (private / "token.txt").write_bytes(SECRET)
    (cube / "etc").symlink_to("/etc")
    (cube / "state.txt").symlink_to(private / "token.txt")
    (cube / "state").symlink_to(".leafcube")
    return cube


#: URL paths of trap_cube that lead out of the cube or into .leafcube/.
TRAPS = ("/leak.txt", "/leakdir/secret.txt", "/etc/hostname", "/etc/passwd", "/etc/shadow",
         "/state.txt", "/state/token.txt", "/state/ledger.json")  # fmt: skip
