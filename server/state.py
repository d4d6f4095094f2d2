"""The app's state, per request: the served cube, the settings and the reader (threads and
open files) the app made at start-up."""

from __future__ import annotations

from starlette.requests import Request

from leafcube.reader import Reader

from .admission import Admission
from .config import Settings
from .cube import ServedCube
from .memory import Trimmer


def cube(request: Request) -> ServedCube:
    """The cube this app serves."""
    return request.app.state.cube


def settings(request: Request) -> Settings:
    """The settings this app was built with."""
    return request.app.state.settings


def reader(request: Request) -> Reader:
    """The reader (threads and open datasets) of this app, made at start-up."""
    return request.app.state.reader


def admission(request: Request) -> Admission:
    """The app's admission of data requests by the bytes they hold."""
    return request.app.state.admission


def trimmer(request: Request) -> Trimmer:
    """The app's periodic hand-back of free heap pages (and its counts)."""
    return request.app.state.trimmer
