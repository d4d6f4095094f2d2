"""Per-request access to the served cube and the server settings."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from starlette.requests import Request

from .config import Settings
from .cube import ServedCube


def cube(request: Request) -> ServedCube:
    """The cube this app serves."""
    return request.app.state.cube


def settings(request: Request) -> Settings:
    """The settings this app was built with."""
    return request.app.state.settings


def tile_pool(request: Request) -> ThreadPoolExecutor:
    """The threads this app renders tiles on."""
    return request.app.state.tile_pool
