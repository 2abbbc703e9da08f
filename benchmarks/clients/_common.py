"""What every benchmark client shares: the dummy key, the request a raw client sends, the pool
limits, and :class:`Client`, how to build one client and run one stream through it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import _data as data

KEY = "bench.key"  # a dummy: the loopback server accepts anything
HEADERS = {
    "Authorization": f"Bearer {KEY}",
    "Content-Type": "application/json",
    "Accept": "text/event-stream",
}
#: Where a client hands a text delta (content or reasoning) to the user code.
Add = Callable[[str], Any]


def limits(conc: int) -> Any:
    import httpx

    return httpx.Limits(max_connections=max(conc, 10), max_keepalive_connections=max(conc, 10))


def request_body(prompt: str) -> bytes:
    """The chat request a raw client (the floor, httpx-sse) sends."""
    return json.dumps(
        {"model": data.MODEL, "messages": [{"role": "user", "content": prompt}], "stream": True},
        ensure_ascii=False,
    ).encode()


def every_chunk(n: int) -> int:
    return n


@dataclass
class Client:
    """How to build one client and run one stream through it."""

    name: str
    label: str
    is_async: bool
    #: Whether the client hands the reasoning to user code (then it is checked too).
    surfaces_reasoning: bool
    #: Chunks yielded for an n-chunk response, as a function of n.
    count: Callable[[int], int]
    #: (base_url, concurrency) -> the client's state.
    setup: Callable[[str, int], Any]
    #: (state, prompt, n, content_add, reasoning_add) -> (chunks, t_first)
    run: Callable[..., Any]
    needs: tuple[str, ...] = field(default_factory=tuple)
    #: The (content, reasoning) the client hands out for an n-chunk response.
    expect: Callable[[int], tuple[str, str]] = data.expected
    #: A known defect of this client that the check allows for, reported with its results.
    note: str = ""
