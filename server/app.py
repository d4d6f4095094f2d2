"""The FastAPI app: the static mirror of the cube folder in front, then the API routers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from leafcube.reader import Reader

from . import errors, routes_catalogue, routes_data, routes_tiles, stac_api, static
from .admission import HELD_BYTES, Admission
from .config import Settings
from .cube import ServedCube
from .head import HeadAsGet
from .memory import Trimmer
from .responses import JSONResponse
from .transport import BodyLimits

DESCRIPTION = """\
An open, stateless HTTP data cube for Canada's LEAF vegetation products.

Every file of the cube folder is served at its relative path (byte ranges, ETags,
conditional requests), so GDAL, QGIS and any HTTP client read the COGs directly;
the `/api` endpoints add tiles, WMTS with a time dimension, ROI subsets and time series.
Every error is JSON with a `detail` that says what to change.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for one cube folder (from ``LEAFCUBE_CUBE_DIR`` when ``settings`` is None)."""
    settings = settings or Settings.from_env()
    cube = ServedCube(settings.cube_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # made here, in the worker process that serves, not where the app was built
        with Reader() as reader:
            app.state.reader = reader
            await asyncio.to_thread(cube.warm_up, reader)
            trimming = asyncio.ensure_future(app.state.trimmer.run())
            try:
                yield
            finally:
                trimming.cancel()

    app = FastAPI(
        title="leafcube",
        version="0.1.0",
        description=DESCRIPTION,
        default_response_class=JSONResponse,
        lifespan=lifespan,
        # FastAPI's OpenTelemetry hooks look for providers on every request (~10 us, a
        # sixth of a byte range's cost); leafcube exports no telemetry
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.admission = Admission(HELD_BYTES)
    app.state.trimmer = Trimmer()
    app.state.cube = cube
    errors.install(app)
    app.add_middleware(HeadAsGet)
    app.include_router(routes_catalogue.router)
    app.include_router(routes_tiles.router)
    app.include_router(routes_data.router)
    app.include_router(stac_api.router(cube))
    app.add_middleware(BodyLimits)
    # outermost: a file's byte range passes through nothing else
    app.add_middleware(static.StaticMirror, root=cube.root)
    openapi = app.openapi

    def with_files() -> dict[str, Any]:
        schema = openapi()
        schema["paths"].setdefault("/{path}", static.OPENAPI_PATH)
        return errors.document(schema)

    app.openapi = with_files  # type: ignore[method-assign]
    return app
