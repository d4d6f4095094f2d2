"""leafcube's HTTP/2 server: a stateless FastAPI app over one cube folder.

``create_app`` builds the app; ``leafcube serve`` runs it under granian (see docs/server.md).
"""

import logging

# stac_fastapi.types.core builds an ApiSettings() with its defaults on import, which warns
# that the STAC API has no title; the settings the app uses are set in stac_api.router
logging.getLogger("stac_fastapi.types.config").setLevel(logging.ERROR)

from .app import create_app  # noqa: E402

__all__ = ["create_app"]
