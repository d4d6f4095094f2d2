"""``Range`` header parsing (server/ranges.py) against RFC 9110 §14.1-14.2, no server.

``parse_range`` returns the inclusive ``(first, last)`` byte positions to send, None when
the header must be ignored (invalid: answer 200 with the whole file) and raises
``Unsatisfiable`` when it is valid but asks for nothing inside the file (answer 416).
"""

from __future__ import annotations

import pytest

from leafcube.server.ranges import MAX_RANGES, Unsatisfiable, parse_range

SIZE = 10_000
HUGE = "9" * 30  # far beyond any file and any 64-bit integer
VERY_LONG = "9" * 5000  # more digits than Python's default int() conversion limit (4300)


@pytest.mark.parametrize(
    ("header", "want"),
    [
        # RFC 9110 §14.1.2's examples, on a 10000-byte representation
        ("bytes=0-499", [(0, 499)]),
        ("bytes=500-999", [(500, 999)]),
        ("bytes=-500", [(9500, 9999)]),
        ("bytes=9500-", [(9500, 9999)]),
        ("bytes=0-0,-1", [(0, 0), (9999, 9999)]),
        ("bytes=0-", [(0, 9999)]),
        ("bytes=0-9999", [(0, 9999)]),
        ("bytes=9999-9999", [(9999, 9999)]),
        ("bytes=7-7", [(7, 7)]),
        # last-pos at or past the end means "to the end"
        ("bytes=9990-10000", [(9990, 9999)]),
        ("bytes=9990-123456789", [(9990, 9999)]),
        # a suffix longer than the representation is the whole representation
        ("bytes=-10000", [(0, 9999)]),
        ("bytes=-10001", [(0, 9999)]),
        ("bytes=-1", [(9999, 9999)]),
    ],
)
def test_single_suffix_and_open_ranges(header, want):
    assert parse_range(header, SIZE) == want


@pytest.mark.parametrize(
    ("header", "want"),
    [
        # disjoint ranges keep the order the client asked for
        ("bytes=0-9,20-29", [(0, 9), (20, 29)]),
        ("bytes=50-59,0-9", [(50, 59), (0, 9)]),
        ("bytes=0-9,200-299,-5", [(0, 9), (200, 299), (9995, 9999)]),
        # overlapping, duplicated, contained or adjacent ranges are sent once, merged
        ("bytes=0-99,50-149", [(0, 149)]),
        ("bytes=50-149,0-99", [(0, 149)]),
        ("bytes=0-9,0-9", [(0, 9)]),
        ("bytes=0-99,10-19", [(0, 99)]),
        ("bytes=0-9,10-19", [(0, 19)]),
        ("bytes=0-9,11-19", [(0, 9), (11, 19)]),
        ("bytes=-100,9000-", [(9000, 9999)]),
        ("bytes=0-9,20-29,5-24", [(0, 29)]),
        ("bytes=0-9,100-109,5-14", [(0, 14), (100, 109)]),
        # ranges that cannot be satisfied are dropped when another one can
        ("bytes=0-9,10000-", [(0, 9)]),
        ("bytes=20000-20010,-3", [(9997, 9999)]),
        ("bytes=-0,0-0", [(0, 0)]),
    ],
)
def test_multiple_ranges(header, want):
    assert parse_range(header, SIZE) == want


def test_many_ranges_collapse_into_one():
    """Past MAX_RANGES the ranges are answered as the one range spanning them (DoS guard)."""
    specs = [f"{2 * i}-{2 * i}" for i in range(MAX_RANGES + 1)]  # disjoint single bytes
    assert parse_range("bytes=" + ",".join(reversed(specs)), SIZE) == [(0, 2 * MAX_RANGES)]
    assert parse_range("bytes=" + ",".join(specs[:MAX_RANGES]), SIZE) == [
        (2 * i, 2 * i) for i in range(MAX_RANGES)
    ]


@pytest.mark.parametrize(
    ("header", "size"),
    [
        (f"bytes={SIZE}-", SIZE),
        (f"bytes={SIZE}-{SIZE + 10}", SIZE),
        (f"bytes={SIZE + 1}-", SIZE),
        ("bytes=-0", SIZE),
        ("bytes=-0,-0", SIZE),
        (f"bytes={SIZE}-,{SIZE + 5}-{SIZE + 9},-0", SIZE),
        ("bytes=0-", 0),
        ("bytes=0-0", 0),
        ("bytes=1-", 1),
        (f"bytes={HUGE}-", SIZE),
        (f"bytes={HUGE}-{HUGE}", SIZE),
    ],
)
def test_unsatisfiable_is_416(header, size):
    """Valid syntax, but no range starts inside the representation (§14.1.2, §15.5.17)."""
    with pytest.raises(Unsatisfiable):
        parse_range(header, size)


@pytest.mark.parametrize(
    "header",
    [
        # not a bytes range-set
        "0-99",
        "bytes",
        "bytes 0-99",
        "bytes:0-99",
        "items=0-99",
        "bytesx=0-99",
        "=0-99",
        # invalid range-specs: the whole header is ignored
        "bytes=-",
        "bytes=5-1",
        "bytes=0-9,5-1",
        "bytes=--5",
        "bytes=-5-10",
        "bytes=1-2-3",
        "bytes=a-b",
        "bytes=0-x",
        "bytes=x",
        "bytes=10",
        "bytes=+1-2",
        "bytes=1-+2",
        "bytes=-+5",
        "bytes=0x10-0x20",
        "bytes=1.5-2",
        "bytes=1e3-",
        "bytes=0-9;q=1",
        "bytes=0-9,abc",
        "bytes=0-9, -",
        "bytes==0-9",
        "bytes=0-9=",
    ],
)
def test_malformed_header_is_ignored(header):
    """An invalid ranges-specifier is ignored: the server sends the whole file (§14.2)."""
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize("header", ["bytes=", "bytes= ", "bytes=,", "bytes= , ,"])
def test_bytes_with_no_range_is_ignored_not_416(header):
    """``range-set = 1#range-spec``: at least one range is required, so ``bytes=`` with
    nothing (or only empty list elements) is an invalid header, to be ignored (200), not
    a valid but unsatisfiable one (416)."""
    assert parse_range(header, SIZE) is None


def test_non_ascii_digits_are_not_digits():
    """RFC 9110's DIGIT is ASCII 0-9; other Unicode decimal digits make the header invalid."""
    assert parse_range("bytes=\u0660-\u0669", SIZE) is None  # ARABIC-INDIC ZERO..NINE
    assert parse_range("bytes=\uff10-\uff19", SIZE) is None  # FULLWIDTH ZERO..NINE


@pytest.mark.parametrize(
    ("header", "want"),
    [
        ("Bytes=0-9", [(0, 9)]),  # range units are case-insensitive (§14.1)
        ("BYTES=0-9", [(0, 9)]),
        ("bytes=0-9, 20-29", [(0, 9), (20, 29)]),  # OWS around list commas (§5.6.1)
        ("bytes=0-9 ,20-29", [(0, 9), (20, 29)]),
        ("bytes=0-9,\t20-29", [(0, 9), (20, 29)]),
        ("bytes=0-9,,20-29", [(0, 9), (20, 29)]),  # empty list elements are ignored
        ("bytes=0-9,", [(0, 9)]),
        ("bytes=,0-9", [(0, 9)]),
        ("bytes=007-009", [(7, 9)]),  # leading zeros are still decimal
    ],
)
def test_case_whitespace_and_empty_list_elements(header, want):
    assert parse_range(header, SIZE) == want


@pytest.mark.parametrize(
    ("header", "want"),
    [
        (f"bytes=0-{HUGE}", [(0, SIZE - 1)]),
        (f"bytes=-{HUGE}", [(0, SIZE - 1)]),
        (f"bytes=9000-{HUGE},-{HUGE}", [(0, SIZE - 1)]),
        (f"bytes=0-9,{HUGE}-", [(0, 9)]),
        (f"bytes=0-{VERY_LONG}", [(0, SIZE - 1)]),
        (f"bytes=-{VERY_LONG}", [(0, SIZE - 1)]),
        (f"bytes=0-9,{VERY_LONG}-", [(0, 9)]),
    ],
)
def test_huge_numbers(header, want):
    """Positions past any file are clipped or dropped like small ones, however many digits
    they have (a header of a few thousand digits fits in any server's header limit)."""
    assert parse_range(header, SIZE) == want


def test_huge_first_pos_alone_is_unsatisfiable():
    with pytest.raises(Unsatisfiable):
        parse_range(f"bytes={VERY_LONG}-", SIZE)


def _rfc_bytes(spec: str, size: int) -> set[int]:
    """The byte positions one valid range-spec selects, straight from RFC 9110 §14.1.2."""
    first, _, last = spec.partition("-")
    if not first:
        return set(range(max(0, size - int(last)), size))
    end = size if not last else min(int(last) + 1, size)
    return set(range(int(first), end))


def test_every_pair_of_small_ranges_selects_the_rfc_bytes_once():
    """For small sizes and every pair of specs: the bytes sent are exactly the union the
    RFC selects, each byte once, in ranges inside the file; 416 exactly when it is empty."""
    specs = ["0-0", "0-", "3-", "-1", "-3", "2-5", "5-2", "-0", "9-", "1-100", "4-4"]
    for size in range(0, 8):
        for a in specs:
            for b in specs:
                header = f"bytes={a},{b}"
                if "5-2" in (a, b):
                    assert parse_range(header, size) is None, header
                    continue
                want = _rfc_bytes(a, size) | _rfc_bytes(b, size)
                if not want:
                    with pytest.raises(Unsatisfiable):
                        parse_range(header, size)
                    continue
                got = parse_range(header, size)
                assert got, header
                for first, last in got:
                    assert 0 <= first <= last < size, (header, size, got)
                sent = [i for first, last in got for i in range(first, last + 1)]
                assert len(sent) == len(set(sent)), (header, size, got)
                assert set(sent) == want, (header, size, got)
