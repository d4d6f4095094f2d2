"""The STAC core and GeoJSON schemas pystac ships, mapped for stac-validator: the machine
is offline, so the validator must not fetch them."""

from __future__ import annotations

from pathlib import Path

import pystac


def offline_schema_map() -> dict[str, str]:
    """stac-validator's ``schema_map``: each schema's URL → pystac's copy of it."""
    schemas = Path(pystac.__file__).parent / "validation" / "jsonschemas"
    out = {}
    for f in (schemas / "stac-spec" / "v1.1.0").glob("*.json"):
        kind = f.stem if f.stem in ("catalog", "collection") else "item"
        out[f"https://schemas.stacspec.org/v1.1.0/{kind}-spec/json-schema/{f.name}"] = str(f)
    for name in ("Feature", "Geometry"):
        out[f"https://geojson.org/schema/{name}.json"] = str(schemas / "geojson" / f"{name}.json")
    return out
