"""Which ``Accept`` headers get the viewer page from ``GET /`` and which the JSON."""

from __future__ import annotations

import pytest

from leafcube.server.viewer_page import wants_html

BROWSERS = [
    # Chromium, Firefox, Safari navigations
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "text/html",
    "application/json;q=0.5, text/html",
]
API_CLIENTS = [
    "",  # no Accept
    "*/*",  # curl, httpx, requests
    "application/json",
    "application/json, text/html;q=0.5",
    "text/html;q=0",
    "text/*",  # HTML must be asked for by name
]


@pytest.mark.parametrize("accept", BROWSERS)
def test_browsers_get_html(accept):
    assert wants_html(accept)


@pytest.mark.parametrize("accept", API_CLIENTS)
def test_api_clients_get_json(accept):
    assert not wants_html(accept)
