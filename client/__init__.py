"""leafcube's client: ROI and date range in, masked arrays, xarray or files out.

``Cube(source)`` takes a leafcube server URL, the URL of a cube folder on any web
server, or a local cube folder. ``DataStorage`` keeps GomezEngine notebooks working.
"""

from .cube import Cube
from .errors import ClientError, ExtractError
from .gomez import DataStorage
from .result import Extract

__all__ = ["ClientError", "Cube", "DataStorage", "Extract", "ExtractError"]
