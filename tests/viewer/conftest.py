"""Viewer fixtures: Debian's Chromium driven by Playwright, the demo cube served by
``leafcube serve`` over HTTP/2 (TLS, as browsers only speak h2 over TLS), and the published
cube on nginx alone (``static_site``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from leafcube.deploy.tls import self_signed
from tests.deploy.conftest import static_site  # noqa: F401  (a fixture used here)
from tests.server.conftest import Served, start_server  # noqa: F401  (a fixture used here)

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "docs" / "images"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Headless Chromium as the machine allows it: software WebGL (SwiftShader), no sandbox
#: (root), and none of Chromium's own network traffic (the network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1200, "height": 800}


@dataclass
class Latencies:
    """Per-interaction latencies the tests read off the page (reported, never asserted)."""

    rows: list[dict]

    def add(self, mode: str, timings: list[dict]) -> None:
        self.rows += [{"mode": mode, **t} for t in timings]


@pytest.fixture(scope="session")
def latencies(tmp_path_factory) -> Iterator[Latencies]:
    """Collects the page's timings; printed and written to a JSON file at the end."""
    lat = Latencies([])
    yield lat
    if lat.rows:
        out = tmp_path_factory.getbasetemp() / "viewer-latencies.json"
        out.write_text(json.dumps(lat.rows, indent=1))
        print(f"\nviewer latencies (ms), also in {out}:")
        for row in lat.rows:
            print(f"  {row['mode']:7} {row['what']:22} {row['ms']:6}")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's Chromium, headless; closed (with its processes) after the module. Not kept
    for the session: Playwright's sync API runs an event loop on the main thread while it
    is open, and the tests that run after it on the same process call ``asyncio.run``."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run ./dev.sh test")
    if not (ROOT / "server" / "viewer" / "dist" / "index.html").is_file():
        pytest.fail(
            "the viewer is not built: run ./dev.sh test (or npm run build in server/viewer)"
        )
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="session")
def tls_served(demo_cube, tmp_path_factory, start_server) -> Served:  # noqa: F811
    """``leafcube serve`` of the demo cube over h2 + TLS (self-signed) on 127.0.0.1."""
    cert, key = self_signed(tmp_path_factory.mktemp("viewer-tls"), ["127.0.0.1"])
    served = start_server(demo_cube, "--certfile", str(cert), "--keyfile", str(key), scheme="https")
    served.cert = cert  # type: ignore[attr-defined]
    return served


def new_page(browser, url: str):
    """A fresh context and page at ``url``, once the viewer drew its first view."""
    context = browser.new_context(
        viewport=VIEWPORT, ignore_https_errors=True, accept_downloads=True
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_function("Number(document.body.dataset.done || 0) >= 1", timeout=60_000)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def screenshot(page, name: str) -> None:
    """Save the whole page as docs/images/``name``.png (shown in README and docs/viewer.md)."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"{name}.png"))
