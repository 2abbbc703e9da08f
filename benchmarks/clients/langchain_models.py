"""LangChain chat models: ours (``ChatZhipuFlash``) and what a user would pick instead
(langchain-openai ``ChatOpenAI``, langchain-deepseek ``ChatDeepSeek``, langchain-community
``ChatZhipuAI``), each pointed at the loopback server."""

from __future__ import annotations

import time
from typing import Any

from ._common import KEY, Add, Client, data, every_chunk, limits


def _lc_run(model: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    count = 0
    first = 0.0
    for m in model.stream(p):
        if not count:
            first = time.perf_counter()
        count += 1
        if m.content:
            cadd(m.content)
        rc = m.additional_kwargs.get("reasoning_content")
        if rc:
            radd(rc)
    return count, first


async def _alc_run(model: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    count = 0
    first = 0.0
    async for m in model.astream(p):
        if not count:
            first = time.perf_counter()
        count += 1
        if m.content:
            cadd(m.content)
        rc = m.additional_kwargs.get("reasoning_content")
        if rc:
            radd(rc)
    return count, first


def _chatzhipuflash_setup(base: str, conc: int) -> Any:
    import httpx

    from langchain_zhipu_flash import ChatZhipuFlash

    return ChatZhipuFlash(
        model=data.MODEL,
        api_key=KEY,
        base_url=base,
        max_retries=0,
        async_http_client=httpx.AsyncClient(timeout=120, limits=limits(conc)),
    )


def _chatopenai_setup(base: str, conc: int) -> Any:
    import httpx
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=data.MODEL,
        api_key=KEY,
        base_url=base,
        max_retries=0,
        http_async_client=httpx.AsyncClient(timeout=120, limits=limits(conc)),
    )


def _chatdeepseek_setup(base: str, conc: int) -> Any:
    import httpx
    from langchain_deepseek import ChatDeepSeek

    return ChatDeepSeek(
        model=data.MODEL,
        api_key=KEY,
        api_base=base,
        max_retries=0,
        http_async_client=httpx.AsyncClient(timeout=120, limits=limits(conc)),
    )


def _chatzhipuai_setup(base: str, conc: int) -> Any:
    from langchain_community.chat_models import ChatZhipuAI

    # It signs a JWT with the "id.secret" key and posts to the FULL URL in zhipuai_api_base.
    return ChatZhipuAI(model=data.MODEL, api_key=KEY, api_base=base + "/chat/completions")


def _plus_last(n: int) -> int:
    # langchain-core's stream/astream append an empty closing chunk (chunk_position="last")
    # when the model's own last chunk does not carry that marker.
    return n + 1


CLIENTS = [
    Client("chatzhipuflash", "ChatZhipuFlash.stream", False, True, every_chunk,
           _chatzhipuflash_setup, _lc_run, ("langchain_zhipu_flash",)),
    Client("chatzhipuflash-async", "ChatZhipuFlash.astream", True, True, every_chunk,
           _chatzhipuflash_setup, _alc_run, ("langchain_zhipu_flash",)),
    Client("chatopenai", "langchain-openai ChatOpenAI.stream", False, False, _plus_last,
           _chatopenai_setup, _lc_run, ("langchain_openai",)),
    Client("chatopenai-async", "langchain-openai ChatOpenAI.astream", True, False, _plus_last,
           _chatopenai_setup, _alc_run, ("langchain_openai",)),
    Client("chatdeepseek", "langchain-deepseek ChatDeepSeek.stream", False, True, _plus_last,
           _chatdeepseek_setup, _lc_run, ("langchain_deepseek",)),
    Client("chatdeepseek-async", "langchain-deepseek ChatDeepSeek.astream", True, True,
           _plus_last, _chatdeepseek_setup, _alc_run, ("langchain_deepseek",)),
    Client("chatzhipuai", "langchain-community ChatZhipuAI.stream", False, False, _plus_last,
           _chatzhipuai_setup, _lc_run, ("langchain_community", "jwt", "httpx_sse")),
    Client("chatzhipuai-async", "langchain-community ChatZhipuAI.astream", True, False,
           _plus_last, _chatzhipuai_setup, _alc_run, ("langchain_community", "jwt", "httpx_sse")),
]  # fmt: skip
