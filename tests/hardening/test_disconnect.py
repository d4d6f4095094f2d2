"""A client that goes away takes its queued reads with it: closing an HTTP/1.1
connection, or resetting one HTTP/2 stream of a connection that stays open, cancels the
request's reads not yet run, as the worker's read counts (``GET /api/reads``) show."""

from __future__ import annotations

import socket
from urllib.parse import urlencode, urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import pytest

from tests.conftest import LEAFCUBE, free_port, start_process, stop_process
from tests.hardening.busy import POINT, busy_cube, counts, fresh_points, open_request, wait_for

DATES = 300
#: At least this share of a departed request's reads must never run (it is read in
#: about 1.5 s; the departure is seen within milliseconds).
CANCELLED_SHARE = 0.5


@pytest.fixture(scope="module")
def busy(demo_cube, tmp_path_factory):
    """A worker over a 300-date cube, its log kept: a departed client is no error."""
    folder = tmp_path_factory.mktemp("gone")
    cube = busy_cube(demo_cube, folder / "cube", DATES)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [*LEAFCUBE, "serve", str(cube.folder), "--host", "127.0.0.1", "--port", str(port)]
    with open(folder / "serve.log", "w") as log:
        proc = start_process(args, f"{url}/catalogue.json", stderr=log)
    yield cube, url
    stop_process(proc)
    text = (folder / "serve.log").read_text()
    assert "Traceback" not in text and "ERROR" not in text, text[-3000:]


def settled(c: dict[str, int]) -> bool:
    return c["queued"] == 0 and c["running"] == 0


def check_cancelled(before: dict[str, int], after: dict[str, int], reads: int) -> None:
    """Every read of the departed request either ran or was cancelled, most cancelled."""
    done, cancelled = after["done"] - before["done"], after["cancelled"] - before["cancelled"]
    assert after["failed"] == before["failed"]
    assert done + cancelled == reads
    assert cancelled >= CANCELLED_SHARE * reads, (done, cancelled)


def test_closing_the_connection_cancels_the_reads(busy):
    cube, url = busy
    before = counts(url)
    params = cube.series_params(next(fresh_points()), DATES)
    sock = open_request(url, cube.series_path(), params)
    try:
        wait_for(url, lambda c: c["done"] > before["done"])  # it is reading
    finally:
        sock.close()
    check_cancelled(before, wait_for(url, settled), DATES * len(cube.layers))


def test_resetting_an_h2_stream_cancels_its_reads(busy):
    cube, url = busy
    parts = urlsplit(url)
    before = counts(url)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()

    def headers(params: dict[str, str]) -> list[tuple[str, str]]:
        path = f"{cube.series_path()}?{urlencode(params)}"
        return [(":method", "GET"), (":path", path), (":scheme", "http"),
                (":authority", parts.netloc)]  # fmt: skip

    points = fresh_points()
    next(points)  # the other test's
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        conn.send_headers(1, headers(cube.series_params(next(points), DATES)), end_stream=True)
        sock.sendall(conn.data_to_send())
        wait_for(url, lambda c: c["done"] > before["done"])
        conn.reset_stream(1, h2.errors.ErrorCodes.CANCEL)
        sock.sendall(conn.data_to_send())
        after = wait_for(url, settled)
        check_cancelled(before, after, DATES * len(cube.layers))

        # the connection itself still serves
        conn.send_headers(3, headers(cube.series_params(POINT, 1, ["LAI"])), end_stream=True)
        sock.sendall(conn.data_to_send())
        status, ended = None, False
        while not ended:
            data = sock.recv(65536)
            assert data, "the server closed the connection"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == 3:
                    status = dict(event.headers)[b":status"]
                ended |= isinstance(event, h2.events.StreamEnded) and event.stream_id == 3
            sock.sendall(conn.data_to_send())
        assert status == b"200"
