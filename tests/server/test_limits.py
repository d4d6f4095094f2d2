"""``leafcube serve --max-reads/--read-deadline``: the bounds of one data request are the
operator's to set, and every worker applies them (413 and 503 with the limit in words)."""

from __future__ import annotations

import httpx

from .test_transport import _serve_error

BBOX = "-107.47,53.77,-107.36,53.85"  # both tiles and their overlap


def _series(layers: str, start: str, end: str) -> dict[str, str]:
    return {"layers": layers, "start": start, "end": end, "lon": "-107.42", "lat": "53.81"}


def test_max_reads_is_the_operators(served, start_server):
    small = start_server(served.cube, "--max-reads", "5", "--workers", "2")
    path = f"/api/collections/{small.collection}/timeseries"
    with httpx.Client(base_url=small.url, timeout=60) as c:
        five = c.get(path, params=_series("LAI", "2023-01-01", "2023-05-31"))
        assert five.status_code == 200 and len(five.json()["dates"]) == 5
        for _ in range(4):  # whichever worker answers
            six = c.get(path, params=_series("LAI", "2023-01-01", "2023-06-30"))
            assert six.status_code == 413
            assert "= 6 (layer, date) pairs but the limit is 5" in six.json()["detail"]


def test_read_deadline_is_the_operators(served, start_server):
    hasty = start_server(served.cube, "--read-deadline", "0.001")
    params = {"layers": "LAI,fCOVER,QC", "start": "2023-01-01", "end": "2023-12-31"}
    url = f"{hasty.url}/api/collections/{hasty.collection}/subset"
    r = httpx.get(url, params={**params, "bbox": BBOX, "format": "npy"}, timeout=60)
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert "longer than 0.001 s" in r.json()["detail"] or "within 0.001 s" in r.json()["detail"]


def test_bad_limits_are_one_line(served):
    for flag, value, words in [
        ("--max-reads", "0", "--max-reads must be at least 1"),
        ("--read-deadline", "-1", "--read-deadline must be a positive number"),
        ("--read-deadline", "inf", "--read-deadline must be a positive number"),
        ("--read-deadline", "nan", "--read-deadline must be a positive number"),
    ]:
        bad = _serve_error(str(served.cube), flag, value)
        assert bad.returncode == 2 and words in bad.stderr, bad.stderr
        assert "Traceback" not in bad.stderr
