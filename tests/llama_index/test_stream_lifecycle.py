"""Closing, broken streams and typed errors.

What LlamaIndex's ``llm_chat_callback`` does to an async stream (CONTRACTS B8): the
decorator wraps our generator in its own (``wrapped_gen``) and never ``aclose()``s ours.
So ``break`` followed by ``aclose()`` of the generator the caller holds finishes the
wrapper only; our generator, now unreferenced, is finalised by asyncio's async-generator
finalizer hook, which schedules its ``aclose()`` for the next loop tick. That ``aclose()``
exits the ``async with`` that owns the HTTP stream, so the response is closed one tick
later. A bare ``break`` without ``aclose()`` leaves the wrapper suspended until it is garbage
collected. Cancellation while waiting for a chunk does propagate into our generator and
closes the response at once. The sync path has none of this: ``break`` drops the last
reference and the generator's ``with`` block closes the response immediately.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage

from glm_emulator import frames
from tests.llama_index._support import SSE, TrackedStream, chunk, make_llm
from tests.wire import wire_sse
from zhipu_flash import (
    ContentFilterError,
    QuotaExceededError,
    RateLimitError,
    StreamInterruptedError,
)

MESSAGES = [ChatMessage(role="user", content="hi")]
# A long stream cut into one piece per event, so a break leaves most of it unread.
PIECES = frames.stream_events(chunk(content=f"w{i} ") for i in range(50))


async def _closed_within_ticks(body: TrackedStream, ticks: int = 10) -> bool:
    for _ in range(ticks):
        if body.closed:
            return True
        await asyncio.sleep(0)
    return body.closed


def _tracked(stream: TrackedStream) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE, stream=stream)

    return handler


def test_break_out_of_stream_chat_closes_the_response() -> None:
    body = TrackedStream(PIECES)
    llm = make_llm(_tracked(body))
    for response in llm.stream_chat(MESSAGES):
        if response.delta == "w2 ":
            break
    assert body.closed
    assert body.sent < len(PIECES)


def test_break_out_of_stream_complete_closes_the_response() -> None:
    body = TrackedStream(PIECES)
    for _ in make_llm(_tracked(body)).stream_complete("hi"):
        break
    assert body.closed


async def test_aclose_after_break_closes_the_response() -> None:
    body = TrackedStream(PIECES)
    gen = await make_llm(_tracked(body)).astream_chat(MESSAGES)
    async for response in gen:
        if response.delta == "w2 ":
            break
    await gen.aclose()
    # Our generator is finalised by asyncio's hook a tick or two later (module docstring).
    assert await _closed_within_ticks(body)
    assert body.sent < len(PIECES)


async def test_bare_break_closes_once_the_wrapper_is_collected() -> None:
    body = TrackedStream(PIECES)
    gen = await make_llm(_tracked(body)).astream_chat(MESSAGES)
    async for _ in gen:
        break
    assert not body.closed  # LlamaIndex's wrapper keeps ours suspended
    del gen
    gc.collect()
    assert await _closed_within_ticks(body)


async def test_the_inner_generator_closes_on_aclose_at_once() -> None:
    body = TrackedStream(PIECES)
    gen = make_llm(_tracked(body))._astream_chat(MESSAGES)
    async for _ in gen:
        break
    await gen.aclose()
    assert body.closed  # the ``async with`` inside the generator owns the response


async def test_cancellation_closes_the_response() -> None:
    arrived = asyncio.Event()
    release = asyncio.Event()
    closed: list[bool] = []

    class Slow(httpx.AsyncByteStream):
        async def __aiter__(self) -> Any:
            yield PIECES[0]
            arrived.set()
            await release.wait()
            yield PIECES[1]

        async def aclose(self) -> None:
            closed.append(True)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE, stream=Slow())

    llm = make_llm(handler)

    async def consume() -> None:
        async for _ in await llm.astream_chat(MESSAGES):
            pass

    task = asyncio.create_task(consume())
    await arrived.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert closed == [True]


def _broken(error_after: int) -> TrackedStream:
    return TrackedStream(PIECES[:-2], error_after=error_after)  # no finish, then a reset


def test_broken_stream_raises_with_partial() -> None:
    body = _broken(3)
    seen: list[str] = []

    def consume() -> None:
        for response in make_llm(_tracked(body)).stream_chat(MESSAGES):
            seen.append(response.delta or "")

    with pytest.raises(StreamInterruptedError) as info:
        consume()
    assert seen == ["w0 ", "w1 ", "w2 "]  # what arrived was handed out, never retried
    assert info.value.partial is not None
    assert info.value.partial.content == "w0 w1 w2 "
    assert body.closed


async def test_broken_stream_raises_with_partial_async() -> None:
    body = _broken(2)
    seen: list[str] = []

    async def consume() -> None:
        async for response in await make_llm(_tracked(body)).astream_chat(MESSAGES):
            seen.append(response.delta or "")

    with pytest.raises(StreamInterruptedError) as info:
        await consume()
    assert seen == ["w0 ", "w1 "]
    assert info.value.partial is not None
    assert info.value.partial.content == "w0 w1 "


def test_chat_on_a_stream_ending_without_finish_raises() -> None:
    body = TrackedStream(PIECES[:5])  # the body just ends: no finish reason, no [DONE]
    with pytest.raises(StreamInterruptedError) as info:
        make_llm(_tracked(body)).chat(MESSAGES)
    assert info.value.partial is not None
    assert info.value.partial.content == "w0 w1 w2 w3 w4 "


@pytest.mark.parametrize(
    ("status", "sample", "error"),
    [
        (429, "error_1113_no_balance_http429_cowagent-issue-2910.json", QuotaExceededError),
        (400, "error_1301_sensitive_http400_langchain4j-issue-1079.json", ContentFilterError),
        (429, "error_1305_overloaded_en_http429_test-fixture.json", RateLimitError),
    ],
)
def test_http_errors_are_the_cores_typed_errors(
    status: int, sample: str, error: type[Exception]
) -> None:
    from tests.wire import wire_body

    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        headers = {"content-type": "application/json"}
        return httpx.Response(status, headers=headers, content=wire_body(sample))

    llm = make_llm(handler, max_retries=0)
    with pytest.raises(error):
        llm.chat(MESSAGES)
    with pytest.raises(error):
        list(llm.stream_chat(MESSAGES))
    assert len(calls) == 2


async def test_in_band_error_frame_raises_typed_error_with_partial() -> None:
    body = frames.event(chunk(content="Hel")) + frames.event(frames.error("1301", "unsafe"))

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=SSE, content=body)

    with pytest.raises(ContentFilterError) as info:
        await make_llm(handler).achat(MESSAGES)
    assert info.value.partial is not None
    assert info.value.partial.content == "Hel"


def test_reasoning_stream_never_puts_reasoning_in_delta_or_content() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = wire_sse("glm-4.5_stream_reasoning_usage_cached_nuvin_REPAIRED.sse")
        return httpx.Response(200, headers=SSE, content=body)

    responses = list(make_llm(handler).stream_chat(MESSAGES))
    reasoning_only = [r for r in responses if r.additional_kwargs.get("thinking_delta")]
    assert len(reasoning_only) == 32  # each reasoning-only chunk is yielded
    assert all(r.delta == "" for r in reasoning_only)
    assert responses[5].message.additional_kwargs["reasoning_content"] == 'The user just said "'
