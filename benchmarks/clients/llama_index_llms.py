"""LlamaIndex LLMs: ours (``ZhipuFlash``) and what a user would pick instead (llama-index
``OpenAILike``), pointed at the loopback server."""

from __future__ import annotations

import time
from typing import Any

from ._common import KEY, Add, Client, data, every_chunk, limits


def _li_run(llm: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    from llama_index.core.llms import ChatMessage

    count = 0
    first = 0.0
    for r in llm.stream_chat([ChatMessage(role="user", content=p)]):
        if not count:
            first = time.perf_counter()
        count += 1
        if r.delta:
            cadd(r.delta)
        rc = r.additional_kwargs.get("thinking_delta")
        if rc:
            radd(rc)
    return count, first


async def _ali_run(llm: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    from llama_index.core.llms import ChatMessage

    count = 0
    first = 0.0
    async for r in await llm.astream_chat([ChatMessage(role="user", content=p)]):
        if not count:
            first = time.perf_counter()
        count += 1
        if r.delta:
            cadd(r.delta)
        rc = r.additional_kwargs.get("thinking_delta")
        if rc:
            radd(rc)
    return count, first


def _zhipuflash_setup(base: str, conc: int) -> Any:
    import httpx

    from llama_index_zhipu_flash import ZhipuFlash

    return ZhipuFlash(
        model=data.MODEL,
        api_key=KEY,
        base_url=base,
        max_retries=0,
        async_http_client=httpx.AsyncClient(timeout=120, limits=limits(conc)),
    )


def _openailike_setup(base: str, conc: int) -> Any:
    import httpx
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(
        model=data.MODEL,
        api_base=base,
        api_key=KEY,
        is_chat_model=True,
        context_window=128000,
        max_retries=0,
        async_http_client=httpx.AsyncClient(timeout=120, limits=limits(conc)),
    )


def _minus_first(n: int) -> int:
    return n - 1


def _without_first_reasoning(n: int) -> tuple[str, str]:
    content, reasoning = data.expected(n)
    return content, reasoning[len(data.REASONING_TOKENS[0]) :]


_OPENAILIKE_ASYNC_NOTE = (
    "drops the first chunk when it has neither content nor tool calls, so the first "
    "reasoning delta of a GLM stream is lost (llama-index-llms-openai _astream_chat)"
)

CLIENTS = [
    Client("zhipuflash", "ZhipuFlash.stream_chat", False, True, every_chunk,
           _zhipuflash_setup, _li_run, ("llama_index_zhipu_flash",)),
    Client("zhipuflash-async", "ZhipuFlash.astream_chat", True, True, every_chunk,
           _zhipuflash_setup, _ali_run, ("llama_index_zhipu_flash",)),
    Client("openailike", "llama-index OpenAILike.stream_chat", False, True, every_chunk,
           _openailike_setup, _li_run, ("llama_index.llms.openai_like",)),
    Client("openailike-async", "llama-index OpenAILike.astream_chat", True, True,
           _minus_first, _openailike_setup, _ali_run, ("llama_index.llms.openai_like",),
           _without_first_reasoning, _OPENAILIKE_ASYNC_NOTE),
]  # fmt: skip
