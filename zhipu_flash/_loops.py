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

A holder can also be dropped while its loops still run (a model made per request in a server
that never stops its loop): then each value is released in its own loop, soon, by a task.
Until then the guards are held by this module, not only by the holder. That matters: if a
value were reachable only through a dropped holder, a garbage collection could find the
holder, the guard and the value's connection pool in one unreachable cycle and finalize all
of it at once, and the pool's sockets would be closed by their ``__del__`` (a
``ResourceWarning`` for each) before the guard's release ever ran.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    # Every function here runs inside a running loop, so asyncio is imported by then; the
    # package does not import it for programs that never await (see
    # zhipu_flash._client._asleep).
    import asyncio

__all__ = ["PerLoop"]

T = TypeVar("T")

_Entries = dict["asyncio.AbstractEventLoop", tuple[Any, AsyncGenerator[None, None]]]

# Guards of values not yet released, per loop and keyed by the value's id (see the module
# docstring), and the tasks releasing values of dropped holders (the loop keeps tasks only
# weakly, and one must not vanish half-way).
_held_lock = threading.Lock()
_held: dict[asyncio.AbstractEventLoop, dict[int, AsyncGenerator[None, None]]] = {}
_releasing: set[asyncio.Task[None]] = set()


class _LoopGone(Exception):
    """Thrown into a guard whose loop closed without shutting its generators down."""


class PerLoop(Generic[T]):
    """``get()`` returns the value for the running loop, making it with ``create()`` on first
    use there; ``release(value)`` is awaited in that loop when it shuts down, by
    :meth:`aclose`, or soon after this holder is dropped.

    Values made in other loops are never handed out, so the holder is safe to share between
    threads that each run a loop.
    """

    def __init__(self, create: Callable[[], T], release: Callable[[T], Awaitable[None]]) -> None:
        self._create = create
        self._release = release
        self._lock = threading.Lock()
        self._entries: _Entries = {}
        # The callback holds the entries, never the holder, so the holder can be collected.
        weakref.finalize(self, _release_all, self._entries, self._lock)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self) -> T:
        """The value for the running loop (call it from a coroutine)."""
        import asyncio  # see the top of this module

        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.get(loop)
            if entry is not None:
                value: T = entry[0]
                return value
            _drop_closed_loops(self._entries)
            value = self._create()
            guard = _guard(loop, value, self._entries, self._lock, self._release)
            # Starting the generator (its first asend) registers it with this loop's
            # shutdown_asyncgens; it yields at once, so one step needs no running await.
            with contextlib.suppress(StopIteration):
                guard.asend(None).send(None)
            self._entries[loop] = (value, guard)
            with _held_lock:
                _held.setdefault(loop, {})[id(value)] = guard
            return value

    async def aclose(self) -> None:
        """Release the value of the running loop now (values of other loops are released when
        their loops shut down)."""
        import asyncio

        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.get(loop)
        if entry is not None:
            await entry[1].aclose()


async def _guard(
    loop: asyncio.AbstractEventLoop,
    value: Any,
    entries: _Entries,
    lock: threading.Lock,
    release: Callable[[Any], Awaitable[None]],
) -> AsyncGenerator[None, None]:
    # A module-level generator: its frame must not reference the holder (see _release_all).
    try:
        yield
    except _LoopGone:
        return  # nothing can run on a closed loop; the value is left to the GC
    except GeneratorExit:
        # shutdown_asyncgens(), aclose() or a dropped holder: the loop still runs, so release
        # properly.
        with lock:
            if entries.get(loop, (None,))[0] is value:
                del entries[loop]
        try:
            await release(value)
        finally:
            _unhold(loop, value)
        raise


def _unhold(loop: asyncio.AbstractEventLoop, value: Any) -> None:
    with _held_lock:
        guards = _held.get(loop)
        if guards is not None:
            guards.pop(id(value), None)
            if not guards:
                del _held[loop]


def _finish(loop: asyncio.AbstractEventLoop, value: Any, guard: AsyncGenerator[None, None]) -> None:
    """End a guard whose loop is closed, by hand, so its finalizer (which would schedule an
    aclose() on the dead loop) never runs."""
    with contextlib.suppress(StopIteration, StopAsyncIteration, RuntimeError):
        guard.athrow(_LoopGone()).send(None)
    _unhold(loop, value)


def _drop_closed_loops(entries: _Entries) -> None:
    # Called under the holder's lock.
    for loop in [loop for loop in entries if loop.is_closed()]:
        value, guard = entries.pop(loop)
        _finish(loop, value, guard)


def _release_all(entries: _Entries, lock: threading.Lock) -> None:
    """The holder is gone (from any thread, often inside a garbage collection): release each
    value in its own loop, by a task, or end its guard if that loop is closed."""
    with lock:
        items = list(entries.items())
        entries.clear()
    for loop, (value, guard) in items:
        if not loop.is_closed():
            try:
                loop.call_soon_threadsafe(_start_release, guard)
                continue
            except RuntimeError:  # closed in the meantime
                pass
        _finish(loop, value, guard)


def _start_release(guard: AsyncGenerator[None, None]) -> None:
    # In the guard's loop.
    import asyncio

    task = asyncio.get_running_loop().create_task(_close(guard))
    _releasing.add(task)
    task.add_done_callback(_releasing.discard)


async def _close(guard: AsyncGenerator[None, None]) -> None:
    # A coroutine of our own around aclose(): if the loop is ending (asyncio.run cancels the
    # tasks it has left) before this starts, the cancellation lands here and the guard is
    # untouched, still held, and closed by shutdown_asyncgens right after. aclose() on a guard
    # that shutdown_asyncgens already closed does nothing.
    await guard.aclose()
