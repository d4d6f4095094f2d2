"""The GomezEngine view: ``gomez/{collection}.json`` = ``{"YYYY-MM-DD": [url, ...]}``.

One URL per layer, in the fixed order of :func:`leafcube.catalogue.products.leaf_layers`
(GomezEngine finds a band by its position), each the mosaic VRT of that date and
layer. URLs are absolute when a base URL is known, else relative to the cube root
(the server rewrites them). Dates missing a layer are left out: positions must hold.
"""

from __future__ import annotations

from pathlib import Path

from .folder import write_json
from .models import Catalogue, Collection


def gomez_view(coll: Collection, base_url: str | None) -> dict[str, list[str]]:
    """The view of one collection."""
    prefix = base_url.rstrip("/") + "/" if base_url else ""
    order = list(coll.layers)
    return {
        e.key: [prefix + e.layers[n].mosaic for n in order]
        for e in coll.sorted_dates()
        if all(n in e.layers for n in order)
    }


def write_gomez(cat: Catalogue, cube: Path, base_url: str | None) -> dict[str, str]:
    """Write (if changed) one view per collection; return their ``Catalogue.views`` entries."""
    views = {}
    for name, coll in cat.collections.items():
        href = f"gomez/{name}.json"
        write_json(cube / href, gomez_view(coll, base_url))
        views[f"gomez/{name}"] = href
    return views
