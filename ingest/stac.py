"""The static STAC view written at ingest: ``stac/catalog.json``, and per collection a
``collection.json``, an item file per date and tile and ``items.json`` (the same items as
one ItemCollection, for clients that load a list of items rather than walk a catalogue).

The documents come from :func:`leafcube.catalogue.stac.static_documents`, the same
builder the server's STAC API uses. With the cube's base URL (``leafcube ingest
--base-url``, remembered in the cube's settings) every href is absolute, so ``items.json``
read on its own resolves over HTTP; without one they are relative and the catalogue
moves with the cube.
"""

from __future__ import annotations

from pathlib import Path

from leafcube.catalogue.folder import write_json
from leafcube.catalogue.models import Catalogue
from leafcube.catalogue.stac import ROOT, static_documents

from .state import settings


def write_stac(cat: Catalogue, cube: Path, base_url: str | None = None) -> dict[str, str]:
    """Write (only what changed of) the STAC view; return its entries for ``Catalogue.views``.

    ``base_url`` defaults to the one remembered in the cube's settings.
    """
    base = base_url or settings(cube).get("base_url")
    for href, doc in static_documents(cat, base).items():
        write_json(cube / href, doc)
    return {"stac": ROOT}
