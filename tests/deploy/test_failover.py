"""Failover and lifecycle of `leafcube deploy nginx --run`: a worker killed under load loses
no request that a client retries, the supervisor restarts it, and Ctrl-C stops every process
it started."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import stop_process
from tests.deploy.conftest import start_stack

#: Answers the clients must have had before the worker is killed, and again after.
WARM = 12
CLIENTS = 4


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a killed process its parent has not reaped yet (a zombie) has
    already stopped, so it counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def all_gone(pids: list[int], timeout: float) -> bool:
    """Poll until none of ``pids`` runs; the kernel gives no event to wait on for a process
    that is not our child."""
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def pids(out: Path) -> dict[str, int]:
    """nginx's master and each worker's pid, from the files the stack writes."""
    found = {"nginx": int((out / "nginx.pid").read_text())}
    for f in sorted((out / "run").glob("worker-*.pid")):
        found[f.stem] = int(f.read_text())
    return found


class Load:
    """Clients over HTTP/2 cycling through paths until stopped; a response cut mid-body (the
    one case nginx cannot retry) is recorded in ``cut`` and asked again once, as any HTTP
    client retrying a GET would."""

    def __init__(self, url: str, cert: Path, paths: list[str]) -> None:
        self.url, self.cert, self.paths = url, cert, paths
        self.results: list[int] = []
        self.cut: list[str] = []
        self.stop = threading.Event()
        self._answered = threading.Condition()

    def client(self, k: int) -> None:
        ctx = ssl.create_default_context(cafile=str(self.cert))
        with httpx.Client(http2=True, verify=ctx, timeout=30) as client:
            i = k
            while not self.stop.is_set():
                path = self.paths[i % len(self.paths)]
                try:
                    status = client.get(self.url + path).status_code
                except httpx.HTTPError:
                    self.cut.append(path)
                    try:
                        status = client.get(self.url + path).status_code
                    except httpx.HTTPError:
                        status = 0
                with self._answered:
                    self.results.append(status)
                    self._answered.notify_all()
                i += 1

    def wait_for(self, count: int, timeout: float) -> bool:
        """Block until ``count`` answers have come back (False on timeout)."""
        with self._answered:
            return self._answered.wait_for(lambda: len(self.results) >= count, timeout)


@pytest.mark.slow
def test_killing_a_worker_under_load_loses_no_request(demo_cube, tmp_path):
    site = start_stack(demo_cube, tmp_path / "stack")
    try:
        c = site.collection
        paths = [
            f"/api/collections/{c}",
            f"/api/collections/{c}/timeseries?layers=LAI&lon=-107.42&lat=53.80",
            f"/api/collections/{c}/subset?layers=LAI&bbox=-107.45,53.78,-107.38,53.84&format=npy",
        ]
        before = pids(site.out)
        victim = next(k for k in before if k.startswith("worker-"))
        load = Load(site.url, site.cert, paths)
        clients = [threading.Thread(target=load.client, args=(k,)) for k in range(CLIENTS)]
        for t in clients:
            t.start()
        try:
            assert load.wait_for(WARM, 60), "the stack answered too few requests"
            done_before_kill = len(load.results)
            os.killpg(before[victim], signal.SIGKILL)
            assert load.wait_for(done_before_kill + WARM, 60), "no answers after the kill"
        finally:
            load.stop.set()
            for t in clients:
                t.join()
        results, cut = load.results, load.cut

        assert done_before_kill > 0 and len(results) > done_before_kill + 4
        assert results.count(200) == len(results), f"lost: {[r for r in results if r != 200]}"
        # nginx retries every request whose answer had not started; only an answer the dying
        # worker was already sending can be cut (at most one per client), and never passes
        # for a complete one: the stream is reset and the client sees an error
        assert len(cut) <= CLIENTS, cut
        assert all_gone([before[victim]], 10), "the killed worker still runs"
        # nginx saw the dead worker and sent those requests to the other one
        log = (site.out / "deploy.log").read_text()
        assert re.search(
            r"\[error\].* while (connecting to|reading response header from) upstream", log
        )

        # the supervisor starts a new worker on the same port
        deadline = time.monotonic() + 20
        while pids(site.out)[victim] == before[victim] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pids(site.out)[victim] != before[victim]

        # Ctrl-C stops nginx and every worker, and the command exits cleanly
        running = pids(site.out)
        os.kill(site.proc.pid, signal.SIGINT)
        assert site.proc.wait(timeout=30) == 0
        all_gone(list(running.values()), 10)
        assert not [k for k, p in running.items() if alive(p)]
        assert not list((site.out / "run").glob("*.pid"))
    finally:
        stop_process(site.proc)


def test_killing_the_supervisor_stops_everything(demo_cube, tmp_path):
    site = start_stack(demo_cube, tmp_path / "stack")
    try:
        running = pids(site.out)
        os.kill(site.proc.pid, signal.SIGKILL)  # no chance to clean up: the kernel tells them
        site.proc.wait()
        all_gone(list(running.values()), 15)
        assert not [k for k, p in running.items() if alive(p)]
    finally:
        for pid in pids(site.out).values() if (site.out / "nginx.pid").exists() else ():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def nginx_workers(master: int) -> list[int]:
    """nginx's worker processes: the other members of the master's process group."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != master:
            with contextlib.suppress(OSError, ValueError, IndexError):
                if os.getpgid(int(entry.name)) == master:
                    found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_killing_the_nginx_master_restarts_it(demo_cube, tmp_path):
    """kill -9 of nginx's master orphans its workers, which hold the port: the supervisor
    stops them and starts nginx again, and the site answers."""
    site = start_stack(demo_cube, tmp_path / "stack")
    try:
        # the site answers before the supervisor has seen nginx up: wait for it to say so
        log, deadline = site.out / "deploy.log", time.monotonic() + 30
        while "Ctrl-C stops" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)  # polling a log: no event tells when a line is written
        assert "Ctrl-C stops" in log.read_text()
        master = pids(site.out)["nginx"]
        orphans = nginx_workers(master)
        assert orphans
        os.kill(master, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                if pids(site.out)["nginx"] != master and answers(site):
                    break
            time.sleep(0.2)  # polling the supervisor's progress: no event to wait on
        assert pids(site.out)["nginx"] != master and answers(site)
        assert all_gone(orphans, 10), "the old master's workers still run"
        assert site.proc.poll() is None  # the stack kept running
        assert "restarting nginx" in (site.out / "deploy.log").read_text()
    finally:
        stop_process(site.proc)


def answers(site) -> bool:
    ctx = ssl.create_default_context(cafile=str(site.cert))
    try:
        return httpx.get(f"{site.url}/catalogue.json", verify=ctx, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
