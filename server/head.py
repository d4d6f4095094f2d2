"""HEAD on API routes: answered as GET without a body.

FastAPI routes accept GET only, so without this HEAD /api/... fell through to the
static mirror and answered 404; and granian sends whatever body the app gives on
HEAD, which breaks an HTTP/2 stream. The static mirror handles HEAD itself (it
never reads the file), so its paths are left alone.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Paths answered by FastAPI routes rather than the static mirror.
API_PATHS = ("/api/", "/openapi.json", "/docs", "/redoc")


def is_api_path(path: str) -> bool:
    return path == "/" or path.startswith(API_PATHS)


class HeadAsGet:
    """ASGI middleware: route HEAD like GET on API paths and drop the response body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        if not is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)
