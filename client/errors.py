"""Errors the client raises, each with a message a user can act on."""

from __future__ import annotations


class ClientError(ValueError):
    """A request the cube cannot answer: bad input, an unknown source, a server's 4xx."""


class TooLarge(ClientError):
    """The server's pixel budget refused a request (HTTP 413): ask for fewer dates."""


class ExtractError(ClientError):
    """Pixels that could not be fetched even after retries; names the layer and dates."""

    def __init__(self, layer: str, dates: list[str], reason: str) -> None:
        self.layer = layer
        self.dates = dates
        span = dates[0] if len(dates) == 1 else f"{dates[0]} … {dates[-1]} ({len(dates)} dates)"
        super().__init__(f"could not fetch {layer} for {span}: {reason}")
