"""A client-side cap on requests in flight per model, that queues instead of failing.

The free models' limit is concurrency per account and model (error 1302), and the docs advise
a request queue. With ``max_concurrency=N`` a client holds at most N requests to each model
open at once; the next caller waits for a slot. A stream holds its slot until it is closed, so
the cap counts what the server counts. Off (None) by default: the cap depends on the account.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

__all__ = ["AsyncModelLimiter", "ModelLimiter", "Release"]

logger = logging.getLogger("zhipu_flash")

Release = Callable[[], None]


def _noop() -> None:
    return None


def _check(limit: int | None) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError("max_concurrency must be a positive integer or None.")
    return limit


def _once(release: Release) -> Release:
    done = False

    def release_once() -> None:
        nonlocal done
        if not done:
            done = True
            release()

    return release_once


class ModelLimiter:
    """Thread-safe per-model slots for :class:`~zhipu_flash.ZhipuClient`."""

    def __init__(self, limit: int | None) -> None:
        self.limit = _check(limit)
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}

    def acquire(self, model: str) -> Release:
        """Block until a slot for ``model`` is free; return the (idempotent) release."""
        if self.limit is None:
            return _noop
        with self._lock:
            slot = self._slots.setdefault(model, threading.BoundedSemaphore(self.limit))
        if not slot.acquire(blocking=False):
            logger.debug("max_concurrency=%d reached for %s; waiting for a slot", self.limit, model)
            slot.acquire()
        return _once(slot.release)


class AsyncModelLimiter:
    """Per-model slots for :class:`~zhipu_flash.AsyncZhipuClient`, per event loop (a semaphore
    belongs to the loop it was first awaited on, and a client may outlive ``asyncio.run``)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = _check(limit)
        self._slots: dict[tuple[int, str], asyncio.Semaphore] = {}

    async def acquire(self, model: str) -> Release:
        if self.limit is None:
            return _noop
        key = (id(asyncio.get_running_loop()), model)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = asyncio.BoundedSemaphore(self.limit)
        if slot.locked():
            logger.debug("max_concurrency=%d reached for %s; waiting for a slot", self.limit, model)
        await slot.acquire()
        return _once(slot.release)
