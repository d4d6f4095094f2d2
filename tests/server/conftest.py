"""Server-area fixtures: a writable copy of the demo cube with traps, and servers over it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from leafcube.catalogue import load
from tests.conftest import LEAFCUBE, free_port, start_process, stop_process

SECRET = b"outside the cube\n"


@dataclass
class Served:
    """A running ``leafcube serve``: its base URL, the folder it serves and its pid."""

    url: str
    cube: Path
    pid: int | None = None

    @property
    def collection(self) -> str:
        return next(iter(load(self.cube).collections))


def copy_cube(src: Path, dst: Path) -> Path:
    """A copy of ``src`` plus a file outside it, a symlink out and a symlink within."""
    cube = dst / "cube"
    shutil.copytree(src, cube, symlinks=True)
    (dst / "outside").mkdir()
    (dst / "outside" / "secret.txt").write_bytes(SECRET)
    (cube / "leak.txt").symlink_to(dst / "outside" / "secret.txt")
    (cube / "leakdir").symlink_to(dst / "outside")
    (cube / "alias.json").symlink_to("catalogue.json")
    (cube / ".hidden.json").write_text("{}")
    return cube


@pytest.fixture(scope="session")
def start_server() -> Iterator[Callable[..., Served]]:
    """Start ``leafcube serve`` processes; every one is stopped at the end of the session."""
    procs = []

    def start(cube: Path, *extra: str, scheme: str = "http") -> Served:
        port = free_port()
        args = [*LEAFCUBE, "serve", str(cube), "--host", "127.0.0.1", "--port", str(port)]
        url = f"{scheme}://127.0.0.1:{port}"
        procs.append(start_process([*args, *extra], f"{url}/catalogue.json"))
        return Served(url, cube, procs[-1].pid)

    yield start
    for proc in procs:
        stop_process(proc)


@pytest.fixture(scope="session")
def served(demo_cube, tmp_path_factory, start_server) -> Served:
    """A server over a copy of the demo cube (so traps can be added next to it)."""
    cube = copy_cube(demo_cube, tmp_path_factory.mktemp("served"))
    return start_server(cube)


@pytest.fixture(scope="session")
def h2(served) -> Iterator[httpx.Client]:
    """An HTTP/2 client with prior knowledge (h2c) for the served cube."""
    with httpx.Client(base_url=served.url, http1=False, http2=True, timeout=60) as client:
        yield client
