"""Per-request access to the served cube and the server settings."""

from __future__ import annotations

from starlette.requests import Request

from .config import Settings
from .cube import Cube


def cube(request: Request) -> Cube:
    """The cube this app serves."""
    return request.app.state.cube


def settings(request: Request) -> Settings:
    """The settings this app was built with."""
    return request.app.state.settings
