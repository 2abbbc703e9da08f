"""The core clients behind one framework model object (``ChatZhipuFlash``, ``ZhipuFlash``).

A LangChain or LlamaIndex model is configuration that users copy, pickle, change in place and
call from threads and from several event loops. The HTTP clients behind it are none of that:
they are caches, built from the configuration when a call needs one. :class:`ModelClients`
keeps those caches so the adapters need not:

- clients are built at the first call (a model constructs without a key or a network);
- they are keyed by :class:`ClientSettings`: change ``base_url``, the key, ``timeout`` or
  ``max_retries`` (in place or through ``model_copy(update=...)``) and the next call uses a
  client built from the new settings, never the old server or key;
- the sync client uses the process-wide pool (``shared_http_client`` in
  :mod:`zhipu_flash._pool`) unless one is injected, so discarded models leak no sockets;
- async clients are one per running event loop, closed when that loop shuts down, or in
  their loop soon after the cache is dropped (:mod:`zhipu_flash._loops`), so ``asyncio.run``
  twice works and a model dropped mid-loop leaves nothing open;
- one :class:`~zhipu_flash.ConcurrencyLimit` per ``max_concurrency`` value is shared by the
  sync client and every async client, so the cap holds across invoke, stream, batch, threads
  and loops; with a ``concurrency_url`` (or ``ZHIPU_FLASH_CONCURRENCY_URL``) it is shared by
  every process on the same Redis, API key, host and model too;
- ``copy.deepcopy`` and ``pickle`` give an empty cache (locks and sockets are not state).

:class:`SharedLimitEvent` is what a log handler (or a framework callback reading the
``zhipu_flash`` log) finds on ``record.zhipu_flash_event`` when a shared limit falls back to
the process's own or comes back.

:func:`nearest_name` is the other thing both framework models share: the valid setting an
unknown keyword argument was meant to be, for the error that refuses it.
"""

from __future__ import annotations

import difflib
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from ._client import AsyncZhipuClient, ZhipuClient
from ._limiter import ConcurrencyLimit
from ._loops import PerLoop
from ._pool import as_timeout, shared_http_client
from ._shared_limit import SharedLimitEvent

__all__ = ["ClientSettings", "ModelClients", "SharedLimitEvent", "nearest_name"]

#: Settings seen at once by one cache (a model and the copies that share its cache); the
#: oldest are dropped (async pools close with their loops, sync clients use the shared pool).
_MAX_SETTINGS = 4


@dataclass(frozen=True, repr=False)
class ClientSettings:
    """Everything a core client is built from. Equal settings share clients."""

    api_key: str | None = None
    base_url: str | None = None
    timeout: float | httpx.Timeout | None = None
    max_retries: int = 2
    http_client: httpx.Client | None = None
    async_http_client: httpx.AsyncClient | None = None
    max_concurrency: int | None = None
    #: Shares ``max_concurrency`` through Redis; None: ``ZHIPU_FLASH_CONCURRENCY_URL``.
    concurrency_url: str | None = None

    def __repr__(self) -> str:
        # Never the key.
        state = "set" if self.api_key else "unset"
        return f"ClientSettings(base_url={self.base_url!r}, api_key=<{state}>, ...)"

    def _key(self) -> tuple[Any, ...]:
        # httpx.Timeout is unhashable; its four numbers are the setting. Injected clients count
        # by identity: a different object is a different pool.
        t = as_timeout(self.timeout) if self.timeout is not None else None
        timeout = (t.connect, t.read, t.write, t.pool) if t is not None else None
        return (
            self.api_key,
            self.base_url,
            timeout,
            self.max_retries,
            id(self.http_client),
            id(self.async_http_client),
            self.max_concurrency,
            self.concurrency_url,
        )


class _Entry:
    __slots__ = ("async_clients", "settings", "sync_client")

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings
        self.sync_client: ZhipuClient | None = None
        self.async_clients: PerLoop[AsyncZhipuClient] | None = None


class ModelClients:
    """The sync client and the per-loop async clients of one model; see the module doc."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Any, ...], _Entry] = OrderedDict()
        self._limits: dict[int, ConcurrencyLimit] = {}

    def __repr__(self) -> str:
        return f"ModelClients({len(self._entries)} settings)"

    # Caches are not state: a copy or an unpickled model starts empty and builds its own.
    def __copy__(self) -> ModelClients:
        return ModelClients()

    def __deepcopy__(self, memo: dict[int, Any]) -> ModelClients:
        return ModelClients()

    def __reduce__(self) -> tuple[type[ModelClients], tuple[()]]:
        return (ModelClients, ())

    def _entry(self, settings: ClientSettings) -> _Entry:
        key = settings._key()
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(settings)
            while len(self._entries) > _MAX_SETTINGS:
                _, old = self._entries.popitem(last=False)
                if old.sync_client is not None:
                    old.sync_client.close()  # a no-op on the shared pool or an injected client
        else:
            self._entries.move_to_end(key)
        return entry

    def _limit(self, settings: ClientSettings) -> ConcurrencyLimit | None:
        n = settings.max_concurrency
        if n is None:
            return None
        limit = self._limits.get(n)
        if limit is None:
            limit = self._limits[n] = ConcurrencyLimit(n)
        return limit

    def sync_client(self, settings: ClientSettings) -> ZhipuClient:
        """The sync client for ``settings`` (built on first use)."""
        with self._lock:
            entry = self._entry(settings)
            if entry.sync_client is None:
                entry.sync_client = ZhipuClient(
                    api_key=settings.api_key,
                    base_url=settings.base_url,
                    timeout=settings.timeout,
                    max_retries=settings.max_retries,
                    http_client=settings.http_client or shared_http_client(settings.timeout),
                    max_concurrency=self._limit(settings),
                    concurrency_url=settings.concurrency_url,
                )
            return entry.sync_client

    def async_client(self, settings: ClientSettings) -> AsyncZhipuClient:
        """The async client for ``settings`` and the running event loop (call it from a
        coroutine). An injected ``async_http_client`` is used as given, on any loop."""
        with self._lock:
            entry = self._entry(settings)
            if entry.async_clients is None:
                limit = self._limit(settings)

                def create() -> AsyncZhipuClient:
                    return AsyncZhipuClient(
                        api_key=settings.api_key,
                        base_url=settings.base_url,
                        timeout=settings.timeout,
                        max_retries=settings.max_retries,
                        http_client=settings.async_http_client,
                        max_concurrency=limit,
                        concurrency_url=settings.concurrency_url,
                    )

                entry.async_clients = PerLoop(create, AsyncZhipuClient.aclose)
            clients = entry.async_clients
        return clients.get()

    def close(self) -> None:
        """Close the sync clients this cache built (the shared pool and injected clients stay
        open); async pools close with their loops, or now with :meth:`aclose`."""
        with self._lock:
            clients = [e.sync_client for e in self._entries.values() if e.sync_client is not None]
            for entry in self._entries.values():
                entry.sync_client = None
        for client in clients:
            client.close()

    async def aclose(self) -> None:
        """:meth:`close`, and close the async pools of the running loop now."""
        self.close()
        with self._lock:
            pools = [e.async_clients for e in self._entries.values() if e.async_clients is not None]
        for pool in pools:
            await pool.aclose()


def nearest_name(name: str, valid: Iterable[str]) -> str | None:
    """The valid name ``name`` was probably meant to be: one made of the same words in another
    order (ChatOpenAI's ``http_async_client`` for ``async_http_client``), else the closest
    spelling (``temprature`` for ``temperature``), else None."""
    choices = sorted(valid)
    words = sorted(name.split("_"))
    for choice in choices:
        if choice != name and sorted(choice.split("_")) == words:
            return choice
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return close[0] if close else None
