"""Admission of data requests by the memory they hold: a worker's subsets and time series
hold at most :data:`HELD_BYTES` at once while they are read and encoded, and the others
wait until they fit (a small request that fits goes ahead of a large one that waits), so
a worker's memory does not grow with the number of concurrent requests."""

from __future__ import annotations

import asyncio
from collections import deque

#: Bytes a worker's data requests hold at once, all of them together.
HELD_BYTES = 1 << 30
#: Bytes a request holds per byte of its float32 answer while it is read and encoded
#: (the files' DNs and masks per date, the values, the stacked array, the encoded body):
#: measured about 8 for a 17 MB npy subset (tests/deploy/test_never_read.py).
ANSWER_OVERHEAD = 8


class Admission:
    """A semaphore of bytes for one event loop: whoever fits is admitted, waiters in
    the order they came."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self.held = 0
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    def _cost(self, cost: int) -> int:
        return min(max(1, cost), self.capacity)  # one request alone always fits

    async def acquire(self, cost: int) -> None:
        """Wait until ``cost`` bytes fit beside those held."""
        cost = self._cost(cost)
        if self.held + cost <= self.capacity:
            self.held += cost
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((cost, turn))
        try:
            await turn
        except BaseException:
            if turn.done() and not turn.cancelled():
                self.release(cost)  # admitted as it was cancelled: give the bytes back
            else:
                turn.cancel()  # skipped when its turn comes
            raise

    def release(self, cost: int) -> None:
        """Give back what :meth:`acquire` took, and admit the waiters now fitting, in order."""
        self.held -= self._cost(cost)
        waiting: deque[tuple[int, asyncio.Future[None]]] = deque()
        for need, turn in self._waiting:
            if turn.done():
                continue
            if self.held + need <= self.capacity:
                self.held += need
                turn.set_result(None)
            else:
                waiting.append((need, turn))
        self._waiting = waiting
