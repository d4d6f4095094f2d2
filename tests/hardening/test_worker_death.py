"""One dead worker never stops ``leafcube serve``: the others answer meanwhile and a new
worker takes its place (granian's supervisor respawns it)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LEAFCUBE, free_port, start_process, stop_process


def workers_of(pid: int) -> set[int]:
    """The worker processes of the server ``pid`` (its children, from /proc)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return {int(c) for c in children}


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_worker_is_replaced(demo_cube, workers):
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/collections"
    args = [*LEAFCUBE, "serve", str(demo_cube), "--host", "127.0.0.1", "--port", str(port)]
    proc = start_process([*args, "--workers", str(workers)], url)
    try:
        deadline = time.monotonic() + 30
        while len(workers_of(proc.pid)) < workers and time.monotonic() < deadline:
            time.sleep(0.1)  # polling /proc: no event tells when a worker has started
        before = workers_of(proc.pid)
        assert len(before) == workers
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        served, deadline = [], time.monotonic() + 30
        while time.monotonic() < deadline:
            served.append(answers(url))
            now = workers_of(proc.pid)
            if victim not in now and len(now) == workers and served[-1]:
                break
            time.sleep(0.1)  # polling the supervisor's progress
        after = workers_of(proc.pid)
        assert victim not in after and len(after) == workers, (before, after)
        assert answers(url) and proc.poll() is None  # the service never stopped
        if workers > 1:  # the other worker answered while the dead one was replaced
            assert all(served), served
    finally:
        stop_process(proc)
