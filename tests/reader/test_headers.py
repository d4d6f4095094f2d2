"""The dates of a subset in its headers: listed while short, bounded however many."""

from __future__ import annotations

import datetime as dt

from leafcube.reader.headers import MAX_LISTED, dates_headers, dates_match


def days(n: int) -> list[str]:
    start = dt.date(2000, 1, 1)
    return [(start + dt.timedelta(days=i)).isoformat() for i in range(n)]


def test_short_lists_are_listed_and_long_ones_bounded():
    short = days(MAX_LISTED)
    assert dates_headers(short)["x-leafcube-dates"].split(",") == short
    for n in (MAX_LISTED + 1, 330, 5000):
        h = dates_headers(days(n))
        assert sum(len(k) + len(v) for k, v in h.items()) < 200  # nginx's 4 kB is far off
        assert h["x-leafcube-dates"] == f"{days(n)[0]}..{days(n)[-1]}"
        assert dates_match(h, days(n))


def test_match_is_exact_and_ordered():
    d = days(100)
    h = dates_headers(d)
    assert dates_match(h, d)
    assert not dates_match(h, d[:-1])
    assert not dates_match(h, [*d[:50], d[51], d[50], *d[52:]])  # two swapped
    assert not dates_match(h, [*d[:-1], "2099-01-01"])
    assert not dates_match({}, d)
