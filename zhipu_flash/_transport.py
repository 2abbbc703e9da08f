"""The transports under the clients' own pools: TLS set up on first use, and connection pools
split into shards when many requests are in flight.

Two costs of a plain ``httpx.Client`` / ``httpx.AsyncClient`` that zhipu-flash does not pay:

- **Start-up.** httpx builds a verifying SSL context (loading certifi's CA bundle, about
  100 ms) when the client is built, even when every request will go to an ``http://`` URL
  (the emulator, a local proxy, the benchmark). Here each scheme gets its own httpx transport,
  built on its first request: ``https://`` requests get exactly the transport httpx would have
  built (``verify=True``, honouring ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), and plain-HTTP
  requests one whose SSL context is never used and cannot verify anything (it holds no CA, so
  it fails closed should it ever be asked to).
- **Many streams at once.** httpcore's pool looks at every connection and every request on
  each pool event (a request starting or a response closing: encode/httpcore#1035), so its
  cost per event grows with what the pool holds, and with thousands of streams the pool itself
  becomes most of the CPU. :class:`ShardedAsyncTransport` spreads requests over pools of at
  most :data:`SHARD_CONNECTIONS` connections each: a request goes to the first pool with a
  free connection (so sequential use stays on one pool and reuses its keep-alive connection),
  a new pool opens when all are busy, and past the client's connection limit requests queue
  in the least loaded pool, as they would in one pool.

Only public httpx interfaces are used: transports are ``httpx.(Async)BaseTransport``, the
pools are ``httpx.(Async)HTTPTransport``, and a response's ``stream`` is wrapped only to learn
when it closes (iterating it is the inner stream's own iterator, nothing added per chunk).
Environment proxies keep working: ``httpx.Client`` mounts its proxy transports in front of
this one.
"""

from __future__ import annotations

import math
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

import httpx

from ._constants import DEFAULT_LIMITS

__all__ = [
    "SHARD_CONNECTIONS",
    "LazyTLSTransport",
    "ShardedAsyncTransport",
    "limits_for",
]

#: Connections per pool shard: the default limit of one pool, below which httpcore's
#: per-event scan costs little (see the module docstring).
SHARD_CONNECTIONS = DEFAULT_LIMITS.max_connections or 50

T = TypeVar("T")  # httpx.HTTPTransport or httpx.AsyncHTTPTransport


def limits_for(max_concurrency: int | None) -> httpx.Limits:
    """A client's connection limits: :data:`~zhipu_flash._constants.DEFAULT_LIMITS`, with
    room for ``max_concurrency`` requests at once when that is more (a cap on requests that
    the pool would undercut by queueing them is no cap)."""
    if max_concurrency is None or max_concurrency <= SHARD_CONNECTIONS:
        return DEFAULT_LIMITS
    return httpx.Limits(
        max_connections=max_concurrency,
        max_keepalive_connections=DEFAULT_LIMITS.max_keepalive_connections,
        keepalive_expiry=DEFAULT_LIMITS.keepalive_expiry,
    )


_plain_context: ssl.SSLContext | None = None


def _no_tls_context() -> ssl.SSLContext:
    """The SSL context httpx requires of a transport that only ever carries plain HTTP: no CA
    is loaded (the cost this module avoids), and it still demands a verified certificate, so
    it could never carry an unverified TLS connection."""
    global _plain_context
    if _plain_context is None:
        _plain_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return _plain_context


class _Shard(Generic[T]):
    __slots__ = ("in_flight", "transport")

    def __init__(self, transport: T) -> None:
        self.transport: T = transport
        self.in_flight = 0


class _Shards(Generic[T]):
    """The pools of one scheme, the choice of pool per request, and their bookkeeping: the
    part the sync and async transports share."""

    def __init__(self, make: Callable[[ssl.SSLContext | bool, httpx.Limits], T], tls: bool,
                 limits: httpx.Limits, max_shards: int) -> None:  # fmt: skip
        self._make: Callable[[ssl.SSLContext | bool, httpx.Limits], T] = make
        self._tls = tls
        total = limits.max_connections
        if max_shards > 1 and total is not None and total > SHARD_CONNECTIONS:
            self.count = min(max_shards, math.ceil(total / SHARD_CONNECTIONS))
        else:
            self.count = 1
        per = None if total is None else math.ceil(total / self.count)
        self._limits = httpx.Limits(
            max_connections=per,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        )
        self._per = per
        self.shards: list[_Shard[T]] = []
        self._lock = threading.Lock()

    def take(self) -> _Shard[T]:
        """The shard for the next request, its count already raised."""
        with self._lock:
            chosen = None
            for shard in self.shards:
                if self._per is None or shard.in_flight < self._per:
                    chosen = shard
                    break
            if chosen is None:
                if len(self.shards) < self.count:
                    verify: ssl.SSLContext | bool = True if self._tls else _no_tls_context()
                    chosen = _Shard(self._make(verify, self._limits))
                    self.shards.append(chosen)
                else:
                    chosen = min(self.shards, key=lambda s: s.in_flight)
            chosen.in_flight += 1
            return chosen

    def give_back(self, shard: _Shard[T]) -> None:
        with self._lock:
            shard.in_flight -= 1

    def taken(self) -> list[T]:
        """The pools opened so far, emptied (for closing)."""
        with self._lock:
            transports = [s.transport for s in self.shards]
            self.shards = []
            return transports


class _Routes(Generic[T]):
    """One :class:`_Shards` per scheme, built on the first request that needs it."""

    def __init__(self, make: Callable[[ssl.SSLContext | bool, httpx.Limits], T],
                 limits: httpx.Limits, max_shards: int) -> None:  # fmt: skip
        self._make: Callable[[ssl.SSLContext | bool, httpx.Limits], T] = make
        self._limits = limits
        self._max_shards = max_shards
        self._schemes: dict[bool, _Shards[T]] = {}
        self._lock = threading.Lock()

    def shards(self, request: httpx.Request) -> _Shards[T]:
        tls = request.url.scheme != "http"
        found = self._schemes.get(tls)
        if found is None:
            with self._lock:
                found = self._schemes.get(tls)
                if found is None:
                    found = _Shards(self._make, tls, self._limits, self._max_shards)
                    self._schemes[tls] = found
        return found

    def transports(self) -> list[T]:
        """Every pool opened so far (empty until the first request)."""
        return [s.transport for shards in list(self._schemes.values()) for s in shards.shards]

    def take_all(self) -> list[T]:
        return [t for shards in list(self._schemes.values()) for t in shards.taken()]


class _Counted(httpx.SyncByteStream):
    """A response body that gives its shard back when closed; iteration is the inner one's."""

    def __init__(self, inner: httpx.SyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._inner)

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            if self._release is not None:
                release, self._release = self._release, None
                release()


class _AsyncCounted(httpx.AsyncByteStream):
    """The asyncio twin of :class:`_Counted`."""

    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._inner.__aiter__()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._release is not None:
                release, self._release = self._release, None
                release()


def _sync_pool(verify: ssl.SSLContext | bool, limits: httpx.Limits) -> httpx.HTTPTransport:
    return httpx.HTTPTransport(verify=verify, limits=limits)


def _async_pool(verify: ssl.SSLContext | bool, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    return httpx.AsyncHTTPTransport(verify=verify, limits=limits)


class LazyTLSTransport(httpx.BaseTransport):
    """The sync client's transport: one pool per scheme, built on its first request."""

    def __init__(self, limits: httpx.Limits = DEFAULT_LIMITS) -> None:
        self._routes: _Routes[httpx.HTTPTransport] = _Routes(_sync_pool, limits, max_shards=1)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        shards = self._routes.shards(request)
        shard = shards.take()
        try:
            response = shard.transport.handle_request(request)
        except BaseException:
            shards.give_back(shard)
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _Counted(response.stream, lambda: shards.give_back(shard))
        return response

    def transports(self) -> list[httpx.HTTPTransport]:
        """The httpx transports opened so far (for tests and diagnostics)."""
        return self._routes.transports()

    def close(self) -> None:
        for transport in self._routes.take_all():
            transport.close()


class ShardedAsyncTransport(httpx.AsyncBaseTransport):
    """The async client's transport: per scheme, up to ``ceil(max_connections / 50)`` pools
    built as the requests in flight need them (see the module docstring)."""

    def __init__(self, limits: httpx.Limits = DEFAULT_LIMITS) -> None:
        self._routes: _Routes[httpx.AsyncHTTPTransport] = _Routes(
            _async_pool, limits, max_shards=1 << 16
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        shards = self._routes.shards(request)
        shard = shards.take()
        try:
            response = await shard.transport.handle_async_request(request)
        except BaseException:
            shards.give_back(shard)
            raise
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _AsyncCounted(response.stream, lambda: shards.give_back(shard))
        return response

    def transports(self) -> list[httpx.AsyncHTTPTransport]:
        """The httpx transports opened so far (for tests and diagnostics)."""
        return self._routes.transports()

    async def aclose(self) -> None:
        for transport in self._routes.take_all():
            await transport.aclose()
