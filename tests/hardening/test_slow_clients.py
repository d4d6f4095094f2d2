"""Clients that are slow on purpose: bodies that trickle in, and bodies too large. Each
attack runs against a real ``leafcube serve`` with its address space capped, while a
probe client checks the service still answers."""

from __future__ import annotations

import resource
import selectors
import socket
import time

import httpx
import pytest

from leafcube.catalogue import load
from leafcube.server.transport import BODY_TIMEOUT, MAX_BODY
from tests.conftest import stop_process
from tests.hardening.conftest import start_worker

#: Its bounds on time or memory hold on a quiet machine: run apart from other tests.
pytestmark = pytest.mark.serial

#: A probe request must be answered within this while an attack runs.
PROBE_S = 3.0


@pytest.fixture(scope="module")
def slow_target(demo_cube):
    """A bounded ``leafcube serve`` of the demo cube."""
    w = start_worker(demo_cube)
    yield w
    stop_process(w.proc)


#: A point inside the demo cube.
POINT = {"type": "Point", "coordinates": [-107.4, 53.8]}


def probe(url: str, collection: str) -> float:
    """Seconds a real client takes for a file range and a small POST time series."""
    t = time.monotonic()
    with httpx.Client(base_url=url, timeout=30) as c:
        assert c.get("/catalogue.json", headers={"range": "bytes=0-99"}).status_code == 206
        r = c.post(f"/api/collections/{collection}/timeseries?layers=LAI", json=POINT)
        assert r.status_code == 200, r.text
    return time.monotonic() - t


def _raise_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 16_384)), hard))


@pytest.mark.slow
def test_trickling_bodies_are_dropped_and_do_not_starve(slow_target):
    """3,000 POSTs whose body never comes: real clients are served meanwhile, and every
    one of them gets a 408 once the body timeout has passed."""
    _raise_open_files()
    coll = next(iter(load(slow_target.cube).collections))
    host, port = slow_target.url.removeprefix("http://").split(":")
    head = (
        f"POST /api/collections/{coll}/timeseries HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/json\r\nContent-Length: 900\r\n\r\n{"
    ).encode()
    probe(slow_target.url, coll)  # warm: the probe's COGs are open before the attack
    attackers = []
    try:
        start = time.monotonic()
        for _ in range(3000):
            s = socket.create_connection((host, int(port)))
            s.sendall(head)
            attackers.append(s)
        opened = time.monotonic() - start
        waits = [probe(slow_target.url, coll) for _ in range(10)]
        assert max(waits) < PROBE_S, waits
        # each attacker is answered 408 within the body timeout (plus the time to open them)
        sel = selectors.DefaultSelector()
        for s in attackers:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        answers: dict[socket.socket, bytes] = {}
        deadline = time.monotonic() + BODY_TIMEOUT + opened + 10
        while len(answers) < len(attackers) and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                answers[sock] = sock.recv(4096)
                sel.unregister(sock)
        statuses = {a.split(b"\r\n", 1)[0] for a in answers.values()}
        assert len(answers) == len(attackers) and statuses == {b"HTTP/1.1 408 Request Timeout"}
        assert max(probe(slow_target.url, coll) for _ in range(3)) < PROBE_S
    finally:
        for s in attackers:
            s.close()


def test_bodies_over_the_limit_are_refused(slow_target):
    """A body over MAX_BODY is refused with 413: announced, or sent in chunks."""
    coll = next(iter(load(slow_target.cube).collections))
    url = f"{slow_target.url}/api/collections/{coll}/timeseries?layers=LAI"
    with httpx.Client(timeout=30) as c:
        r = c.post(url, content=b"{" + b" " * MAX_BODY + b"}")
        assert r.status_code == 413 and "body" in r.json()["detail"]

        def chunks():
            yield b"{"
            for _ in range(MAX_BODY // 65536 + 1):
                yield b" " * 65536

        r = c.post(url, content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "body" in r.json()["detail"]
        assert c.post(url, json=POINT).status_code == 200  # an honest body still goes through
