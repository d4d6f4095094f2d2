"""A lean HTTP/1.1 load generator (asyncio streams, keep-alive) and a process-tree RSS probe.

Shared by ``bench/tiles.py`` and ``bench/servers.py``. It costs a few tens of
microseconds of CPU a request (httpx costs ~0.7 ms), so on a pinned core it measures
the server, not itself.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Result:
    """Requests completed in ``seconds`` by ``clients`` connections, and their latencies."""

    clients: int
    seconds: float
    latencies: np.ndarray
    errors: int

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def pct(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        return float(np.percentile(self.latencies, q) * 1e3) if len(self.latencies) else 0.0

    def row(self) -> dict[str, float]:
        return {
            "clients": self.clients,
            "req_per_s": round(self.rate, 1),
            "p50_ms": round(self.pct(50), 2),
            "p99_ms": round(self.pct(99), 2),
            "errors": self.errors,
        }


async def _client(
    host: str, port: int, paths: list[str], start: int, deadline: float | None, out, errs
):
    """One keep-alive connection: cycle through ``paths`` until ``deadline`` (None: once)."""
    reader, writer = await asyncio.open_connection(host, port)
    i = start
    try:
        while (i - start < len(paths)) if deadline is None else time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if status == 200:
                out.append(time.perf_counter() - t0)
            else:
                errs.append(status)
    finally:
        writer.close()


async def _run(host: str, port: int, paths: list[str], clients: int, seconds: float) -> Result:
    out: list[float] = []
    errs: list[int] = []
    deadline = time.perf_counter() + seconds
    step = max(1, len(paths) // clients)
    t0 = time.perf_counter()
    await asyncio.gather(
        *(_client(host, port, paths, k * step, deadline, out, errs) for k in range(clients))
    )
    return Result(clients, time.perf_counter() - t0, np.array(out), len(errs))


def load(host: str, port: int, paths: list[str], clients: int, seconds: float) -> Result:
    """Keep ``clients`` connections busy with GETs cycling through ``paths`` for ``seconds``."""
    return asyncio.run(_run(host, port, paths, clients, seconds))


def once(host: str, port: int, paths: list[str]) -> Result:
    """GET every path once, in order, on one connection (to warm a server)."""

    async def run() -> Result:
        out: list[float] = []
        errs: list[int] = []
        t0 = time.perf_counter()
        await _client(host, port, paths, 0, None, out, errs)
        return Result(1, time.perf_counter() - t0, np.array(out), len(errs))

    return asyncio.run(run())


def pin(core: int) -> None:
    """Pin this process to one CPU core (the server gets another)."""
    os.sched_setaffinity(0, {core})


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def start(args: list[str], ready: str, core: int, env: dict | None = None) -> subprocess.Popen:
    """Start a server pinned to ``core`` and wait until ``ready`` answers 200."""
    proc = subprocess.Popen(
        ["taskset", "-c", str(core), *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{args[:3]} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(ready, timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    stop(proc)
    sys.exit(f"{args[:3]} did not answer {ready}")


def stop(proc: subprocess.Popen) -> None:
    """Stop a server started by :func:`start` (its whole process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
