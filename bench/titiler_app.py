"""TiTiler serving one COG per request (``?url=``), set up as its docs say; for bench/tiles.py."""

from fastapi import FastAPI
from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers
from titiler.core.factory import TilerFactory

app = FastAPI(title="TiTiler (benchmark peer)")
app.include_router(TilerFactory().router)
add_exception_handlers(app, DEFAULT_STATUS_CODES)


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"ping": "pong"}
