"""The floor, a plain httpx loop (``iter_lines`` + ``json.loads``), and httpx-sse: what every
other client is measured against."""

from __future__ import annotations

import json
import time
from typing import Any

from ._common import HEADERS, Add, Client, every_chunk, limits, request_body


def _floor_setup(base: str, conc: int) -> Any:
    import httpx

    return httpx.Client(timeout=120, limits=limits(conc)), base + "/chat/completions"


def _floor_run(state: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    client, url = state
    count = 0
    first = 0.0
    with client.stream("POST", url, content=request_body(p), headers=HEADERS) as r:
        for line in r.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].lstrip()
            if data == "[DONE]":
                break
            obj = json.loads(data)
            if not count:
                first = time.perf_counter()
            count += 1
            delta = obj["choices"][0]["delta"]
            c = delta.get("content")
            if c:
                cadd(c)
            rc = delta.get("reasoning_content")
            if rc:
                radd(rc)
    return count, first


def _afloor_setup(base: str, conc: int) -> Any:
    import httpx

    return httpx.AsyncClient(timeout=120, limits=limits(conc)), base + "/chat/completions"


async def _afloor_run(state: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    client, url = state
    count = 0
    first = 0.0
    async with client.stream("POST", url, content=request_body(p), headers=HEADERS) as r:
        async for line in r.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].lstrip()
            if data == "[DONE]":
                break
            obj = json.loads(data)
            if not count:
                first = time.perf_counter()
            count += 1
            delta = obj["choices"][0]["delta"]
            c = delta.get("content")
            if c:
                cadd(c)
            rc = delta.get("reasoning_content")
            if rc:
                radd(rc)
    return count, first


def _sse_run(state: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    from httpx_sse import connect_sse

    client, url = state
    count = 0
    first = 0.0
    with connect_sse(client, "POST", url, content=request_body(p), headers=HEADERS) as source:
        for sse in source.iter_sse():
            if sse.data == "[DONE]":
                break
            obj = json.loads(sse.data)
            if not count:
                first = time.perf_counter()
            count += 1
            delta = obj["choices"][0]["delta"]
            c = delta.get("content")
            if c:
                cadd(c)
            rc = delta.get("reasoning_content")
            if rc:
                radd(rc)
    return count, first


async def _asse_run(state: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    from httpx_sse import aconnect_sse

    client, url = state
    count = 0
    first = 0.0
    async with aconnect_sse(
        client, "POST", url, content=request_body(p), headers=HEADERS
    ) as source:
        async for sse in source.aiter_sse():
            if sse.data == "[DONE]":
                break
            obj = json.loads(sse.data)
            if not count:
                first = time.perf_counter()
            count += 1
            delta = obj["choices"][0]["delta"]
            c = delta.get("content")
            if c:
                cadd(c)
            rc = delta.get("reasoning_content")
            if rc:
                radd(rc)
    return count, first


CLIENTS = [
    Client("floor", "httpx iter_lines + json.loads (floor)", False, True, every_chunk,
           _floor_setup, _floor_run),
    Client("floor-async", "httpx aiter_lines + json.loads (floor, async)", True, True,
           every_chunk, _afloor_setup, _afloor_run),
    Client("httpx-sse", "httpx-sse + json.loads", False, True, every_chunk,
           _floor_setup, _sse_run, ("httpx_sse",)),
    Client("httpx-sse-async", "httpx-sse + json.loads (async)", True, True, every_chunk,
           _afloor_setup, _asse_run, ("httpx_sse",)),
]  # fmt: skip
