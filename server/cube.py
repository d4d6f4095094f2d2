"""The served cube folder: its catalogue, re-read whenever ``catalogue.json`` changes.

Workers share nothing but the folder, so a new ingest shows up in every worker on
its next request (one ``stat`` a request decides).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from leafcube.catalogue import CATALOGUE_NAME, Catalogue, Collection, load, query
from leafcube.reader import CubeFiles

from .errors import APIError


class Cube:
    """A cube folder and the latest catalogue read from it."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self.files = CubeFiles(str(self.root))
        self._stamp: tuple[int, int, int] | None = None
        self._catalogue: Catalogue | None = None
        self._lock = threading.Lock()

    def catalogue(self) -> Catalogue:
        """The catalogue as it is on disk now; parsed again only when the file changed."""
        try:
            st = os.stat(self.root / CATALOGUE_NAME)
        except FileNotFoundError:
            raise APIError(
                404, f"the cube folder has no {CATALOGUE_NAME} yet: run `leafcube ingest`"
            ) from None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp or self._catalogue is None:
            with self._lock:
                if stamp != self._stamp or self._catalogue is None:
                    self._catalogue = load(self.root, check=False)
                    self._stamp = stamp
        return self._catalogue

    def collection(self, name: str) -> Collection:
        """The named collection; 404 with the available names when it is unknown."""
        cat = self.catalogue()
        if name not in cat.collections:
            raise APIError(
                404, f"unknown collection {name!r}; available: {sorted(cat.collections)}"
            )
        return query.collection(cat, name)
