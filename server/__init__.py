"""leafcube's HTTP/2 server: a stateless FastAPI app over one cube folder.

``create_app`` builds the app; ``leafcube serve`` runs it under granian (see docs/server.md).
"""

from .app import create_app

__all__ = ["create_app"]
