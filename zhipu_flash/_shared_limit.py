"""``max_concurrency`` shared by every process and machine on one account, through Redis.

GLM counts requests in flight per account and model (1302). ``max_concurrency=N`` holds that
inside one process; ``concurrency_url="redis://host:6379/0"`` (or the environment variable
``ZHIPU_FLASH_CONCURRENCY_URL``) makes every process with the same URL, base URL host, API
key and model share one count of N.

How a slot is held:

- A slot is a *lease*: a member of a sorted set scored by its expiry, in milliseconds of the
  Redis server's clock (``TIME`` inside the scripts, so workers' clocks never matter). One
  Lua script takes a slot (dropping expired leases first), one renews, one releases: each
  step is atomic on the server.
- The set's key is ``zhipu-flash:{host|key hash|model}``: the host of the base URL, an
  HMAC-SHA256 of the API key (the key itself never leaves the process for Redis; the hash is
  of a random key, so it cannot be reversed by guessing), and the model. The braces keep a
  key's sets in one Redis Cluster slot.
- Waiting is a FIFO queue in Redis: a waiter takes a ticket (a sequence number) and gets a
  slot only when fewer requests hold slots than the limit minus the tickets ahead of it, so
  no process starves another, however many requests each sends. Waiters poll the script
  (5 ms doubling to 50 ms, jittered): a freed slot is noticed within one poll, and a queue of
  a few hundred waiters costs Redis a few thousand cheap script calls a second at most. A
  blocking wake-up (pub/sub, BLPOP) would save the polls but needs one connection per
  waiter and a second protocol for the same state. A ticket expires unless its waiter polls
  (a killed waiter does not block the queue); a cancelled or timed-out waiter removes its
  ticket at once.
- One thread per process (the *keeper*) renews every lease of the process, sync and async,
  every third of the lease time in one round trip per key, and performs the releases: a
  lease lives as long as its request, whatever the event loops do (a loop blocked by CPU
  work would starve a renewal task, and a task cannot outlive ``asyncio.run``). Releases go
  through the keeper because they are also triggered by garbage collection (a stream
  dropped unread), where no network call and no lock may be taken; the keeper hands the
  process's own slot back too, and releases everything still held when the process exits.
  A process killed with SIGKILL stops renewing, and its leases expire after the lease time.

Redis unreachable or failing (refused, timed out after 2 s, an error reply): the request goes
on under the process's own ``max_concurrency`` (which it took first anyway), never lost and
never held up past the socket timeout. The first fallback in a process emits one
:class:`SharedLimitWarning` (and every change of state a log record on the ``zhipu_flash``
logger carrying a :class:`SharedLimitEvent` as ``record.zhipu_flash_event``); Redis is tried
again after 5 s. While it is down, the fleet can exceed the account's limit by up to the
number of processes: a 1302 is then retried with backoff as always.

The limit is fixed at ``max_concurrency``. An adaptive limit (shrink on 1302, grow back
slowly) was not built: with the fleet's count exact, a 1302 means another application on the
key or an N above the account's, which a loopback emulator cannot tell apart from the real
thing, so no measurement here could show it helps; the retry with backoff already absorbs an
occasional 1302.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import hmac
import logging
import os
import queue
import random
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._constants import (
    CONCURRENCY_URL_ENV_VAR,
    DEFAULT_LEASE_SECONDS,
    REDIS_RETRY_INTERVAL,
    REDIS_SOCKET_TIMEOUT,
)
from ._exceptions import ConcurrencySlotTimeoutError, SharedLimitWarning
from ._limiter import Release
from ._loops import PerLoop

__all__ = [
    "SharedLimit",
    "SharedLimitEvent",
    "SharedLimitWarning",
    "key_hash",
    "redact_url",
    "scope_of",
    "shared_limit",
]

logger = logging.getLogger("zhipu_flash")

_POLL_FIRST = 0.005
_POLL_MAX = 0.05
#: A waiter's ticket lasts this long without a poll (capped by the lease time).
_TICKET_SECONDS = 3.0
#: A fixed key for the HMAC of API keys: every process must derive the same name.
_KEY_HASH_SECRET = b"zhipu-flash/shared-concurrency/v1"

# KEYS: holders, queue, tickets (waiters' expiries), sequence. ARGV: limit, lease ms, id,
# ticket ms, key ms. Returns {1, held} when the slot is taken, {0, held} when queued.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[3]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, ticket in ipairs(gone) do
  redis.call('ZREM', KEYS[2], ticket)
  redis.call('ZREM', KEYS[3], ticket)
end
local held = redis.call('ZCARD', KEYS[1])
local rank = redis.call('ZRANK', KEYS[2], id)
local ahead = rank
if not rank then
  ahead = redis.call('ZCARD', KEYS[2])
end
local taken = 0
if held + ahead < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
  if rank then
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
  end
  held = held + 1
  taken = 1
else
  if not rank then
    redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), id)
  end
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), id)
end
for i = 1, 4 do
  redis.call('PEXPIRE', KEYS[i], ARGV[5])
end
return {taken, held}
"""

# KEYS: holders. ARGV: lease ms, key ms, ids... A lease that expired meanwhile (a stalled
# process, a restarted Redis) is added back: its request is still in flight.
_RENEW = """
local t = redis.call('TIME')
local expiry = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], expiry, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return #ARGV - 2
"""

# KEYS: holders, queue, tickets. ARGV: ids (leases or tickets; either may be absent).
_RELEASE = """
for i = 1, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('ZREM', KEYS[3], ARGV[i])
end
return #ARGV
"""


@dataclass(frozen=True)
class SharedLimitEvent:
    """A change of state of a shared limit, on ``record.zhipu_flash_event`` of the log record
    that reports it: ``"fallback"`` (Redis failed; ``error`` says how) or ``"restored"``.
    ``url`` has its password removed."""

    kind: Literal["fallback", "restored"]
    url: str
    error: str | None = None


def redact_url(url: str) -> str:
    """``url`` without its password (``redis://user:***@host``), for reprs, logs and errors."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def key_hash(api_key: str) -> str:
    """The name of an API key in Redis: HMAC-SHA256, 128 bits, hex (never the key)."""
    digest = hmac.new(_KEY_HASH_SECRET, api_key.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:32]


def _keys(scope: str) -> tuple[str, str, str, str]:
    base = f"zhipu-flash:{{{scope}}}"
    return (f"{base}:holders", f"{base}:queue", f"{base}:tickets", f"{base}:seq")


def _options(url: str) -> tuple[str, float]:
    """The URL for redis-py, and the lease time taken from its ``lease`` query parameter."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError(
            f"concurrency_url must be a redis://, rediss:// or unix:// URL, got "
            f"{redact_url(url)!r} (set it, or {CONCURRENCY_URL_ENV_VAR}, to e.g. redis://host:6379/0)."
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    lease = DEFAULT_LEASE_SECONDS
    rest = []
    for name, value in query:
        if name == "lease":
            try:
                lease = float(value)
            except ValueError:
                lease = -1.0
            if not 0.1 <= lease <= 3600:
                raise ValueError(
                    f"concurrency_url's lease={value!r} must be seconds between 0.1 and 3600 "
                    f"(default {DEFAULT_LEASE_SECONDS:g})."
                )
        else:
            rest.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(rest))), lease


def _redis() -> Any:
    try:
        import redis
        import redis.asyncio
    except ImportError as exc:
        raise ImportError(
            "concurrency_url (or ZHIPU_FLASH_CONCURRENCY_URL) needs redis-py: "
            "pip install 'zhipu-flash[redis]'."
        ) from exc
    return redis


def _client_options(redis: Any, asyncio_client: bool) -> dict[str, Any]:
    # redis-py waits forever by default and retries with seconds of backoff: bounded here, so
    # a dead Redis costs a request at most a couple of timeouts. One retry covers a pooled
    # connection that a restarted Redis closed. Query parameters of the URL win.
    retry_module = redis.asyncio.retry if asyncio_client else redis.retry
    return {
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        "retry": retry_module.Retry(redis.backoff.NoBackoff(), 1),
    }


def _now() -> float:
    return time.monotonic()


class _Keeper:
    """The thread that renews the process's leases and performs every release."""

    def __init__(self, limit: SharedLimit) -> None:
        self._limit = limit
        self.pid = os.getpid()
        # SimpleQueue.put is safe in a weakref callback or __del__ (no lock is taken).
        self.queue: queue.SimpleQueue[tuple[str, str, Release | None]] = queue.SimpleQueue()
        self._live: dict[str, str] = {}  # lease id -> scope
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="zhipu-flash-leases", daemon=True)
        self._thread.start()

    def hold(self, lease_id: str, scope: str) -> None:
        with self._lock:
            self._live[lease_id] = scope

    def _run(self) -> None:
        period = self._limit.lease / 3
        next_renewal = _now() + period
        while True:
            items: list[tuple[str, str, Release | None]] = []
            wait = next_renewal - _now()
            if wait > 0:
                with contextlib.suppress(queue.Empty):
                    items.append(self.queue.get(timeout=wait))
            while True:
                try:
                    items.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            # Whatever goes wrong, the thread must go on: if it stopped, the process's own
            # slots released by garbage collection would never come back.
            try:
                if items:
                    self._release(items)
                # Checked after every batch: a steady stream of releases must not starve the
                # renewals of the requests still open.
                if _now() >= next_renewal:
                    next_renewal = _now() + period
                    self._renew()
            except Exception:
                logger.exception("the shared limit's keeper thread failed; it goes on")

    def _release(
        self, items: Sequence[tuple[str, str, Release | None]], at_exit: bool = False
    ) -> None:
        by_scope: dict[str, list[str]] = {}
        with self._lock:
            for lease_id, scope, _ in items:
                self._live.pop(lease_id, None)
                by_scope.setdefault(scope, []).append(lease_id)
        # The process's own slots first: they need no network.
        for _, _, local in items:
            if local is not None:
                local()
        self._limit._run_release(by_scope, at_exit)

    def _renew(self) -> None:
        by_scope: dict[str, list[str]] = {}
        with self._lock:
            for lease_id, scope in self._live.items():
                by_scope.setdefault(scope, []).append(lease_id)
        if by_scope:
            self._limit._run_renew(by_scope)

    def flush(self) -> None:
        """At exit: release what is queued and every lease still held."""
        if self.pid != os.getpid():
            return  # a forked child's copy: those leases are its parent's
        items: list[tuple[str, str, Release | None]] = []
        while True:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            items.extend((lease_id, scope, None) for lease_id, scope in self._live.items())
        if items:
            self._release(items, at_exit=True)


def _discard(
    q: queue.SimpleQueue[tuple[str, str, Release | None]],
    lease_id: str,
    scope: str,
    local: Release | None,
) -> None:
    q.put((lease_id, scope, local))


class _Held:
    """The release of one shared slot: idempotent, and run by garbage collection when the
    request's stream is dropped without being closed."""

    __slots__ = ("__weakref__", "_finalizer", "_local")

    def __init__(self, keeper: _Keeper, lease_id: str, scope: str, local: Release) -> None:
        self._local = local
        # At collection the keeper releases both slots (no lock may be taken there).
        self._finalizer = weakref.finalize(self, _discard, keeper.queue, lease_id, scope, local)
        self._finalizer.atexit = False  # the keeper's own exit hook releases what is held

    def __call__(self) -> None:
        detached = self._finalizer.detach()
        if detached is not None:
            q, lease_id, scope, _ = detached[2]
            self._local()  # at once: the next request of this process need not wait
            q.put((lease_id, scope, None))


class SharedLimit:
    """One Redis behind ``concurrency_url``, for every client of the process that names it.

    ``acquire``/``aacquire`` take a slot of ``scope`` after the caller took its process's
    own, and return the release of both.
    """

    def __init__(self, url: str) -> None:
        redis = _redis()
        self._url, self.lease = _options(url)
        self.url = redact_url(url)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._sync = redis.Redis.from_url(self._url, **_client_options(redis, False))
        self._acquire_script = self._sync.register_script(_ACQUIRE)
        self._renew_script = self._sync.register_script(_RENEW)
        self._release_script = self._sync.register_script(_RELEASE)

        def connect() -> tuple[Any, Any]:
            client = redis.asyncio.Redis.from_url(self._url, **_client_options(redis, True))
            return client, client.register_script(_ACQUIRE)

        async def close(value: tuple[Any, Any]) -> None:
            await value[0].aclose()

        self._async: PerLoop[tuple[Any, Any]] = PerLoop(connect, close)
        self._lease_ms = int(self.lease * 1000)
        self._ticket_ms = int(min(_TICKET_SECONDS, self.lease) * 1000)
        self._key_ms = int(self.lease * 2000) + 60_000
        self._state_lock = threading.Lock()
        self._down_until: float | None = None  # monotonic time Redis is tried again
        self._keeper: _Keeper | None = None

    def __repr__(self) -> str:
        return f"SharedLimit({self.url!r}, lease={self.lease:g})"

    # -- state ------------------------------------------------------------------------------

    def _available(self) -> bool:
        with self._state_lock:
            return self._down_until is None or _now() >= self._down_until

    def _failed(self, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"
        with self._state_lock:
            first = self._down_until is None
            self._down_until = _now() + REDIS_RETRY_INTERVAL
        if first:
            event = SharedLimitEvent("fallback", self.url, error)
            logger.warning(
                "the Redis at %s failed (%s); max_concurrency is enforced per process until "
                "it answers again (retried every %g s)",
                self.url,
                error,
                REDIS_RETRY_INTERVAL,
                extra={"zhipu_flash_event": event},
            )

    def _answered(self) -> None:
        with self._state_lock:
            if self._down_until is None:
                return
            self._down_until = None
        event = SharedLimitEvent("restored", self.url)
        logger.info(
            "the Redis at %s answers again; max_concurrency is shared again",
            self.url,
            extra={"zhipu_flash_event": event},
        )

    def _fallback(self, local: Release) -> Release:
        if self.url not in _warned:
            _warned.add(self.url)
            warnings.warn(
                f"The Redis at {self.url} (concurrency_url) is unreachable or failing: "
                "max_concurrency now holds per process, so several processes together may "
                "exceed the account's limit (GLM's 1302 is retried). See the zhipu_flash "
                "log for the error; Redis is tried again every "
                f"{REDIS_RETRY_INTERVAL:g} s.",
                SharedLimitWarning,
                stacklevel=2,
            )
        return local

    def _keeper_here(self) -> _Keeper:
        # A forked child (gunicorn --preload) has no keeper thread: it starts its own.
        keeper = self._keeper
        if keeper is None or keeper.pid != os.getpid():
            with self._state_lock:
                keeper = self._keeper
                if keeper is None or keeper.pid != os.getpid():
                    keeper = self._keeper = _Keeper(self)
                    atexit.register(keeper.flush)
        return keeper

    # -- taking a slot --------------------------------------------------------------------

    def _args(self, limit: int, lease_id: str) -> list[Any]:
        return [limit, self._lease_ms, lease_id, self._ticket_ms, self._key_ms]

    def _granted(self, reply: Any, scope: str, lease_id: str, local: Release) -> Release | None:
        taken, _held = (int(x) for x in reply)
        if not taken:
            return None
        keeper = self._keeper_here()
        keeper.hold(lease_id, scope)
        return _Held(keeper, lease_id, scope, local)

    def _pause(
        self, reply: Any, model: str, limit: int, start: float, timeout: float | None, delay: float
    ) -> float:
        """How long a waiter sleeps before it asks again: ``delay`` with jitter, never past the
        timeout; the typed timeout once it has passed (the sans-I/O step of both wait loops)."""
        waited = _now() - start
        if timeout is not None and waited >= timeout:
            raise self._timed_out(model, limit, reply, waited)
        pause = delay * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not secrecy)
        if timeout is not None:
            pause = min(pause, max(0.0, timeout - waited))
        return pause

    def _timed_out(
        self, model: str, limit: int, reply: Any, waited: float
    ) -> ConcurrencySlotTimeoutError:
        held = int(reply[1])
        return ConcurrencySlotTimeoutError(
            f"No slot of max_concurrency={limit} for {model} came free within {waited:.3g} s: "
            f"{held} request(s) hold the slots shared through {self.url} (every process on "
            "this API key and host). Raise the client's timeout (the pool part of an "
            "httpx.Timeout bounds this wait), send fewer requests at once across the "
            "workers, or raise max_concurrency if the account allows more. Nothing was sent."
        )

    def _abandon(self, scope: str, lease_id: str) -> None:
        # A ticket, or a lease granted by a reply we never read: remove both, by the keeper.
        self._keeper_here().queue.put((lease_id, scope, None))

    def acquire(
        self, scope: str, model: str, limit: int, timeout: float | None, local: Release
    ) -> Release:
        """Block until a shared slot of ``scope`` is free (the caller holds ``local``, its
        process's own slot); return the release of both."""
        if not self._available():
            return self._fallback(local)
        lease_id = uuid.uuid4().hex
        keys = _keys(scope)
        args = self._args(limit, lease_id)
        start = _now()
        delay = _POLL_FIRST
        try:
            while True:
                reply = self._acquire_script(keys=keys, args=args)
                self._answered()
                release = self._granted(reply, scope, lease_id, local)
                if release is not None:
                    return release
                time.sleep(self._pause(reply, model, limit, start, timeout, delay))
                delay = min(delay * 2, _POLL_MAX)
        except self._errors as exc:
            self._failed(exc)
            self._abandon(scope, lease_id)
            return self._fallback(local)
        except BaseException:
            self._abandon(scope, lease_id)
            local()
            raise

    async def aacquire(
        self, scope: str, model: str, limit: int, timeout: float | None, local: Release
    ) -> Release:
        """The asyncio twin of :meth:`acquire`; a cancelled waiter leaves no ticket."""
        import asyncio  # not with the package: see zhipu_flash._client._asleep

        if not self._available():
            return self._fallback(local)
        lease_id = uuid.uuid4().hex
        keys = _keys(scope)
        args = self._args(limit, lease_id)
        start = _now()
        delay = _POLL_FIRST
        trip: asyncio.Future[Any] | None = None
        try:
            _, script = self._async.get()
            while True:
                # Each round trip is a task of its own, shielded: redis-py bounds its send
                # with asyncio.wait_for, which on Python <= 3.11 drops a cancel that arrives
                # as the send completes (CPython gh-86296), and this loop would then poll on
                # until its timeout. Shielded, a cancel always reaches this await; the trip
                # runs to its end (a socket timeout at most) and is abandoned after it.
                trip = asyncio.ensure_future(script(keys=keys, args=args))
                reply = await asyncio.shield(trip)
                self._answered()
                release = self._granted(reply, scope, lease_id, local)
                if release is not None:
                    return release
                await asyncio.sleep(self._pause(reply, model, limit, start, timeout, delay))
                delay = min(delay * 2, _POLL_MAX)
        except self._errors as exc:
            self._failed(exc)
            self._abandon(scope, lease_id)
            return self._fallback(local)
        except BaseException:
            if trip is None or trip.done():
                self._abandon(scope, lease_id)
            else:  # removed only after the trip, which may still queue or grant it
                trip.add_done_callback(lambda _: self._abandon(scope, lease_id))
            local()
            raise

    # -- the keeper's round trips ---------------------------------------------------------

    def _call(self, script: Any, calls: Sequence[tuple[Sequence[str], Sequence[Any]]]) -> None:
        # One round trip either way; a pipeline costs more CPU than it saves for one call.
        if len(calls) == 1:
            script(keys=calls[0][0], args=calls[0][1])
            return
        with self._sync.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                script(keys=keys, args=args, client=pipe)
            pipe.execute()

    def _run_release(self, by_scope: dict[str, list[str]], at_exit: bool = False) -> None:
        calls = [(_keys(scope)[:3], ids) for scope, ids in by_scope.items()]
        try:
            self._call(self._release_script, calls)
        except self._errors as exc:
            # The leases expire by themselves; the tickets sooner. At exit there is nobody
            # left to tell.
            if at_exit:
                logger.debug("could not release shared slots at exit: %r", exc)
            else:
                self._failed(exc)

    def _run_renew(self, by_scope: dict[str, list[str]]) -> None:
        head = [self._lease_ms, self._key_ms]
        calls = [(_keys(scope)[:1], [*head, *ids]) for scope, ids in by_scope.items()]
        try:
            self._call(self._renew_script, calls)
        except self._errors as exc:
            self._failed(exc)
        else:
            self._answered()

    def holders(self, scope: str) -> list[tuple[str, int]]:
        """The leases of ``scope`` now, as (id, expiry in ms of the Redis server's clock)."""
        return [
            (member.decode(), int(score))
            for member, score in self._sync.zrange(_keys(scope)[0], 0, -1, withscores=True)
        ]

    def queued(self, scope: str) -> int:
        """The waiters queued for ``scope`` now."""
        return int(self._sync.zcard(_keys(scope)[1]))


_warned: set[str] = set()
_limits: dict[str, SharedLimit] = {}
_limits_lock = threading.Lock()


def shared_limit(url: str) -> SharedLimit:
    """The process's :class:`SharedLimit` for ``url`` (one Redis pool and keeper per URL)."""
    with _limits_lock:
        limit = _limits.get(url)
        if limit is None:
            limit = _limits[url] = SharedLimit(url)
        return limit


def scope_of(base_url: str, api_key: str, model: str) -> str:
    """What shares one count: the base URL's host (and port), the key's hash, the model."""
    parts = urlsplit(base_url)
    host = (parts.hostname or "").lower()
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return f"{host}|{key_hash(api_key)}|{model}"
