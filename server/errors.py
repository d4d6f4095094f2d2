"""Errors as JSON: every bad input gets a 4xx whose ``detail`` says what to change."""

from __future__ import annotations

from typing import Any

import rasterio.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from leafcube.catalogue import CatalogueError, NoDataError, ROIError

from .responses import JSONResponse


class APIError(Exception):
    """A request the server cannot answer as asked; ``status`` is a 4xx."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def _json(status: int, detail: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed(request: Request) -> list[str]:
    """Every method some route answers at the request's path (its GET and POST routes
    are separate, so a 405's ``Allow`` must name them all)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("query", "path", "body", "header"):
        return f"{parts[0]} parameter {'.'.join(parts[1:]) or '(body)'}"
    return ".".join(parts)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a JSON answer."""

    @app.exception_handler(APIError)
    async def api_error(_: Request, exc: APIError) -> JSONResponse:
        return _json(exc.status, exc.detail, exc.headers)

    @app.exception_handler(CatalogueError)
    @app.exception_handler(ROIError)
    async def bad_query(_: Request, exc: ValueError) -> JSONResponse:
        return _json(400, str(exc))

    @app.exception_handler(NoDataError)
    async def no_data(_: Request, exc: NoDataError) -> JSONResponse:
        return _json(404, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        msgs = [f"{_where(tuple(e.get('loc', ())))}: {e.get('msg')}" for e in exc.errors()]
        return _json(422, "; ".join(msgs) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # Starlette names the first route's methods only
            kept = {k: v for k, v in (headers or {}).items() if k.lower() != "allow"}
            headers = {**kept, "allow": ", ".join(_allowed(request))}
        return _json(exc.status_code, exc.detail, headers)

    @app.exception_handler(rasterio.errors.RasterioIOError)
    async def unreadable(request: Request, exc: Exception) -> JSONResponse:
        # name the file by its path in the cube: the server's own folders stay private
        root = str(request.app.state.cube.root).rstrip("/") + "/"
        return _json(
            404, f"a file the catalogue lists cannot be read: {str(exc).replace(root, '')}"
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        return _json(500, f"internal error ({type(exc).__name__}); please report it")


#: The body of every error answer, in OpenAPI.
ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "what to change"}},
    "required": ["detail"],
}
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Say in ``schema`` (an OpenAPI document) what every operation's errors are: any 4xx
    and a busy 503, each a JSON ``detail`` string (FastAPI documents only a 422 with a list)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for operations in schema["paths"].values():
        for op in operations.values():
            responses = op.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "invalid parameters", "content": _ERROR}
            responses.setdefault("4XX", {"description": "bad request", "content": _ERROR})
            responses.setdefault(
                "503", {"description": "busy: retry after `Retry-After`", "content": _ERROR}
            )
    return schema
