"""The client's own event loop, on a thread of its own: a ``Cube``'s HTTP/2 connections
belong to one loop for the ``Cube``'s whole life, whichever loop (or none) its caller
runs, so blocking calls, notebooks (which run a loop already) and ``async`` code all
share one connection pool."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class LoopClosed(RuntimeError):
    """The loop was closed: it runs nothing more."""


class Loop:
    """An event loop on a daemon thread, started on first use (constructing one starts
    nothing) and stopped by :meth:`close`."""

    def __init__(self, name: str = "leafcube-client") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise LoopClosed("closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=loop.run_forever, name=self._name, daemon=True
                )
                self._thread.start()
                self._loop = loop
            return self._loop

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Schedule ``coro`` on the loop."""
        try:
            loop = self._started()
        except LoopClosed:
            coro.close()
            raise
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for it (also from inside another running
        loop, as in Jupyter); an interrupt while waiting cancels it."""
        if self._on_loop():
            coro.close()
            raise RuntimeError("a blocking leafcube call inside its own loop: await the _async one")
        future = self.submit(coro)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` run on the loop, from any loop; cancelling the caller cancels it."""
        if self._on_loop():
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def close(self) -> None:
        """Stop the loop and its thread (after the coroutines it runs have been closed by
        their owner). Closing twice does nothing."""
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if threading.current_thread() is thread:
            loop.call_soon(loop.stop)  # closed from a coroutine on the loop itself
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
