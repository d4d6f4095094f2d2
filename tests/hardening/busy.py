"""Helpers for the fairness and cancellation tests: a many-date cube, requests that
keep a worker's read lanes busy, and the worker's read counts (``GET /api/reads``)."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

from bench.timeseries import many_date_cube
from leafcube.catalogue import load

#: The demo's two tiles meet here: a date's pixel reads both COGs.
POINT = (-107.42, 53.80)
#: Seconds any wait on the server's counts may take before the test fails.
PATIENCE = 30.0


class BusyCube:
    """A many-date copy of the demo cube: its folder, collection, dates and layers."""

    def __init__(self, folder: Path, name: str) -> None:
        self.folder, self.name = folder, name
        coll = load(folder).collections[name]
        self.dates = [e.key for e in coll.sorted_dates()]
        self.layers = list(coll.layers)

    def series_path(self) -> str:
        return f"/api/collections/{self.name}/timeseries"

    def series_params(
        self, point: tuple[float, float], dates: int, layers: list[str] | None = None
    ) -> dict[str, str]:
        """A point's time series over the last ``dates`` dates of ``layers`` (all)."""
        return {
            "layers": ",".join(layers or self.layers),
            "lon": f"{point[0]:.5f}",
            "lat": f"{point[1]:.5f}",
            "start": self.dates[-dates],
            "end": self.dates[-1],
        }


def busy_cube(demo_cube: Path, folder: Path, dates: int) -> BusyCube:
    """The demo cube over ``dates`` daily dates, each a hard-linked month."""
    return BusyCube(folder, many_date_cube(demo_cube, folder, dates))


def fresh_points() -> Iterator[tuple[float, float]]:
    """Points well inside the demo's tiles, 0.002 degrees apart (distinct pixels, so each
    request's reads are cold: not in the reader's small-window cache)."""
    for i in itertools.count():
        yield (-107.47 + 0.002 * (i % 50), 53.78 + 0.002 * (i // 50 % 30))


def counts(url: str) -> dict[str, int]:
    """The worker's read counts."""
    return httpx.get(f"{url}/api/reads", timeout=10).raise_for_status().json()


def wait_for(url: str, ready: Callable[[dict[str, int]], bool]) -> dict[str, int]:
    """Ask for the worker's read counts until ``ready`` holds for them (and return
    them); fails after :data:`PATIENCE` seconds."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        now = counts(url)
        if ready(now):
            return now
    raise AssertionError(f"the read counts never got there: {counts(url)}")


def open_request(url: str, path: str, params: dict[str, str]) -> socket.socket:
    """Send an HTTP/1.1 GET and leave its answer unread: closing the socket is the
    client going away."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.sendall(
        f"GET {path}?{urlencode(params)} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    )
    return sock
