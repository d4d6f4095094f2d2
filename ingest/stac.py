"""The static STAC view written at ingest: ``stac/catalog.json``, per collection a
``collection.json`` linking a sub-catalogue per part of the catalogue
(``stac/{collection}/{2023 or 2023-08}/catalog.json``), and per part that sub-catalogue,
an item file per date and tile and ``items.json`` (the part's items as one
ItemCollection, for clients that load a list of items rather than walk a catalogue).

The documents come from :func:`leafcube.catalogue.stac.static_documents`, the same
builder the server's STAC API uses. With the cube's base URL (``leafcube ingest
--base-url``, remembered in the cube's settings) every href is absolute, so a part's
``items.json`` read on its own resolves over HTTP; without one they are relative and the
catalogue moves with the cube.
"""

from __future__ import annotations

import os
import shutil
from collections import abc
from pathlib import Path

from leafcube.catalogue.folder import write_json
from leafcube.catalogue.models import Catalogue, Collection
from leafcube.catalogue.parts import PartKeys, index, part_key, partition_of
from leafcube.catalogue.stac import ROOT, items_dir, static_documents

from .state import settings


def write_stac(
    cat: Catalogue, cube: Path, base_url: str | None = None, *, only: PartKeys | None = None
) -> dict[str, str]:
    """Write (only what changed of) the STAC view; return its entries for ``Catalogue.views``.

    ``only`` (collection → part keys whose dates changed, those parts loaded) rewrites
    those parts' documents and every collection's, leaving the other parts' files as they
    are; None writes every part (``cat`` fully loaded). Either way the files of parts,
    items and collections ``cat`` no longer has are removed. ``base_url`` defaults to the
    one remembered in the cube's settings; when it changes, write everything.
    """
    base = base_url or settings(cube).get("base_url")
    docs = static_documents(cat, base, only=only)
    for href, doc in docs.items():
        write_json(cube / href, doc)
    for coll in cat.collections.values():
        keys = None if only is None else only.get(coll.name, ())
        _prune(coll, cube, set(docs), keys)
    _prune_collections(cat, cube)
    return {"stac": ROOT}


def _prune(
    coll: Collection, cube: Path, written: set[str], keys: abc.Collection[str] | None
) -> None:
    """Remove the files of ``coll``'s static view that are no longer part of it: part
    folders of parts it no longer has, anything else beside ``collection.json``, and the
    item files of the parts rewritten (``keys``; None: all) or gone that were not written."""
    folder = cube / "stac" / coll.name
    held = index(coll)
    gone = set()
    for entry in os.scandir(folder):
        if entry.name in ("items", "collection.json") or entry.name in held:
            continue
        gone.add(entry.name)
        if entry.is_dir():
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
    rewritten = set(held if keys is None else keys)
    partition = partition_of(coll)
    prefix = items_dir(coll.name)
    if not (cube / prefix).is_dir():
        return
    for entry in os.scandir(cube / prefix):
        key = part_key(entry.name.partition("_")[0], partition)
        if (key in rewritten or key in gone) and f"{prefix}/{entry.name}" not in written:
            os.unlink(entry.path)


def _prune_collections(cat: Catalogue, cube: Path) -> None:
    """Remove the static views of collections the catalogue no longer has."""
    for entry in os.scandir(cube / "stac"):
        if entry.is_dir() and entry.name not in cat.collections:
            shutil.rmtree(entry.path)
