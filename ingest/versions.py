"""Telling v2022 from 2023 exports whose names look alike, from the files around them.

``tile42_2023_Aug_LAI_20m`` is either: v2022 exports come with per-product QCs and error
layers, 2023 ones with a single QC. The other files of the same region and period in
the run decide, then those of the same region and year, then the cube's catalogue.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from leafcube.catalogue.models import Catalogue

from .names import Export, Version

Group = tuple[Export, list[Path]]
_STYLES: tuple[Version, ...] = ("v2022", "2023")


def _from_catalogue(cat: Catalogue, exp: Export) -> Version | None:
    """The style of the collections that already hold this region and period (or year)."""
    found: set[Version] = set()
    for coll in cat.collections.values():
        for key, entry in coll.dates.items():
            same = key == exp.key or (exp.period == "yearly" and entry.start.year == exp.start.year)
            if same and any(exp.region in files.tiles for files in entry.layers.values()):
                found.add("v2022" if "LAI_QC" in coll.layers else "2023")
    return found.pop() if len(found) == 1 else None


def resolve_versions(
    groups: list[Group], cat: Catalogue, failures: list[str], default: Version | None = None
) -> list[Group]:
    """``groups`` with every version decided; files no rule can place become failure lines."""
    by_key: dict[tuple, set[Version]] = defaultdict(set)
    by_year: dict[tuple, set[Version]] = defaultdict(set)
    for exp, _ in groups:
        if exp.version in _STYLES:
            by_key[(exp.region, exp.key, exp.res)].add(exp.version)
            by_year[(exp.region, exp.start.year, exp.res)].add(exp.version)
    out: list[Group] = []
    for exp, paths in groups:
        if exp.version is not None:
            out.append((exp, paths))
            continue
        near = by_key.get((exp.region, exp.key, exp.res)) or by_year.get(
            (exp.region, exp.start.year, exp.res), set()
        )
        version = next(iter(near)) if len(near) == 1 else None
        version = version or (_from_catalogue(cat, exp) if not near else None) or default
        if version is None:
            why = "both v2022 and 2023 files" if near else "no QC file"
            failures.append(
                f"{sorted(paths)[0]}: cannot tell whether it is a v2022 or a 2023 LEAF export "
                f"({why} of {exp.region} {exp.start.year} here); ingest it with its QC file(s)"
            )
            continue
        out.append((exp.with_version(version), paths))
    return out
