"""A lean HTTP load generator (asyncio streams; HTTP/1.1 keep-alive or h2c) and an RSS probe.

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
    host: str,
    port: int,
    paths: list[str],
    start: int,
    deadline: float | None,
    out,
    errs,
    extra: dict[str, str] | None = None,
):
    """One keep-alive connection: cycle through ``paths`` until ``deadline`` (None: once).

    A server that ends the connection (``connection: close``, or a cap on requests per
    connection as hypercorn has) gets a new one, as browsers and GDAL do.
    """
    reader, writer = await asyncio.open_connection(host, port)
    more = "".join(f"{k}: {v}\r\n" for k, v in (extra or {}).items())
    i = start
    try:
        while (i - start < len(paths)) if deadline is None else time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{more}\r\n".encode())
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                i -= 1
                continue
            status = int(head[9:12])
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
                elif name.lower() == b"connection" and value.strip().lower() == b"close":
                    close = True
            await reader.readexactly(length)
            if status in (200, 206):
                out.append(time.perf_counter() - t0)
            else:
                errs.append(status)
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def _h2_connect(host: str, port: int):
    """An h2c connection with prior knowledge: (reader, writer, h2 state)."""
    import h2.config
    import h2.connection

    reader, writer = await asyncio.open_connection(host, port)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    conn.increment_flow_control_window(1 << 30)
    writer.write(conn.data_to_send())
    return reader, writer, conn


async def _h2_get(reader, writer, conn, host: str, path: str, extra: dict[str, str]) -> int:
    """One GET on an h2 connection; its status, or 0 when the server ended the connection."""
    import h2.events
    import h2.exceptions

    headers = [(":method", "GET"), (":scheme", "http"), (":authority", host), (":path", path)]
    try:
        sid = conn.get_next_available_stream_id()
        conn.send_headers(sid, headers + list(extra.items()), end_stream=True)
    except h2.exceptions.ProtocolError:  # the server sent GOAWAY after the last response
        return 0
    writer.write(conn.data_to_send())
    status = 0
    while True:
        data = await reader.read(1 << 16)
        if not data:
            return 0
        for ev in conn.receive_data(data):
            if isinstance(ev, h2.events.ResponseReceived):
                status = int(dict(ev.headers)[b":status"])
            elif isinstance(ev, h2.events.DataReceived):
                conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                writer.write(conn.data_to_send())
                return status
            elif isinstance(ev, h2.events.ConnectionTerminated):
                return 0
        writer.write(conn.data_to_send())


async def _h2_client(
    host: str,
    port: int,
    paths: list[str],
    start: int,
    deadline: float,
    out,
    errs,
    extra: dict[str, str] | None = None,
):
    """One h2c connection, one request at a time, until ``deadline``; reconnects after a
    GOAWAY (hypercorn caps requests per connection)."""
    reader, writer, conn = await _h2_connect(host, port)
    i = start
    try:
        while time.perf_counter() < deadline:
            path = paths[i % len(paths)]
            t0 = time.perf_counter()
            status = await _h2_get(reader, writer, conn, host, path, extra or {})
            if status == 0:
                writer.close()
                reader, writer, conn = await _h2_connect(host, port)
                continue
            i += 1
            if status in (200, 206):
                out.append(time.perf_counter() - t0)
            else:
                errs.append(status)
    finally:
        writer.close()


async def _run(
    host: str,
    port: int,
    paths: list[str],
    clients: int,
    seconds: float,
    http2: bool,
    headers: dict[str, str] | None,
) -> Result:
    out: list[float] = []
    errs: list[int] = []
    deadline = time.perf_counter() + seconds
    step = max(1, len(paths) // clients)
    one = _h2_client if http2 else _client
    t0 = time.perf_counter()
    await asyncio.gather(
        *(one(host, port, paths, k * step, deadline, out, errs, headers) for k in range(clients))
    )
    return Result(clients, time.perf_counter() - t0, np.array(out), len(errs))


def load(
    host: str,
    port: int,
    paths: list[str],
    clients: int,
    seconds: float,
    http2: bool = False,
    headers: dict[str, str] | None = None,
) -> Result:
    """Keep ``clients`` connections busy with GETs cycling through ``paths`` for ``seconds``
    (HTTP/1.1 keep-alive, or h2c with prior knowledge when ``http2``); 200 and 206 count."""
    return asyncio.run(_run(host, port, paths, clients, seconds, http2, headers))


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
