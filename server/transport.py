"""Request bodies must be small and arrive soon.

Without this, 3,000 connections trickling POST bodies held every request slot of a
worker and real clients starved; FastAPI reads a body with no time limit of its own.
"""

from __future__ import annotations

import asyncio

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Largest request body, as nginx's default ``client_max_body_size`` (a GeoJSON ROI of
#: 10,000 vertices, the most :mod:`leafcube.catalogue.roi` takes, is about 400 kB).
MAX_BODY = 1 << 20
#: Seconds a request body has to arrive whole, from when the app first asks for it.
BODY_TIMEOUT = 10.0


def _refusal(status: int, detail: str) -> tuple[Message, Message]:
    body = orjson.dumps({"detail": detail})
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


TOO_LARGE = _refusal(413, f"the request body is over {MAX_BODY} bytes: send a simpler ROI")
TOO_SLOW = _refusal(408, f"the request body did not arrive within {BODY_TIMEOUT:g} s")
BAD_LENGTH = _refusal(400, "the Content-Length header is not a number")


class BodyLimits:
    """ASGI middleware enforcing :data:`MAX_BODY` and :data:`BODY_TIMEOUT`: a body over
    either gets a 413 or 408 JSON answer instead of the app's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = next((v for k, v in scope["headers"] if k == b"content-length"), b"0")
        if not length.isdigit() or int(length) > MAX_BODY:
            for message in TOO_LARGE if length.isdigit() else BAD_LENGTH:
                await send(message)
            return
        exchange = _Exchange(receive, send)
        await self.app(scope, exchange.receive, exchange.send)
        if exchange.refused is not None and not exchange.started:
            for message in exchange.refused:
                await send(message)


class _Exchange:
    """One request's guarded ``receive`` and ``send``."""

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self._deadline: float | None = None  # set when the app first asks for the body
        self._body_done = False
        self._received = 0
        self.refused: tuple[Message, Message] | None = None
        self.started = False

    async def receive(self) -> Message:
        """The next message; while the body is incomplete, a late or oversized body ends
        the request as if the client had left (the refusal is sent instead of the app's)."""
        if self.refused is not None:
            return {"type": "http.disconnect"}
        if self._body_done:
            return await self._receive()
        if self._deadline is None:
            self._deadline = asyncio.get_running_loop().time() + BODY_TIMEOUT
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            self.refused = TOO_SLOW
            return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > MAX_BODY:
                self.refused = TOO_LARGE
                return {"type": "http.disconnect"}
            self._body_done = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.refused is not None and not self.started:
            return  # the app's answer to a refused body is replaced by the refusal
        self.started = True
        await self._send(message)
