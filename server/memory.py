"""A worker's memory, for monitoring and the soak: what the process holds (RSS), how much
of its C heap is in use and how much is free but kept (glibc's ``mallinfo2``), and what
its bounded caches hold. Growth in *in use* is retention; growth in *free* is the heap's
fragmentation, which :func:`trim` hands back to the system."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import time
from dataclasses import dataclass, field
from functools import cache

MB = 1 << 20
#: Seconds between two :func:`trim` calls of a worker. Without them, a soak's worker grew
#: +13 % in 8 minutes after its caches were full, all of it free heap (fragmentation:
#: freed decoder and block buffers between live ones); with them it stayed within 4 %.
TRIM_EVERY_S = 10.0
#: The environment variable that changes it (``0`` turns trimming off: the benchmarks'
#: "before").
ENV_TRIM = "LEAFCUBE_TRIM_EVERY_S"


def trim_every_s() -> float:
    """:data:`TRIM_EVERY_S`, or what ``LEAFCUBE_TRIM_EVERY_S`` says (0 or less: never)."""
    try:
        return float(os.environ.get(ENV_TRIM, TRIM_EVERY_S))
    except ValueError:
        return TRIM_EVERY_S


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


@cache
def _libc() -> ctypes.CDLL | None:
    """glibc, when this process runs on it and it has ``mallinfo2`` (2.33 and later)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        libc.mallinfo2.restype = _Mallinfo2
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError, TypeError):
        return None
    return libc


@dataclass(frozen=True)
class Heap:
    """The C heap over every malloc arena, in MB: in use, free but kept, and mmapped."""

    in_use_mb: float
    free_mb: float
    mmapped_mb: float


def heap() -> Heap | None:
    """The C heap's figures now; None off glibc."""
    libc = _libc()
    if libc is None:
        return None
    info = libc.mallinfo2()
    return Heap(info.uordblks / MB, info.fordblks / MB, info.hblkhd / MB)


def rss_mb() -> float:
    """This process's resident memory (Linux ``/proc/self/statm``), in MB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MB


def trim() -> bool:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``, which
    releases whole free pages inside every arena, not only at its top); False off glibc."""
    libc = _libc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


@dataclass
class Trimmer:
    """Calls :func:`trim` every :data:`TRIM_EVERY_S` seconds on a thread, and counts the
    calls and their time (a trim holds each arena's lock while it walks it)."""

    every_s: float = field(default_factory=trim_every_s)
    count: int = 0
    last_ms: float = 0.0
    max_ms: float = 0.0

    def _once(self) -> None:
        t = time.perf_counter()
        trim()
        self.last_ms = (time.perf_counter() - t) * 1e3
        self.max_ms = max(self.max_ms, self.last_ms)
        self.count += 1

    async def run(self) -> None:
        """Trim until cancelled (the worker's shut-down); never when ``every_s`` <= 0."""
        while self.every_s > 0:
            await asyncio.sleep(self.every_s)  # a period, not a synchronisation
            await asyncio.to_thread(self._once)
