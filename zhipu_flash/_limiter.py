"""A client-side cap on requests in flight per model, that queues instead of failing.

The free models' limit is concurrency per account and model (error 1302), and the docs advise
a request queue. With ``max_concurrency=N`` at most N requests to each model are open at once;
the next caller waits for a slot, first come first served. A stream holds its slot until it is
closed, so the cap counts what the server counts. Off (None) by default: the cap depends on
the account.

One :class:`ConcurrencyLimit` serves blocking callers (threads) and asyncio callers alike, on
any number of event loops: the count lives under a thread lock, a thread waits on an event, a
coroutine on a future of its own loop, and a freed slot is handed straight to the next waiter.
That is what lets a framework model share one cap between its sync client and the async
clients of every loop it is used from.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Imported where an asyncio caller first waits, not with the package (see
    # zhipu_flash._client._asleep).
    import asyncio

__all__ = ["ConcurrencyLimit", "Release", "as_limit", "no_release"]

logger = logging.getLogger("zhipu_flash")

Release = Callable[[], None]


def no_release() -> None:
    """The release of a request that took no slot (no cap set): nothing to give back."""


class _Waiter:
    # Plain classes, not dataclasses, here: making a dataclass compiles its methods at import,
    # which is most of what this module costs ``import zhipu_flash``.
    __slots__ = ("event", "future", "granted", "loop")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.loop = loop  # None: a thread waiting on ``event``
        self.future = future
        self.event = threading.Event()
        self.granted = False  # the slot was handed over; whoever holds it must release it

    def wake(self) -> bool:
        """Tell the waiter its slot is ready; False when it can never run again (its loop is
        closed), so the slot goes to the next one."""
        if self.loop is None:
            self.event.set()
            return True
        try:
            self.loop.call_soon_threadsafe(self._resolve)
        except RuntimeError:  # the loop is closed
            return False
        return True

    def _resolve(self) -> None:
        if self.future is not None and not self.future.done():
            self.future.set_result(None)


class _Slots:
    __slots__ = ("in_flight", "waiters")

    def __init__(self) -> None:
        self.in_flight = 0
        self.waiters: deque[_Waiter] = deque()


class ConcurrencyLimit:
    """At most ``limit`` requests per model in flight, for every client that shares it.

    Pass it (or an int, which makes a private one) as ``max_concurrency`` to
    :class:`~zhipu_flash.ZhipuClient` and :class:`~zhipu_flash.AsyncZhipuClient`; clients that
    share one object share the cap, whatever thread or event loop they run on.
    """

    def __init__(self, limit: int) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("max_concurrency must be a positive integer or None.")
        self.limit = limit
        self._lock = threading.Lock()
        self._models: dict[str, _Slots] = {}

    def __repr__(self) -> str:
        return f"ConcurrencyLimit({self.limit})"

    def in_flight(self, model: str) -> int:
        """Requests to ``model`` holding a slot now."""
        with self._lock:
            slots = self._models.get(model)
            return slots.in_flight if slots else 0

    def _try_take(self, model: str) -> tuple[_Slots, bool]:
        slots = self._models.setdefault(model, _Slots())
        if slots.in_flight < self.limit and not slots.waiters:
            slots.in_flight += 1
            return slots, True
        return slots, False

    def acquire(self, model: str) -> Release:
        """Block the thread until a slot for ``model`` is free; return the (idempotent)
        release."""
        with self._lock:
            slots, taken = self._try_take(model)
            if taken:
                return self._release_for(model)
            waiter = _Waiter()
            slots.waiters.append(waiter)
        logger.debug("max_concurrency=%d reached for %s; waiting for a slot", self.limit, model)
        try:
            waiter.event.wait()
        except BaseException:  # KeyboardInterrupt while waiting
            self._abandon(model, waiter)
            raise
        return self._release_for(model)

    async def aacquire(self, model: str) -> Release:
        """Wait (without blocking the loop) until a slot for ``model`` is free; return the
        (idempotent) release."""
        with self._lock:
            slots, taken = self._try_take(model)
            if taken:
                return self._release_for(model)
            import asyncio  # see the top of this module

            loop = asyncio.get_running_loop()
            waiter = _Waiter(loop=loop, future=loop.create_future())
            slots.waiters.append(waiter)
        logger.debug("max_concurrency=%d reached for %s; waiting for a slot", self.limit, model)
        assert waiter.future is not None
        try:
            await waiter.future
        except BaseException:  # cancelled while queued
            self._abandon(model, waiter)
            raise
        return self._release_for(model)

    def _abandon(self, model: str, waiter: _Waiter) -> None:
        with self._lock:
            if not waiter.granted:
                self._models[model].waiters.remove(waiter)
                return
        # The slot reached us just as we gave up: pass it on.
        self._release(model)

    def _release_for(self, model: str) -> Release:
        done = False

        def release() -> None:
            nonlocal done
            if not done:
                done = True
                self._release(model)

        return release

    def _release(self, model: str) -> None:
        with self._lock:
            slots = self._models[model]
            while slots.waiters:
                waiter = slots.waiters.popleft()
                waiter.granted = True
                if waiter.wake():
                    return  # the slot changes hands; in_flight stays the same
            slots.in_flight -= 1


def as_limit(max_concurrency: int | ConcurrencyLimit | None) -> ConcurrencyLimit | None:
    """A client's ``max_concurrency`` argument as a shared limit (or None: no cap)."""
    if max_concurrency is None or isinstance(max_concurrency, ConcurrencyLimit):
        return max_concurrency
    return ConcurrencyLimit(max_concurrency)
