"""HTTP for the client: one HTTP/2 connection pool, a bounded number of requests in flight,
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


def untrusted(exc: BaseException) -> bool:
    """True when ``exc`` comes from a certificate that failed verification: trying again
    cannot help, the CA has to be trusted (``SSL_CERT_FILE``)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def new_client(h2c: bool, timeout: float) -> httpx.AsyncClient:
    """An HTTP client (no I/O yet): HTTP/2 over TLS always, h2c only for a server known to
    speak it, HTTP/1.1 otherwise."""
    return httpx.AsyncClient(
        verify=ssl_context(),
        http2=True,
        http1=not h2c,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=True,
    )


class Fetcher:
    """Requests over one ``httpx.AsyncClient`` (a ``Cube``'s connection pool, which it
    closes), at most ``concurrency`` in flight, retried by ``policy``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        concurrency: int = 8,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.client = client
        self.policy = policy or RetryPolicy()
        self._limit = asyncio.Semaphore(max(1, concurrency))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()

    async def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """A response under 400, after retrying what is worth retrying.

        Raises :class:`ClientError` with the server's message for other 4xx answers, and
        the last ``httpx`` error (or a ClientError for a 5xx) once retries are spent.
        """
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                async with self._limit:
                    response = await self.client.request(method, url, **kw)
            except httpx.TransportError as exc:
                if attempt >= self.policy.retries or untrusted(exc):
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
