"""One value per running asyncio event loop, released when that loop shuts down.

An ``httpx.AsyncClient``'s pooled connections belong to the loop that opened them: used from
another loop they fail with ``RuntimeError: Event loop is closed``. A framework model outlives
loops all the time (``asyncio.run`` twice in a script, notebooks, pytest's loop per test), so
it needs one async client per loop, created on first use there and closed with the loop.

Closing with the loop uses the hook every asyncio runner already calls: ``asyncio.run``,
``asyncio.Runner`` and pytest-asyncio end a loop with ``loop.shutdown_asyncgens()``, which
``aclose()``s every async generator that loop has started. Each value gets a small guard
generator, started in its loop, whose ``aclose()`` releases the value while the loop still
runs. A loop closed without that call (a hand-driven ``loop.close()``) cannot run anything
any more; its entry is dropped at the next use from another loop, without a release.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["PerLoop"]

T = TypeVar("T")


class _LoopGone(Exception):
    """Thrown into a guard whose loop closed without shutting its generators down."""


class PerLoop(Generic[T]):
    """``get()`` returns the value for the running loop, making it with ``create()`` on first
    use there; ``release(value)`` is awaited in that loop when it shuts down, or by
    :meth:`aclose`.

    Values made in other loops are never handed out, so the holder is safe to share between
    threads that each run a loop.
    """

    def __init__(self, create: Callable[[], T], release: Callable[[T], Awaitable[None]]) -> None:
        self._create = create
        self._release = release
        self._lock = threading.Lock()
        self._entries: dict[asyncio.AbstractEventLoop, tuple[T, AsyncGenerator[None, None]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self) -> T:
        """The value for the running loop (call it from a coroutine)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.get(loop)
            if entry is not None:
                return entry[0]
            self._drop_closed_loops()
            value = self._create()
            guard = self._guard(loop, value)
            # Starting the generator (its first asend) registers it with this loop's
            # shutdown_asyncgens; it yields at once, so one step needs no running await.
            with contextlib.suppress(StopIteration):
                guard.asend(None).send(None)
            self._entries[loop] = (value, guard)
            return value

    async def _guard(self, loop: asyncio.AbstractEventLoop, value: T) -> AsyncGenerator[None, None]:
        try:
            yield
        except _LoopGone:
            return  # nothing can run on a closed loop; the value is left to the GC
        except GeneratorExit:
            # shutdown_asyncgens() or aclose(): the loop still runs, so release properly.
            with self._lock:
                if self._entries.get(loop, (None,))[0] is value:
                    del self._entries[loop]
            await self._release(value)
            raise

    def _drop_closed_loops(self) -> None:
        # Called under the lock. Finishing the guard by hand keeps its finalizer (which would
        # schedule an aclose() on the dead loop) from ever running.
        for loop in [loop for loop in self._entries if loop.is_closed()]:
            _, guard = self._entries.pop(loop)
            with contextlib.suppress(StopIteration, StopAsyncIteration):
                guard.athrow(_LoopGone()).send(None)

    async def aclose(self) -> None:
        """Release the value of the running loop now (values of other loops are released when
        their loops shut down)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.get(loop)
        if entry is not None:
            await entry[1].aclose()
