"""HTTP for the client: one HTTP/2 connection, a bounded number of requests in flight,
timeouts, and retries with backoff on 429, 5xx and broken connections (honouring
``Retry-After``)."""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import ssl
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import certifi
import httpx
import orjson

from .errors import ClientError, TooLarge

#: Statuses worth retrying: rate limiting and a server or gateway that is down or busy.
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed request is tried again."""

    retries: int = 5
    backoff: float = 0.5
    max_wait: float = 30.0
    timeout: float = 60.0

    def delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        """Seconds to wait before try ``attempt + 1``: ``Retry-After`` or jittered backoff."""
        after = retry_after(response) if response is not None else None
        if after is not None:
            return min(after, self.max_wait)
        wait = self.backoff * 2**attempt
        return min(wait * (0.75 + random.random() / 2), self.max_wait)


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` of a response in seconds (delta-seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_message(response: httpx.Response) -> str:
    """The human message of an error response (``detail`` of a JSON body, or its text)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        text = response.text.strip()
        return text[:300] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            if key in body:
                detail = body[key]
                return detail if isinstance(detail, str) else orjson.dumps(detail).decode()
    return orjson.dumps(body).decode()[:300]


@cache
def _ssl_context(cafile: str | None, capath: str | None) -> ssl.SSLContext:
    """A context trusting ``cafile``/``capath`` when set, else certifi's bundle."""
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    return ssl.create_default_context(cafile=certifi.where())


def ssl_context() -> ssl.SSLContext:
    """The TLS context for the CA settings in force (``SSL_CERT_FILE``, ``SSL_CERT_DIR``),
    made once per setting: loading a CA bundle costs ~50 ms."""
    return _ssl_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


def client_kwargs(h2c: bool, timeout: float) -> dict[str, Any]:
    """httpx client options: HTTP/2 over TLS always, h2c only for a server known to speak it."""
    return {
        "verify": ssl_context(),
        "http2": True,
        "http1": not h2c,
        "timeout": httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        "follow_redirects": True,
    }


class Fetcher:
    """An ``httpx.AsyncClient`` with bounded concurrency and retries; use as ``async with``."""

    def __init__(self, h2c: bool = False, concurrency: int = 8, policy: RetryPolicy | None = None):
        self.policy = policy or RetryPolicy()
        self._kwargs = client_kwargs(h2c, self.policy.timeout)
        self._limit = asyncio.Semaphore(max(1, concurrency))
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Fetcher:
        self._client = httpx.AsyncClient(**self._kwargs)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """A 2xx response, after retrying what is worth retrying.

        Raises :class:`ClientError` with the server's message for other 4xx answers, and
        the last ``httpx`` error (or a ClientError for a 5xx) once retries are spent.
        """
        assert self._client is not None, "use Fetcher as an async context manager"
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                async with self._limit:
                    response = await self._client.request(method, url, **kw)
            except httpx.TransportError:
                if attempt >= self.policy.retries:
                    raise
            else:
                if response.status_code < 400:
                    return response
                if response.status_code == 413:
                    raise TooLarge(f"413: {error_message(response)}")
                if response.status_code not in RETRY_STATUS:
                    raise ClientError(f"{response.status_code}: {error_message(response)}")
                if attempt >= self.policy.retries:
                    raise ClientError(
                        f"{response.status_code} after {attempt + 1} tries: "
                        f"{error_message(response)}"
                    )
            await asyncio.sleep(self.policy.delay(attempt, response))
            attempt += 1
