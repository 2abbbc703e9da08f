"""Drive the core clients, sync or async from one call, against the fault server, and report
what the user saw: chunks, final completion or typed error, backoff sleeps, pool state."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

import zhipu_flash as zf
from glm_emulator import frames
from tests.unit._helpers import DONE, USAGE, chunk

__all__ = [
    "API_KEY",
    "DONE",
    "FAST",
    "MODEL",
    "USAGE",
    "USER",
    "Outcome",
    "active_connections",
    "chunk",
    "open_fds",
    "run",
    "text_frames",
]

#: A key that is easy to search for in logs, reprs and messages.
API_KEY = "faultsuite0secret0key.QmVhcmVyU2VjcmV0"
#: Small timeouts keep every fault bounded; the pool wait is generous (not a fault here).
FAST = httpx.Timeout(1.0, connect=1.0, pool=30.0)
MODEL = "glm-4.7-flash"
USER = [{"role": "user", "content": "hi"}]


def text_frames(texts: Sequence[str], *, finish: str | None = "stop") -> list[bytes]:
    """One content frame per text, then a finish frame with usage and ``[DONE]``."""
    frames = [chunk(t) for t in texts]
    if finish is not None:
        frames += [chunk("", finish=finish, usage=USAGE), DONE]
    return frames


@dataclass
class Outcome:
    """What one call gave the user."""

    chunks: list[zf.ChatCompletionChunk] = field(default_factory=list)
    final: zf.ChatCompletion | None = None
    error: zf.ZhipuError | None = None
    slept: list[float] = field(default_factory=list)
    active: int = -1  # connections checked out of the pool when the call returned
    elapsed: float = 0.0

    @property
    def text(self) -> str:
        return "".join(c.delta.content or "" for c in self.chunks if c.delta is not None)


def active_connections(http: httpx.Client | httpx.AsyncClient) -> int:
    """Connections of the client's pool that are neither idle nor closed (i.e. still in use)."""
    transport = http._transport
    # The clients' own transport holds one httpx transport per pool shard.
    inner = transport.transports() if hasattr(transport, "transports") else [transport]
    return sum(1 for t in inner for c in t._pool.connections if not (c.is_idle() or c.is_closed()))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _record(outcome: Outcome) -> Any:
    def sleep(seconds: float) -> None:
        outcome.slept.append(seconds)

    return sleep


def run(
    mode: str,
    base_url: str,
    *,
    op: str = "stream",
    max_retries: int = 2,
    timeout: httpx.Timeout = FAST,
    messages: Any = None,
    **params: Any,
) -> Outcome:
    """One ``stream`` (iterated to the end) or ``create`` call; ZhipuError is caught."""
    if mode == "sync":
        return _run_sync(base_url, op, max_retries, timeout, messages or USER, params)
    return asyncio.run(_run_async(base_url, op, max_retries, timeout, messages or USER, params))


def _run_sync(
    base_url: str,
    op: str,
    max_retries: int,
    timeout: httpx.Timeout,
    messages: Any,
    params: dict[str, Any],
) -> Outcome:
    out = Outcome()
    client = zf.ZhipuClient(
        api_key=API_KEY, base_url=base_url, timeout=timeout, max_retries=max_retries
    )
    client._sleep = _record(out)
    start = time.monotonic()
    try:
        try:
            if op == "stream":
                with client.stream(model=MODEL, messages=messages, **params) as stream:
                    for item in stream:
                        out.chunks.append(item)
                    out.final = stream.get_final_completion()
            else:
                out.final = client.create(model=MODEL, messages=messages, **params)
        except zf.ZhipuError as exc:
            out.error = exc
        out.elapsed = time.monotonic() - start
        out.active = active_connections(client._http)
    finally:
        client.close()
    return out


async def _run_async(
    base_url: str,
    op: str,
    max_retries: int,
    timeout: httpx.Timeout,
    messages: Any,
    params: dict[str, Any],
) -> Outcome:
    out = Outcome()
    client = zf.AsyncZhipuClient(
        api_key=API_KEY, base_url=base_url, timeout=timeout, max_retries=max_retries
    )
    record = _record(out)

    async def sleep(seconds: float) -> None:
        record(seconds)

    client._sleep = sleep
    start = time.monotonic()
    try:
        try:
            if op == "stream":
                async with client.stream(model=MODEL, messages=messages, **params) as stream:
                    async for item in stream:
                        out.chunks.append(item)
                    out.final = await stream.get_final_completion()
            else:
                out.final = await client.create(model=MODEL, messages=messages, **params)
        except zf.ZhipuError as exc:
            out.error = exc
        out.elapsed = time.monotonic() - start
        out.active = active_connections(client._http)
    finally:
        await client.aclose()
    return out


def completion_body(text: str) -> bytes:
    """A non-streamed GLM completion (for ``create`` after a retried failure)."""
    return frames.compact(frames.completion(content=text, usage=USAGE, model=MODEL))
