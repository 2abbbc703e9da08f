"""ChatZhipuFlash and the API as it is in late 2026 (issue 14; docs/glm-api.md §3, §6.3, §8).

Driven through LangChain's own entry points (``invoke``/``ainvoke``, ``stream``/``astream``,
``bind_tools``) on the GLM-shaped fixtures in ``tests/fixtures/glm_shaped/`` (constructed from
public reports, provenance in each header) and real captures; the request bodies are checked
as well as what comes back.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.exceptions import (
    ModelInvalidRequestError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
)
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.tools import tool

import zhipu_flash as zf
from langchain_zhipu_flash import ChatZhipuFlash, ZhipuFlashFairUseRestrictionError
from tests.langchain._helpers import JSON, SSE, Recorder, model_for
from tests.wire import shaped_body, shaped_json

RESULTS = shaped_json("glm-5.2_nonstream_web_search.json")["web_search"]


def _streaming(sample: str, **kwargs: Any) -> tuple[ChatZhipuFlash, Recorder]:
    recorder = Recorder(200, SSE, shaped_body(sample))
    return model_for(recorder, **kwargs), recorder


def _sum(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    return full


async def _collect(model: Any, use_async: bool, prompt: Any = "hi", **kw: Any) -> list[Any]:
    if use_async:
        return [c async for c in model.astream(prompt, **kw)]
    return list(model.stream(prompt, **kw))


async def _invoke(model: Any, use_async: bool, prompt: Any = "hi", **kw: Any) -> AIMessage:
    result = await model.ainvoke(prompt, **kw) if use_async else model.invoke(prompt, **kw)
    assert isinstance(result, AIMessage)
    return result


ASYNC = pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])


# --- 1. the GLM-5 thinking contract ------------------------------------------------------------


@ASYNC
async def test_reasoning_effort_reaches_the_wire_and_reasoning_comes_back(use_async: bool) -> None:
    model, recorder = _streaming("glm-5.3-flash_stream_effort_low.sse", model="glm-5.3-flash")
    chunks = await _collect(model, use_async, reasoning_effort="low")
    assert recorder.body["reasoning_effort"] == "low" and "thinking" not in recorder.body
    full = _sum(chunks)
    assert full.content == "2 + 2 = 4."
    assert full.additional_kwargs["reasoning_content"] == "Simple sum: 2+2=4."
    assert full.usage_metadata is not None
    assert full.usage_metadata["output_token_details"] == {"reasoning": 8}


@ASYNC
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"thinking": False}, "reasoning_effort='low'"),
        ({"model_kwargs": {"reasoning_effort": "medium"}}, "nearest is 'high'"),
    ],
    ids=["thinking-off", "medium"],
)
async def test_glm53_flash_refusals_come_before_any_request(
    use_async: bool, params: dict[str, Any], expected: str
) -> None:
    model, recorder = _streaming(
        "glm-5.3-flash_stream_effort_low.sse", model="glm-5.3-flash", **params
    )
    for call in (_invoke, _collect):
        with pytest.raises(ModelInvalidRequestError) as info:
            await call(model, use_async)
        assert isinstance(info.value, zf.InvalidRequestInputError)
        assert expected in str(info.value)
    assert recorder.bodies == []


# --- 2. web_search ------------------------------------------------------------------------------


@ASYNC
@pytest.mark.parametrize(
    "sample", ["glm-5.2_stream_web_search_final_chunk.sse", "glm-5.2_stream_web_search_before.sse"]
)
async def test_web_search_is_on_the_final_chunk_once(use_async: bool, sample: str) -> None:
    model, _ = _streaming(sample, model="glm-5.2")
    chunks = await _collect(model, use_async)
    carriers = [c for c in chunks if "web_search" in c.response_metadata]
    assert carriers == [chunks[-1]] and chunks[-1].chunk_position == "last"
    full = _sum(chunks)
    assert full.response_metadata["web_search"] == RESULTS  # merged once, not doubled
    assert "[ref_1]" in full.text


@ASYNC
@pytest.mark.parametrize("streaming", [False, True], ids=["create", "streamed"])
async def test_invoke_has_web_search_in_response_metadata(use_async: bool, streaming: bool) -> None:
    if streaming:
        model, _ = _streaming(
            "glm-5.2_stream_web_search_final_chunk.sse", model="glm-5.2", streaming=True
        )
    else:
        recorder = Recorder(200, JSON, shaped_body("glm-5.2_nonstream_web_search.json"))
        model = model_for(recorder, model="glm-5.2")
    message = await _invoke(model, use_async)
    assert message.response_metadata["web_search"] == RESULTS
    assert message.response_metadata["finish_reason"] == "stop"
    json.dumps(message.response_metadata)  # plain JSON values only


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"sunny in {city}"


@ASYNC
async def test_bind_tools_passes_built_in_tools_unchanged(use_async: bool) -> None:
    model, recorder = _streaming(
        "glm-5.2_stream_web_search_final_chunk.sse", model="glm-5.2", streaming=True
    )
    web_search = {
        "type": "web_search",
        "web_search": {"enable": True, "search_result": True, "result_sequence": "after"},
    }
    retrieval = {"type": "retrieval", "retrieval": {"knowledge_id": "kb-1"}}
    bound = model.bind_tools([get_weather, web_search, retrieval])
    message = await _invoke(bound, use_async)
    tools = recorder.body["tools"]
    assert tools[1:] == [web_search, retrieval]
    assert tools[0]["function"]["name"] == "get_weather"
    assert message.response_metadata["web_search"] == RESULTS


# --- 3. box markers on GLM-4.6V -----------------------------------------------------------------


@ASYNC
async def test_glm46v_markers_are_stripped_in_a_stream_and_on_invoke(use_async: bool) -> None:
    model, _ = _streaming("glm-4.6v-flash_stream_box_markers_split.sse", model="glm-4.6v-flash")
    chunks = await _collect(model, use_async)
    assert "".join(c.text for c in chunks) == "42"
    assert _sum(chunks).additional_kwargs["reasoning_content"] == "Count the apples: 42."
    recorder = Recorder(200, JSON, shaped_body("glm-4.6v-flash_nonstream_box_markers.json"))
    message = await _invoke(model_for(recorder, model="glm-4.6v-flash"), use_async)
    assert message.content == "42"


# --- 4. error codes -----------------------------------------------------------------------------


@ASYNC
@pytest.mark.parametrize("streamed", [False, True], ids=["invoke", "stream"])
async def test_1313_is_permission_denied_and_not_retryable(use_async: bool, streamed: bool) -> None:
    recorder = Recorder(429, JSON, shaped_body("error_1313_fair_use_http429.json"))
    model = model_for(recorder, max_retries=3)
    with pytest.raises(ZhipuFlashFairUseRestrictionError) as info:
        await (_collect if streamed else _invoke)(model, use_async)
    err = info.value
    assert isinstance(err, ModelPermissionDeniedError) and isinstance(err, zf.PermissionDeniedError)
    assert not isinstance(err, ModelRateLimitError)
    assert err.is_retryable is False and err.code == "1313" and err.status_code == 429
    assert len(recorder.bodies) == 1


@ASYNC
async def test_an_event_error_frame_is_a_rate_limit_with_its_request_id(use_async: bool) -> None:
    model, _ = _streaming("glm-4.7-flash_stream_event_error_1302.sse")
    got: list[AIMessageChunk] = []

    async def consume() -> None:
        if use_async:
            async for c in model.astream("hi"):
                got.append(c)
        else:
            got.extend(model.stream("hi"))

    with pytest.raises(ModelRateLimitError) as info:
        await consume()
    err = info.value
    assert isinstance(err, zf.RateLimitError)
    assert (err.code, err.request_id) == ("1302", "20261119162015d8c41e7b2a09f63d")
    assert "".join(c.additional_kwargs.get("reasoning_content", "") for c in got) == "Let me"


# --- 5. tool_stream ignored -------------------------------------------------------------------


@ASYNC
async def test_whole_tool_calls_when_tool_stream_is_ignored(use_async: bool) -> None:
    model, recorder = _streaming(
        "glm-4.7-flash_stream_tool_stream_ignored.sse", model="glm-4.7-flash", tool_stream=True
    )
    bound = model.bind_tools([get_weather])
    chunks = await _collect(bound, use_async)
    assert recorder.body["tool_stream"] is True
    full = _sum(chunks)
    assert full.tool_calls == [
        {
            "name": "get_weather",
            "args": {"city": "Hangzhou"},
            "id": "call_20261119162544b0e7d3f19a2c46e8_0",
            "type": "tool_call",
        }
    ]
    assert full.response_metadata["finish_reason"] == "tool_calls"
    # invoke() of a streaming model aggregates the same chunks.
    model, _ = _streaming(
        "glm-4.7-flash_stream_tool_stream_ignored.sse",
        model="glm-4.7-flash",
        tool_stream=True,
        streaming=True,
    )
    message = await _invoke(model.bind_tools([get_weather]), use_async)
    assert [c["args"] for c in message.tool_calls] == [{"city": "Hangzhou"}]
