"""Measure one client on one scenario, in the process that runs this module (a fresh one).

``python -m benchmarks.runner --client core-sync --port P --n 20000`` prints one JSON line.
The driver (benchmarks/run.py) starts one such process per client per scenario so that no
client inherits another's imports, caches or heap.

What is measured, excluding imports and client construction:

- ``cpu``: ``time.process_time()`` of this process over the streaming loop (the server is
  another process), divided by the chunks the server sent;
- ``wall`` and chunks/s; ``ttfc``: from the call that sends the request to the first chunk
  yielded to user code. A warm-up request of 20 chunks runs first through the same client
  (its TTFC is reported as "cold": connection set-up and first-use imports included);
- RSS before and after, peak RSS (``ru_maxrss``), and RSS growth over the stream.

Every run checks that the client delivered exactly the text the server sent (content, and
reasoning where the client surfaces it) and the number of chunks: a benchmark of a broken
client is worthless, so a mismatch fails the run.

The user code in every loop is the same: count the chunk, note the first one's time, append
the content and reasoning deltas to two lists.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import _data

KEY = "bench.key"  # a dummy: the loopback server accepts anything
PAGE = os.sysconf("SC_PAGE_SIZE")
WARMUP_N = 20
Add = Callable[[str], Any]


def rss() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _limits(conc: int) -> Any:
    import httpx

    return httpx.Limits(max_connections=max(conc, 10), max_keepalive_connections=max(conc, 10))


def _body(p: str) -> bytes:
    return json.dumps(
        {"model": _data.MODEL, "messages": [{"role": "user", "content": p}], "stream": True},
        ensure_ascii=False,
    ).encode()


HEADERS = {
    "Authorization": f"Bearer {KEY}",
    "Content-Type": "application/json",
    "Accept": "text/event-stream",
}


@dataclass
class Client:
    """How to build one client and run one stream through it."""

    name: str
    label: str
    is_async: bool
    #: Which text the client hands to user code: "content" or "content+reasoning".
    surfaces_reasoning: bool
    #: Chunks yielded for an n-chunk response, as a function of n.
    count: Callable[[int], int]
    setup: Callable[[str, int, list[int]], Any]
    #: (state, prompt, n, content_add, reasoning_add) -> (chunks, t_first)
    run: Callable[..., Any]
    needs: tuple[str, ...] = field(default_factory=tuple)
    #: The (content, reasoning) the client hands out for an n-chunk response.
    expect: Callable[[int], tuple[str, str]] = _data.expected
    #: A known defect of this client that the check allows for, reported with its results.
    note: str = ""


# -- the floor: httpx + iter_lines + json.loads -----------------------------------------------


def _floor_setup(base: str, conc: int, ns: list[int]) -> Any:
    import httpx

    return httpx.Client(timeout=120, limits=_limits(conc)), base + "/chat/completions"


def _floor_run(state: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    client, url = state
    count = 0
    first = 0.0
    with client.stream("POST", url, content=_body(p), headers=HEADERS) as r:
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


def _afloor_setup(base: str, conc: int, ns: list[int]) -> Any:
    import httpx

    return httpx.AsyncClient(timeout=120, limits=_limits(conc)), base + "/chat/completions"


async def _afloor_run(state: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    client, url = state
    count = 0
    first = 0.0
    async with client.stream("POST", url, content=_body(p), headers=HEADERS) as r:
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


# -- httpx-sse ---------------------------------------------------------------------------------


def _sse_run(state: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    from httpx_sse import connect_sse

    client, url = state
    count = 0
    first = 0.0
    with connect_sse(client, "POST", url, content=_body(p), headers=HEADERS) as source:
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
    async with aconnect_sse(client, "POST", url, content=_body(p), headers=HEADERS) as source:
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


# -- our core ----------------------------------------------------------------------------------


def _core_setup(base: str, conc: int, ns: list[int]) -> Any:
    import zhipu_flash

    return zhipu_flash.ZhipuClient(api_key=KEY, base_url=base, max_retries=0)


def _core_run(client: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    count = 0
    first = 0.0
    messages = [{"role": "user", "content": p}]
    with client.stream(model=_data.MODEL, messages=messages) as stream:
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


def _acore_setup(base: str, conc: int, ns: list[int]) -> Any:
    import httpx

    import zhipu_flash

    http = httpx.AsyncClient(timeout=120, limits=_limits(conc))
    return zhipu_flash.AsyncZhipuClient(api_key=KEY, base_url=base, max_retries=0, http_client=http)


async def _acore_run(client: Any, p: str, n: int, cadd: Add, radd: Add) -> tuple[int, float]:
    count = 0
    first = 0.0
    messages = [{"role": "user", "content": p}]
    async with client.stream(model=_data.MODEL, messages=messages) as stream:
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


# -- LangChain: ours, the peers, and a do-nothing model -----------------------------------------


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


def _chatzhipuflash_setup(base: str, conc: int, ns: list[int]) -> Any:
    import httpx

    from langchain_zhipu_flash import ChatZhipuFlash

    return ChatZhipuFlash(
        model=_data.MODEL,
        api_key=KEY,
        base_url=base,
        max_retries=0,
        async_http_client=httpx.AsyncClient(timeout=120, limits=_limits(conc)),
    )


def _chatopenai_setup(base: str, conc: int, ns: list[int]) -> Any:
    import httpx
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=_data.MODEL,
        api_key=KEY,
        base_url=base,
        max_retries=0,
        http_async_client=httpx.AsyncClient(timeout=120, limits=_limits(conc)),
    )


def _chatdeepseek_setup(base: str, conc: int, ns: list[int]) -> Any:
    import httpx
    from langchain_deepseek import ChatDeepSeek

    return ChatDeepSeek(
        model=_data.MODEL,
        api_key=KEY,
        api_base=base,
        max_retries=0,
        http_async_client=httpx.AsyncClient(timeout=120, limits=_limits(conc)),
    )


def _chatzhipuai_setup(base: str, conc: int, ns: list[int]) -> Any:
    from langchain_community.chat_models import ChatZhipuAI

    # It signs a JWT with the "id.secret" key and posts to the FULL URL in zhipuai_api_base.
    return ChatZhipuAI(model=_data.MODEL, api_key=KEY, api_base=base + "/chat/completions")


def _null_specs_lc(ns: list[int]) -> dict[int, Any]:
    """Per stream, the (reasoning, text, last) of each chunk as plain values: the null model
    builds the LangChain objects while streaming, because any chat model must pay for them."""

    def make(n: int) -> list[tuple[str, str, bool]]:
        reasoning, content = _data.split(n)
        rt, ct = _data.REASONING_TOKENS, _data.CONTENT_TOKENS
        out = [(rt[i % len(rt)], "", False) for i in range(reasoning)]
        out += [("", ct[i % len(ct)], False) for i in range(content)]
        out.append(("", "", True))
        return out

    return dict.fromkeys(ns, make)


def _lc_chunk(spec: tuple[str, str, bool]) -> Any:
    from langchain_core.messages import AIMessageChunk
    from langchain_core.outputs import ChatGenerationChunk

    reasoning, text, last = spec
    if reasoning:
        message = AIMessageChunk(content="", additional_kwargs={"reasoning_content": reasoning})
    elif last:
        message = AIMessageChunk(content="", chunk_position="last")
    else:
        message = AIMessageChunk(content=text)
    return ChatGenerationChunk(message=message)


def _nulllc_setup(base: str, conc: int, ns: list[int]) -> Any:
    from collections.abc import AsyncIterator, Iterator

    from langchain_core.language_models import BaseChatModel
    from langchain_core.outputs import ChatGenerationChunk, ChatResult
    from pydantic import Field

    makers = _null_specs_lc(ns)

    class NullChatModel(BaseChatModel):
        """Streams chunks it builds from plain values: what LangChain itself costs per chunk,
        message objects included (every chat model must build them)."""

        # Not part of the model's repr or serialisation (LangChain and LlamaIndex render
        # the model at the start of every run).
        queue: list[Any] = Field(default_factory=list, repr=False, exclude=True)
        makers: dict[int, Any] = Field(default_factory=dict, repr=False, exclude=True)

        @property
        def _llm_type(self) -> str:
            return "null"

        def _generate(self, messages: Any, stop: Any = None, **kw: Any) -> ChatResult:
            raise NotImplementedError

        def _stream(self, messages: Any, stop: Any = None, **kw: Any) -> Iterator[Any]:
            for spec in self.queue.pop(0):
                yield _lc_chunk(spec)

        async def _astream(
            self, messages: Any, stop: Any = None, **kw: Any
        ) -> AsyncIterator[ChatGenerationChunk]:
            for spec in self.queue.pop(0):
                yield _lc_chunk(spec)

    return NullChatModel(makers=makers)


def _null_prepare(model: Any, n: int, times: int) -> None:
    """Prepare the plain chunk values of the next ``times`` streams (outside the timed loop)."""
    make = model.makers[n]
    model.queue.extend(make(n) for _ in range(times))


# -- LlamaIndex: ours, OpenAILike, and a do-nothing LLM ----------------------------------------


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


def _zhipuflash_setup(base: str, conc: int, ns: list[int]) -> Any:
    import httpx

    from llama_index_zhipu_flash import ZhipuFlash

    return ZhipuFlash(
        model=_data.MODEL,
        api_key=KEY,
        base_url=base,
        max_retries=0,
        async_http_client=httpx.AsyncClient(timeout=120, limits=_limits(conc)),
    )


def _openailike_setup(base: str, conc: int, ns: list[int]) -> Any:
    import httpx
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(
        model=_data.MODEL,
        api_base=base,
        api_key=KEY,
        is_chat_model=True,
        context_window=128000,
        max_retries=0,
        async_http_client=httpx.AsyncClient(timeout=120, limits=_limits(conc)),
    )


def _nullli_setup(base: str, conc: int, ns: list[int]) -> Any:
    from collections.abc import Sequence

    from llama_index.core.base.llms.types import (
        ChatMessage,
        ChatResponse,
        ChatResponseAsyncGen,
        ChatResponseGen,
        CompletionResponse,
        LLMMetadata,
    )
    from llama_index.core.llms.callbacks import llm_chat_callback
    from llama_index.core.llms.llm import LLM
    from pydantic import Field

    def make(n: int) -> list[tuple[str, str]]:
        # (thinking delta, text delta) per chunk as plain values; the LLM builds delta-only
        # responses while streaming (pre-making n cumulative messages would be quadratic).
        reasoning, content = _data.split(n)
        rt, ct = _data.REASONING_TOKENS, _data.CONTENT_TOKENS
        out = [(rt[i % len(rt)], "") for i in range(reasoning)]
        out += [("", ct[i % len(ct)]) for i in range(content)]
        out.append(("", ""))
        return out

    def response(spec: tuple[str, str]) -> ChatResponse:
        thinking, text = spec
        return ChatResponse(
            message=ChatMessage(role="assistant", content=text),
            delta=text,
            additional_kwargs={"thinking_delta": thinking} if thinking else {},
        )

    class NullLLM(LLM):
        """Streams responses it builds from plain values: what LlamaIndex itself costs per
        chunk, response objects included (every LLM must build them)."""

        # Not part of the model's repr or serialisation (LangChain and LlamaIndex render
        # the model at the start of every run).
        queue: list[Any] = Field(default_factory=list, repr=False, exclude=True)
        makers: dict[int, Any] = Field(default_factory=dict, repr=False, exclude=True)

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(is_chat_model=True)

        @llm_chat_callback()
        def chat(self, messages: Sequence[ChatMessage], **kw: Any) -> ChatResponse:
            raise NotImplementedError

        @llm_chat_callback()
        def stream_chat(self, messages: Sequence[ChatMessage], **kw: Any) -> ChatResponseGen:
            specs = self.queue.pop(0)

            def gen() -> ChatResponseGen:
                for spec in specs:
                    yield response(spec)

            return gen()

        @llm_chat_callback()
        async def achat(self, messages: Sequence[ChatMessage], **kw: Any) -> ChatResponse:
            raise NotImplementedError

        @llm_chat_callback()
        async def astream_chat(
            self, messages: Sequence[ChatMessage], **kw: Any
        ) -> ChatResponseAsyncGen:
            specs = self.queue.pop(0)

            async def gen() -> ChatResponseAsyncGen:
                for spec in specs:
                    yield response(spec)

            return gen()

        def complete(self, prompt: str, formatted: bool = False, **kw: Any) -> CompletionResponse:
            raise NotImplementedError

        def stream_complete(self, prompt: str, formatted: bool = False, **kw: Any) -> Any:
            raise NotImplementedError

        async def acomplete(
            self, prompt: str, formatted: bool = False, **kw: Any
        ) -> CompletionResponse:
            raise NotImplementedError

        async def astream_complete(self, prompt: str, formatted: bool = False, **kw: Any) -> Any:
            raise NotImplementedError

    return NullLLM(makers=dict.fromkeys(ns, make))


def _all(n: int) -> int:
    return n


def _plus_last(n: int) -> int:
    # langchain-core's stream/astream append an empty closing chunk (chunk_position="last")
    # when the model's own last chunk does not carry that marker.
    return n + 1


def _minus_first(n: int) -> int:
    return n - 1


def _without_first_reasoning(n: int) -> tuple[str, str]:
    content, reasoning = _data.expected(n)
    return content, reasoning[len(_data.REASONING_TOKENS[0]) :]


_OPENAILIKE_ASYNC_NOTE = (
    "drops the first chunk when it has neither content nor tool calls, so the first "
    "reasoning delta of a GLM stream is lost (llama-index-llms-openai _astream_chat)"
)


CLIENTS: dict[str, Client] = {
    c.name: c
    for c in (
        Client("floor", "httpx iter_lines + json.loads (floor)", False, True, _all,
               _floor_setup, _floor_run),
        Client("floor-async", "httpx aiter_lines + json.loads (floor, async)", True, True, _all,
               _afloor_setup, _afloor_run),
        Client("httpx-sse", "httpx-sse + json.loads", False, True, _all,
               _floor_setup, _sse_run, ("httpx_sse",)),
        Client("httpx-sse-async", "httpx-sse + json.loads (async)", True, True, _all,
               _afloor_setup, _asse_run, ("httpx_sse",)),
        Client("core", "zhipu_flash ZhipuClient.stream", False, True, _all,
               _core_setup, _core_run),
        Client("core-async", "zhipu_flash AsyncZhipuClient.stream", True, True, _all,
               _acore_setup, _acore_run),
        Client("chatzhipuflash", "ChatZhipuFlash.stream", False, True, _all,
               _chatzhipuflash_setup, _lc_run, ("langchain_zhipu_flash",)),
        Client("chatzhipuflash-async", "ChatZhipuFlash.astream", True, True, _all,
               _chatzhipuflash_setup, _alc_run, ("langchain_zhipu_flash",)),
        Client("null-lc", "do-nothing LangChain chat model .stream", False, True, _all,
               _nulllc_setup, _lc_run, ("langchain_core",)),
        Client("null-lc-async", "do-nothing LangChain chat model .astream", True, True, _all,
               _nulllc_setup, _alc_run, ("langchain_core",)),
        Client("chatopenai", "langchain-openai ChatOpenAI.stream", False, False, _plus_last,
               _chatopenai_setup, _lc_run, ("langchain_openai",)),
        Client("chatopenai-async", "langchain-openai ChatOpenAI.astream", True, False, _plus_last,
               _chatopenai_setup, _alc_run, ("langchain_openai",)),
        Client("chatdeepseek", "langchain-deepseek ChatDeepSeek.stream", False, True, _plus_last,
               _chatdeepseek_setup, _lc_run, ("langchain_deepseek",)),
        Client("chatdeepseek-async", "langchain-deepseek ChatDeepSeek.astream", True, True,
               _plus_last,
               _chatdeepseek_setup, _alc_run, ("langchain_deepseek",)),
        Client("chatzhipuai", "langchain-community ChatZhipuAI.stream", False, False, _plus_last,
               _chatzhipuai_setup, _lc_run, ("langchain_community", "jwt", "httpx_sse")),
        Client("chatzhipuai-async", "langchain-community ChatZhipuAI.astream", True, False,
               _plus_last,
               _chatzhipuai_setup, _alc_run, ("langchain_community", "jwt", "httpx_sse")),
        Client("zhipuflash", "ZhipuFlash.stream_chat", False, True, _all,
               _zhipuflash_setup, _li_run, ("llama_index_zhipu_flash",)),
        Client("zhipuflash-async", "ZhipuFlash.astream_chat", True, True, _all,
               _zhipuflash_setup, _ali_run, ("llama_index_zhipu_flash",)),
        Client("null-li", "do-nothing LlamaIndex LLM .stream_chat", False, True, _all,
               _nullli_setup, _li_run, ("llama_index.core",)),
        Client("null-li-async", "do-nothing LlamaIndex LLM .astream_chat", True, True, _all,
               _nullli_setup, _ali_run, ("llama_index.core",)),
        Client("openailike", "llama-index OpenAILike.stream_chat", False, True, _all,
               _openailike_setup, _li_run, ("llama_index.llms.openai_like",)),
        Client("openailike-async", "llama-index OpenAILike.astream_chat", True, True,
               _minus_first, _openailike_setup, _ali_run, ("llama_index.llms.openai_like",),
               _without_first_reasoning, _OPENAILIKE_ASYNC_NOTE),
    )
}  # fmt: skip


# -- running ----------------------------------------------------------------------------------


class Check:
    """Collects one stream's text and checks it against what the server sent."""

    def __init__(self, n: int, reasoning: bool) -> None:
        self.n = n
        self.reasoning = reasoning
        self.content: list[str] = []
        self.thinking: list[str] = []

    def verify(self, client: Client, count: int) -> str | None:
        want_content, want_reasoning = client.expect(self.n)
        got = "".join(self.content)
        if got != want_content:
            return f"content differs: got {len(got)} chars, want {len(want_content)}"
        if self.reasoning and "".join(self.thinking) != want_reasoning:
            return f"reasoning differs: got {len(''.join(self.thinking))} chars"
        if count != client.count(self.n):
            return f"{count} chunks yielded, want {client.count(self.n)}"
        return None


def _is_null(client: Client) -> bool:
    return client.name.startswith("null-")


def measure(
    client: Client, port: int, n: int, reps: int, trials: int, mode: str, conc: int
) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}/api/paas/v4"
    state = client.setup(base, conc, [WARMUP_N, n])
    if _is_null(client):
        _null_prepare(state, WARMUP_N, 1)
        _null_prepare(state, n, reps * conc * trials)
    return asyncio.run(_measure(client, state, n, reps, trials, mode, conc))


async def _measure(
    client: Client, state: Any, n: int, reps: int, trials: int, mode: str, conc: int
) -> dict[str, Any]:
    """``trials`` timed rounds of ``reps`` sequential rounds of ``conc`` concurrent streams.

    The machine is shared (2 cores, the server among them), so the CPU per chunk reported is
    the least of the trials (the median is kept too): contention only ever adds time.
    A sync client runs inside the loop as plain blocking code; nothing else is scheduled.
    """
    errors: list[str] = []
    ttfcs: list[float] = []

    async def one(p: str, k: int) -> None:
        check = Check(k, client.surfaces_reasoning)
        t0 = time.perf_counter()
        if client.is_async:
            count, first = await client.run(
                state, p, k, check.content.append, check.thinking.append
            )
        else:
            count, first = client.run(state, p, k, check.content.append, check.thinking.append)
        ttfcs.append(first - t0)
        if error := check.verify(client, count):
            errors.append(error)

    # Warm-up: connection set-up and first-use imports, reported as the cold TTFC.
    await one(_data.prompt(WARMUP_N), WARMUP_N)
    cold = ttfcs.pop()
    p = _data.prompt(n, mode)
    cpus, walls = [], []
    gc.collect()
    rss0, peak0 = rss(), peak_rss()
    for _ in range(trials):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(reps):
            if conc == 1:
                await one(p, n)
            else:
                await asyncio.gather(*(one(p, n) for _ in range(conc)))
        cpus.append(time.process_time() - cpu0)
        walls.append(time.perf_counter() - wall0)
    per_trial = n * reps * conc
    result = _result(client, n, per_trial, min(cpus), min(walls), ttfcs, cold, rss0, peak0, errors)
    result["us_per_chunk_median"] = statistics.median(cpus) / per_trial * 1e6
    result["trials"] = trials
    return result


def _result(
    client: Client,
    n: int,
    chunks: int,
    cpu: float,
    wall: float,
    ttfcs: list[float],
    cold: float,
    rss0: int,
    peak0: int,
    errors: list[str],
) -> dict[str, Any]:
    rss1, peak1 = rss(), peak_rss()
    growth = max(rss1, peak1 if peak1 > peak0 else 0) - rss0
    ttfcs = sorted(ttfcs)
    return {
        "client": client.name,
        "label": client.label,
        "n": n,
        "chunks": chunks,
        "cpu_s": cpu,
        "wall_s": wall,
        "us_per_chunk": cpu / chunks * 1e6,
        "chunks_per_s": chunks / wall,
        "ttfc_ms": statistics.median(ttfcs) * 1e3,
        "ttfc_p99_ms": ttfcs[int(len(ttfcs) * 0.99)] * 1e3,
        "ttfc_cold_ms": cold * 1e3,
        "rss_mib": rss1 / 2**20,
        "peak_rss_mib": peak1 / 2**20,
        "rss_growth_mib": growth / 2**20,
        "errors": errors[:5],
        "ok": not errors,
        "note": client.note,
    }


def measure_memory(client: Client, port: int, n: int) -> dict[str, Any]:
    """A long stream with nothing kept: RSS sampled every 65,536 chunks, text checked by
    length and CRC-32 instead of a list that would itself grow."""
    base = f"http://127.0.0.1:{port}/api/paas/v4"
    state = client.setup(base, 1, [WARMUP_N])
    return asyncio.run(_memory(client, state, n))


async def _memory(client: Client, state: Any, n: int) -> dict[str, Any]:
    # One event loop for both requests (an async client's pool belongs to its loop); a sync
    # client simply runs inside it.
    want_content, want_reasoning = client.expect(n)
    want = (
        len(want_content),
        zlib.crc32(want_content.encode()),
        len(want_reasoning),
        zlib.crc32(want_reasoning.encode()),
    )
    del want_content, want_reasoning
    sums = [0, 0, 0, 0]
    samples: list[int] = []
    seen = [0]

    def cadd(s: str) -> None:
        sums[0] += len(s)
        sums[1] = zlib.crc32(s.encode(), sums[1])
        seen[0] += 1
        if not seen[0] & 0xFFFF:
            samples.append(rss())

    def radd(s: str) -> None:
        sums[2] += len(s)
        sums[3] = zlib.crc32(s.encode(), sums[3])

    async def call(p: str, k: int, c: Add, r: Add) -> tuple[int, float]:
        if client.is_async:
            return await client.run(state, p, k, c, r)  # type: ignore[no-any-return]
        return client.run(state, p, k, c, r)  # type: ignore[no-any-return]

    await call(_data.prompt(WARMUP_N), WARMUP_N, lambda s: None, lambda s: None)
    gc.collect()
    rss0, peak0 = rss(), peak_rss()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    t0 = time.perf_counter()
    count, first = await call(_data.prompt(n), n, cadd, radd)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    errors = []
    if tuple(sums) != want:
        errors.append(f"text differs: got {sums}, want {list(want)}")
    if count != client.count(n):
        errors.append(f"{count} chunks yielded, want {client.count(n)}")
    result = _result(client, n, n, cpu, wall, [first - t0], first - t0, rss0, peak0, errors)
    result["rss_max_sampled_mib"] = max([*samples, rss()]) / 2**20
    result["rss_growth_mib"] = max(result["rss_growth_mib"], (max([*samples, 0]) - rss0) / 2**20)
    return result


def profile(client: Client, port: int, n: int, out: str) -> dict[str, Any]:
    """cProfile one ``n``-chunk stream; write the pstats file and return the top entries."""
    import cProfile
    import pstats

    base = f"http://127.0.0.1:{port}/api/paas/v4"
    state = client.setup(base, 1, [WARMUP_N, n])
    check = Check(n, client.surfaces_reasoning)
    client.run(state, _data.prompt(WARMUP_N), WARMUP_N, lambda s: None, lambda s: None)
    profiler = cProfile.Profile()
    profiler.enable()
    count, _ = client.run(state, _data.prompt(n), n, check.content.append, check.thinking.append)
    profiler.disable()
    profiler.dump_stats(out)
    stats = pstats.Stats(profiler)
    rows = []
    for (file, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "func": f"{_short(file)}:{line}({func})",
                "ncalls": ncalls,
                "tot_us_per_chunk": tottime / n * 1e6,
                "cum_us_per_chunk": cumtime / n * 1e6,
            }
        )
    rows.sort(key=lambda r: -r["tot_us_per_chunk"])
    error = check.verify(client, count)
    return {"client": client.name, "n": n, "top": rows[:30], "ok": error is None, "error": error}


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Measure one client (see module docstring).")
    parser.add_argument("--client", required=True, choices=sorted(CLIENTS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n", type=int, default=20000, help="chunks per response")
    parser.add_argument("--reps", type=int, default=1, help="sequential responses (or rounds)")
    parser.add_argument("--trials", type=int, default=1, help="timed trials; the least counts")
    parser.add_argument("--mode", default="burst", choices=("burst", "paced"))
    parser.add_argument("--concurrency", type=int, default=1, help="async streams at once")
    parser.add_argument("--memory", action="store_true", help="long-stream RSS check")
    parser.add_argument("--profile", metavar="FILE", help="cProfile into FILE instead")
    args = parser.parse_args(argv)
    client = CLIENTS[args.client]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for module in client.needs:
        try:
            __import__(module)
        except ImportError as exc:
            print(json.dumps({"client": client.name, "skipped": f"not available: {exc}"}))
            return
    if args.profile:
        result = profile(client, args.port, args.n, args.profile)
    elif args.memory:
        result = measure_memory(client, args.port, args.n)
    else:
        result = measure(
            client, args.port, args.n, args.reps, args.trials, args.mode, args.concurrency
        )
    result.update(mode=args.mode, reps=args.reps, concurrency=args.concurrency)
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
