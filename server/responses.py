"""Response classes: JSON through orjson (NaN becomes null)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette import responses


class JSONResponse(responses.JSONResponse):
    """JSON encoded by orjson, numpy arrays included (a Starlette ``JSONResponse``, so
    FastAPI documents each route's model in OpenAPI rather than a string)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)
