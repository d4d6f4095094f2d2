"""A worker's memory report and its periodic trim: free heap pages between live blocks go
back to the system (the fragmentation a soak showed growing once the caches were full)."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from tests.hardening.conftest import _status_kb, process_tree

FRAGMENT = """
import gc
from leafcube.server.memory import heap, rss_mb, trim

blocks = [bytearray(4000) for _ in range(100_000)]  # 400 MB, each from malloc (> 512 B)
del blocks[::2]  # every other block freed: pages half free, none at the heap's top alone
kept = blocks[-1000:]
del blocks[:-1000]  # most of the rest too, keeping the last ones (the heap cannot shrink)
gc.collect()
before, free = rss_mb(), heap().free_mb
assert trim()
print(before, free, rss_mb())
"""


def test_trim_hands_free_pages_back():
    out = subprocess.run([sys.executable, "-c", FRAGMENT], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    before, free, after = map(float, out.stdout.split())
    assert free > 300  # the heap kept what was freed ...
    assert before - after > 0.75 * free, (before, free, after)  # ... and trim handed it back


def test_memory_report(served):
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=served.url, timeout=30) as c:
        c.get(f"/api/collections/{served.collection}/timeseries", params={
            "layers": "LAI", "lon": "-107.42", "lat": "53.81",
        }).raise_for_status()  # fmt: skip
        while True:
            report = c.get("/api/memory").json()
            if report["trims"] >= 1 or time.monotonic() > deadline:
                break
    assert report["trims"] >= 1, report  # a trim every 10 s
    peak_mb = max(_status_kb(pid, "VmHWM") for pid in process_tree(served.pid)) / 1024
    assert 0 < report["rss_mb"] <= peak_mb + 1  # the worker's own, in MB
    assert report["heap"]["in_use_mb"] > 0 and report["heap"]["free_mb"] >= 0
    assert report["open_datasets"] >= 1 and report["part_bytes"] > 0
    assert 0 <= report["trim_last_ms"] <= report["trim_max_ms"]
