"""HTTP/2 clients that ask for large subsets and never read them, against `leafcube deploy
nginx`: nginx takes each answer off the worker into its own buffers and temporary files
and admits at most 64 API requests per client address, so the workers' memory does not
grow with the attacker's streams, and other clients are answered meanwhile."""

from __future__ import annotations

import socket
import ssl
import time
from collections import Counter

import h2.config
import h2.connection
import h2.events
import h2.settings
import httpx
import pytest

from tests.conftest import stop_process
from tests.deploy.conftest import Site, start_stack
from tests.hardening.conftest import _status_kb, process_tree

#: Its bounds on time or memory hold on a quiet machine: run apart from other tests.
pytestmark = pytest.mark.serial

CONNECTIONS, STREAMS = 3, 128  # 128: nginx's http2_max_concurrent_streams
PER_CLIENT = 64  # limit_conn of deploy/templates/nginx/api-site.conf
#: A worker's resident memory may grow by at most this while the attack runs; without
#: the per-client limit the same attack grew one worker by 5.6 GB.
WORKER_GROWTH_MB = 1_500
#: The slowest probe: measured 3.5 s at a load average of 12 on 2 cores (8.9 s while
#: admission was first come, first served: small requests waited behind the subsets).
PROBE_S = 5.0


@pytest.fixture(scope="module")
def attacked(demo_cube, tmp_path_factory):
    site = start_stack(demo_cube, tmp_path_factory.mktemp("never-read"))
    yield site
    stop_process(site.proc)


def workers(site: Site) -> list[int]:
    """Pids of the stack's ``leafcube serve`` processes and their granian workers."""
    pids = [int(p.read_text()) for p in (site.out / "run").glob("worker-*.pid")]
    return [q for p in pids for q in process_tree(p)]


def rss_mb(pids: list[int], field: str = "VmRSS") -> dict[int, float]:
    return {p: _status_kb(p, field) / 1024 for p in pids}


def subset_path(site: Site) -> str:
    """The whole demo cube, one layer, 12 dates, as float32 npy: ~17 MB an answer."""
    return (
        f"/api/collections/{site.collection}/subset?layers=LAI&start=2023-01-01"
        "&end=2023-12-31&bbox=-107.5,53.74,-107.3,53.86&format=npy"
    )


class Attacker:
    """One TLS HTTP/2 connection whose streams' flow-control windows stay at 0: it reads
    response headers but lets no DATA through, ever."""

    def __init__(self, site: Site, path: str) -> None:
        ctx = ssl.create_default_context(cafile=str(site.cert))
        ctx.set_alpn_protocols(["h2"])
        host, port = site.url.removeprefix("https://").split(":")
        raw = socket.create_connection((host, int(port)))
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        assert self.sock.selected_alpn_protocol() == "h2"
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
        headers = [(":method", "GET"), (":scheme", "https"), (":authority", "localhost"),
                   (":path", path)]  # fmt: skip
        for _ in range(STREAMS):
            self.conn.send_headers(
                self.conn.get_next_available_stream_id(), headers, end_stream=True
            )
        self.sock.sendall(self.conn.data_to_send())
        self.statuses: dict[int, str] = {}

    def pump(self, seconds: float) -> None:
        """Read frames for up to ``seconds`` (answering SETTINGS and PINGs, as any
        client must), recording each stream's status."""
        self.sock.settimeout(seconds)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                status = dict(event.headers)[b":status"].decode()
                self.statuses[event.stream_id] = status
        self.sock.sendall(self.conn.data_to_send())

    def close(self) -> None:
        self.sock.close()


def probe(site: Site) -> float:
    """Seconds another client (another address: 127.0.0.2) takes for a time series."""
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=str(site.cert), http2=True)
    t = time.monotonic()
    with httpx.Client(base_url=site.url, transport=transport, timeout=30) as c:
        r = c.get(
            f"/api/collections/{site.collection}/timeseries",
            params={"layers": "LAI", "lon": "-107.4", "lat": "53.8"},
        )
        assert r.status_code == 200, r.text
    return time.monotonic() - t


def test_never_read_streams_do_not_grow_worker_memory(attacked: Site):
    site = attacked
    probe(site)  # warm: the workers' reader and files are open
    pids = workers(site)
    before = rss_mb(pids)
    attackers = [Attacker(site, subset_path(site)) for _ in range(CONNECTIONS)]
    try:
        probes = []
        deadline = time.monotonic() + 120
        while sum(len(a.statuses) for a in attackers) < CONNECTIONS * STREAMS:
            assert time.monotonic() < deadline, [Counter(a.statuses.values()) for a in attackers]
            for a in attackers:
                a.pump(0.2)
            probes.append(probe(site))
        statuses = Counter(s for a in attackers for s in a.statuses.values())
        # every answer admitted was made and handed to nginx; the rest refused at once
        assert statuses == {"200": PER_CLIENT, "429": CONNECTIONS * STREAMS - PER_CLIENT}
        probes.append(probe(site))
        peak = rss_mb(pids, "VmHWM")
    finally:
        for a in attackers:
            a.close()
    growth = {p: peak[p] - before[p] for p in pids}
    assert max(growth.values()) < WORKER_GROWTH_MB, growth
    assert max(probes) < PROBE_S, probes
