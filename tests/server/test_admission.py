"""The worker's admission of data requests by bytes: whoever fits goes, never over
capacity, and a request that leaves while waiting takes nothing with it."""

from __future__ import annotations

import asyncio

from leafcube.server.admission import Admission


async def _admitted(room: Admission, cost: int, log: list[int], name: int) -> None:
    await room.acquire(cost)
    log.append(name)


def test_small_requests_go_ahead_of_a_waiting_large_one():
    async def run() -> None:
        room, log = Admission(100), []
        await room.acquire(60)
        big = asyncio.ensure_future(_admitted(room, 50, log, 0))
        await asyncio.sleep(0)  # let it queue (a scheduling point, not a wait for time)
        await _admitted(room, 10, log, 1)  # fits beside 60: not held up by the large one
        assert log == [1] and room.held == 70
        room.release(60)
        await big
        assert log == [1, 0] and room.held == 60

    asyncio.run(run())


def test_one_request_over_capacity_runs_alone():
    async def run() -> None:
        room = Admission(100)
        await room.acquire(500)  # a request larger than the room is admitted when alone
        assert room.held == 100
        later = asyncio.ensure_future(room.acquire(1))
        await asyncio.sleep(0)
        assert not later.done()
        room.release(500)
        await later
        assert room.held == 1

    asyncio.run(run())


def test_a_cancelled_wait_gives_back_its_turn():
    async def run() -> None:
        room, log = Admission(100), []
        await room.acquire(100)
        gone = asyncio.ensure_future(room.acquire(80))
        after = asyncio.ensure_future(_admitted(room, 30, log, 1))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.gather(gone, return_exceptions=True)
        room.release(100)
        await after
        assert log == [1] and room.held == 30  # the departed request holds nothing

    asyncio.run(run())


def test_admitted_as_it_is_cancelled_releases():
    async def run() -> None:
        room = Admission(100)
        await room.acquire(100)
        task = asyncio.ensure_future(room.acquire(50))
        await asyncio.sleep(0)
        room.release(100)  # admits the waiter: its bytes are taken...
        task.cancel()  # ...and it is cancelled before it resumes
        await asyncio.gather(task, return_exceptions=True)
        assert room.held == 0

    asyncio.run(run())
