"""Process-wide default connection pools for framework models.

A LangChain or LlamaIndex model is built often (per chain, per request handler, per test) and
is never closed by its users. If each one owned an ``httpx.Client``, every discarded model
would leave its keep-alive sockets to the garbage collector. The adapters therefore share one
pooled client per timeout setting, kept for the life of the process, as langchain-openai does.
Pass your own ``http_client`` to any client or model to manage a pool yourself.

Async pools are not shared here: an ``httpx.AsyncClient``'s connections belong to the event
loop that opened them, so each async client keeps its own.
"""

from __future__ import annotations

import atexit
import threading

import httpx

from ._constants import DEFAULT_TIMEOUT
from ._transport import LazyTLSTransport

__all__ = ["as_timeout", "shared_http_client"]

_lock = threading.Lock()


def as_timeout(timeout: float | httpx.Timeout | None) -> httpx.Timeout:
    """Seconds become a read/write timeout with connect capped at 10 s; None is the default."""
    if timeout is None:
        return DEFAULT_TIMEOUT
    if isinstance(timeout, httpx.Timeout):
        return timeout
    return httpx.Timeout(float(timeout), connect=min(float(timeout), 10.0))


_clients: dict[tuple[float | None, ...], httpx.Client] = {}


def shared_http_client(timeout: float | httpx.Timeout | None = None) -> httpx.Client:
    """The process-wide pooled ``httpx.Client`` for ``timeout`` (seconds or an
    ``httpx.Timeout``; default 10 s connect, 300 s read). Never close it: other models use it
    too."""
    t = as_timeout(timeout)
    key = (t.connect, t.read, t.write, t.pool)
    with _lock:
        client = _clients.get(key)
        if client is None or client.is_closed:
            client = _clients[key] = httpx.Client(timeout=t, transport=LazyTLSTransport())
        return client


@atexit.register
def _close_shared_clients() -> None:
    # Streams return their connections to the pool, so a shared client holds idle keep-alive
    # sockets until the process ends: close them cleanly rather than leave them to the
    # garbage collector (a ResourceWarning under -X dev or pytest).
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
