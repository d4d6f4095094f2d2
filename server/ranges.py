"""RFC 9110 byte ranges: parsing a ``Range`` header against a representation's length."""

from __future__ import annotations

import re

#: More ranges than this in one request are merged into one (a cheap DoS guard).
MAX_RANGES = 256
#: Positions of more than 18 digits lie past any file; they count as this cap (``int()``
#: of thousands of digits is slow, and refused past 4,300).
_BIG = 10**18

# RFC 9110's DIGIT is ASCII only (a bare \d would also take other scripts' digits).
_SPEC = re.compile(r"^[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*$", re.ASCII)


class Unsatisfiable(Exception):
    """No range of the request overlaps the representation: answer 416."""


def _pos(digits: str) -> int:
    """A byte position from its decimal digits, capped at :data:`_BIG` (past any file)."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else _BIG


class _Invalid(Exception):
    """A range-spec that is not one: the whole header is ignored."""


def _spec(spec: str, size: int) -> tuple[int, int] | None:
    """One range-spec: its ``(first, last)`` inside ``size`` bytes, or None when it selects
    nothing there; raises :class:`_Invalid` when it is not a valid range-spec."""
    m = _SPEC.match(spec)
    if m is None or (not m[1] and not m[2]):
        raise _Invalid
    if not m[1]:
        length = _pos(m[2])
        return (max(0, size - length), size - 1) if length and size else None
    first = _pos(m[1])
    last = _pos(m[2]) if m[2] else size - 1
    if m[2] and last < first:
        raise _Invalid
    return (first, min(last, size - 1)) if first < size else None


def parse_range(header: str, size: int) -> list[tuple[int, int]] | None:
    """The ``(first, last)`` byte positions (inclusive) a ``Range`` header asks for.

    Returns None when the header is not a valid ``bytes`` range set (the server then
    ignores it and sends the whole file, as RFC 9110 says) — including ``bytes=`` with no
    range at all; raises :class:`Unsatisfiable` when it is valid but no range overlaps
    the ``size`` bytes. Overlapping or adjacent ranges are coalesced, so a client never
    receives the same byte twice.
    """
    unit, sep, specs = header.partition("=")
    if not sep or unit.strip(" \t").lower() != "bytes":
        return None
    listed = [spec for spec in specs.split(",") if spec.strip(" \t")]
    if not listed:  # range-set = 1#range-spec: at least one is required
        return None
    try:
        wanted = [r for r in (_spec(spec, size) for spec in listed) if r is not None]
    except _Invalid:
        return None
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
