"""Fixtures of the ingest tests: run the real ``leafcube ingest``, copy cubes, snapshot folders."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

LEAFCUBE = [sys.executable, "-m", "leafcube.cli.main"]

Snapshot = dict[str, tuple[str, int]]


def _snapshot(folder: Path) -> Snapshot:
    """Every file under ``folder``: relative path -> (sha256, mtime_ns)."""
    return {
        str(p.relative_to(folder)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def snapshot() -> Callable[[Path], Snapshot]:
    return _snapshot


@pytest.fixture
def run_ingest() -> Callable[..., subprocess.CompletedProcess]:
    """Run ``leafcube ingest ARGS`` as a real process; returns its result (text output)."""

    def run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*LEAFCUBE, "ingest", *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def cube_copy(demo_cube, tmp_path) -> Path:
    """A private copy of the demo cube (file times kept) that a test may change."""
    dst = tmp_path / "cube"
    shutil.copytree(demo_cube, dst, copy_function=shutil.copy2)
    return dst
