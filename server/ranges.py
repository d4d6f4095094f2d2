"""RFC 9110 byte ranges: parsing a ``Range`` header against a representation's length."""

from __future__ import annotations

import re

#: More ranges than this in one request are merged into one (a cheap DoS guard).
MAX_RANGES = 256

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


class Unsatisfiable(Exception):
    """No range of the request overlaps the representation: answer 416."""


def parse_range(header: str, size: int) -> list[tuple[int, int]] | None:
    """The ``(first, last)`` byte positions (inclusive) a ``Range`` header asks for.

    Returns None when the header is not a valid ``bytes`` range set (the server then
    ignores it and sends the whole file, as RFC 9110 says); raises :class:`Unsatisfiable`
    when it is valid but no range overlaps the ``size`` bytes. Overlapping or adjacent
    ranges are coalesced, so a client never receives the same byte twice.
    """
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    wanted: list[tuple[int, int]] = []
    for spec in specs.split(","):
        if not spec.strip():
            continue
        m = _SPEC.match(spec)
        if m is None or (not m[1] and not m[2]):
            return None
        if m[1]:
            first = int(m[1])
            last = int(m[2]) if m[2] else size - 1
            if m[2] and last < first:
                return None
            if first >= size:
                continue
            wanted.append((first, min(last, size - 1)))
        else:
            length = int(m[2])
            if length == 0 or size == 0:
                continue
            wanted.append((max(0, size - length), size - 1))
    if not wanted:
        raise Unsatisfiable
    return _coalesce(wanted)


def _coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping or touching ranges (keeping request order when none do)."""
    ordered = sorted(ranges)
    overlap = any(b[0] <= a[1] + 1 for a, b in zip(ordered, ordered[1:], strict=False))
    if not overlap and len(ranges) <= MAX_RANGES:
        return ranges
    if len(ranges) > MAX_RANGES:
        return [(ordered[0][0], max(r[1] for r in ordered))]
    merged = [ordered[0]]
    for first, last in ordered[1:]:
        if first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged
