"""zhipu-flash's core clients: ``ZhipuClient.stream`` and ``AsyncZhipuClient.stream`` (typed
pydantic chunks)."""

from __future__ import annotations

import time
from typing import Any

from ._common import KEY, Add, Client, data, every_chunk, limits


def _core_setup(base: str, conc: int) -> Any:
    import zhipu_flash

    return zhipu_flash.ZhipuClient(api_key=KEY, base_url=base, max_retries=0)


def _core_run(client: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    count = 0
    first = 0.0
    messages = [{"role": "user", "content": p}]
    with client.stream(model=data.MODEL, messages=messages) as stream:
        for chunk in stream:
            if not count:
                first = time.perf_counter()
            count += 1
            delta = chunk.delta
            if delta.content:
                cadd(delta.content)
            if delta.reasoning_content:
                radd(delta.reasoning_content)
    return count, first


def _acore_setup(base: str, conc: int) -> Any:
    import httpx

    import zhipu_flash

    http = httpx.AsyncClient(timeout=120, limits=limits(conc))
    return zhipu_flash.AsyncZhipuClient(api_key=KEY, base_url=base, max_retries=0, http_client=http)


async def _acore_run(client: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    count = 0
    first = 0.0
    messages = [{"role": "user", "content": p}]
    async with client.stream(model=data.MODEL, messages=messages) as stream:
        async for chunk in stream:
            if not count:
                first = time.perf_counter()
            count += 1
            delta = chunk.delta
            if delta.content:
                cadd(delta.content)
            if delta.reasoning_content:
                radd(delta.reasoning_content)
    return count, first


CLIENTS = [
    Client("core", "zhipu_flash ZhipuClient.stream", False, True, every_chunk,
           _core_setup, _core_run),
    Client("core-async", "zhipu_flash AsyncZhipuClient.stream", True, True, every_chunk,
           _acore_setup, _acore_run),
]  # fmt: skip
