"""ZhipuFlash and the API as it is in late 2026 (issue 14; docs/glm-api.md §3, §6.3, §8).

Driven through LlamaIndex's entry points (``chat``/``achat``, ``stream_chat``/
``astream_chat``, ``chat_with_tools``, ``complete``) on the GLM-shaped fixtures in
``tests/fixtures/glm_shaped/`` (constructed from public reports, provenance in each header);
the request bodies are checked as well as what comes back.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ToolCallBlock
from llama_index.core.tools import FunctionTool

import zhipu_flash as zf
from llama_index_zhipu_flash import ZhipuFlash
from tests.llama_index._support import Recorder, make_llm
from tests.wire import shaped_body, shaped_json

MESSAGES = [ChatMessage(role="user", content="hi")]
RESULTS = shaped_json("glm-5.2_nonstream_web_search.json")["web_search"]
ASYNC = pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])


def _llm(sample: str, **kwargs: Any) -> tuple[ZhipuFlash, Recorder]:
    recorder = Recorder(shaped_body(sample))
    return make_llm(recorder, **kwargs), recorder


async def _stream(llm: Any, use_async: bool, **kw: Any) -> list[ChatResponse]:
    if use_async:
        gen = await llm.astream_chat(MESSAGES, **kw)
        return [r async for r in gen]
    return list(llm.stream_chat(MESSAGES, **kw))


async def _chat(llm: Any, use_async: bool, **kw: Any) -> ChatResponse:
    result: ChatResponse = (
        await llm.achat(MESSAGES, **kw) if use_async else llm.chat(MESSAGES, **kw)
    )
    return result


# --- 1. the GLM-5 thinking contract ------------------------------------------------------------


@ASYNC
async def test_reasoning_effort_reaches_the_wire(use_async: bool) -> None:
    llm, recorder = _llm("glm-5.3-flash_stream_effort_low.sse", model="glm-5.3-flash")
    responses = await _stream(llm, use_async, reasoning_effort="low")
    assert recorder.bodies[0]["reasoning_effort"] == "low"
    final = responses[-1]
    assert final.message.content == "2 + 2 = 4."
    assert final.message.additional_kwargs["reasoning_content"] == "Simple sum: 2+2=4."
    assert final.additional_kwargs["reasoning_tokens"] == 8
    response = await _chat(llm, use_async, reasoning_effort="high")
    assert recorder.bodies[1]["reasoning_effort"] == "high"
    assert response.message.content == "2 + 2 = 4."


@ASYNC
@pytest.mark.parametrize(
    ("params", "call_kw", "expected"),
    [
        ({"thinking": False}, {}, "reasoning_effort='low'"),
        ({}, {"reasoning_effort": "xhigh"}, "nearest is 'max'"),
    ],
    ids=["thinking-off", "xhigh"],
)
async def test_glm53_flash_refusals_come_before_any_request(
    use_async: bool, params: dict[str, Any], call_kw: dict[str, Any], expected: str
) -> None:
    llm, recorder = _llm("glm-5.3-flash_stream_effort_low.sse", model="glm-5.3-flash", **params)
    with pytest.raises(zf.InvalidRequestInputError, match=expected):
        await _chat(llm, use_async, **call_kw)
    with pytest.raises(zf.InvalidRequestInputError, match=expected):
        await _stream(llm, use_async, **call_kw)
    assert recorder.bodies == []


# --- 2. web_search ------------------------------------------------------------------------------


@ASYNC
@pytest.mark.parametrize(
    "sample", ["glm-5.2_stream_web_search_final_chunk.sse", "glm-5.2_stream_web_search_before.sse"]
)
async def test_web_search_is_on_the_final_streamed_response(use_async: bool, sample: str) -> None:
    llm, _ = _llm(sample, model="glm-5.2")
    responses = await _stream(llm, use_async)
    assert responses[-1].additional_kwargs["web_search"] == RESULTS
    # Earlier responses carry none, even when GLM sent the results on the first chunk.
    assert all("web_search" not in r.additional_kwargs for r in responses[:-1])
    assert "[ref_1]" in (responses[-1].message.content or "")
    json.dumps(responses[-1].additional_kwargs)


@ASYNC
@pytest.mark.parametrize(
    "sample", ["glm-5.2_stream_web_search_final_chunk.sse", "glm-5.2_nonstream_web_search.json"]
)
async def test_chat_has_web_search(use_async: bool, sample: str) -> None:
    # chat() streams under the hood; a JSON answer to that stream request is read whole.
    llm, _ = _llm(sample, model="glm-5.2")
    response = await _chat(llm, use_async)
    assert response.additional_kwargs["web_search"] == RESULTS
    assert response.additional_kwargs["finish_reason"] == "stop"
    assert llm.complete("hi").additional_kwargs["web_search"] == RESULTS


def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"sunny in {city}"


@ASYNC
async def test_built_in_tools_go_next_to_function_tools(use_async: bool) -> None:
    llm, recorder = _llm("glm-5.2_stream_web_search_final_chunk.sse", model="glm-5.2")
    web_search = {"type": "web_search", "web_search": {"enable": True, "search_result": True}}
    retrieval = {"type": "retrieval", "retrieval": {"knowledge_id": "kb-1"}}
    tools: list[Any] = [FunctionTool.from_defaults(get_weather), web_search, retrieval]
    if use_async:
        response = await llm.achat_with_tools(tools, user_msg="weather?")
    else:
        response = llm.chat_with_tools(tools, user_msg="weather?")
    sent = recorder.bodies[0]["tools"]
    assert sent[1:] == [web_search, retrieval]
    assert sent[0]["function"]["name"] == "get_weather"
    assert recorder.bodies[0]["tool_choice"] == "auto"
    assert response.additional_kwargs["web_search"] == RESULTS
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []


# --- 3. box markers on GLM-4.6V -----------------------------------------------------------------


@ASYNC
async def test_glm46v_markers_are_stripped(use_async: bool) -> None:
    llm, _ = _llm("glm-4.6v-flash_stream_box_markers_split.sse", model="glm-4.6v-flash")
    responses = await _stream(llm, use_async)
    assert "".join(r.delta or "" for r in responses) == "42"
    assert responses[-1].message.content == "42"
    assert (await _chat(llm, use_async)).message.content == "42"
    llm, _ = _llm("glm-4.6v-flash_nonstream_box_markers.json", model="glm-4.6v")
    response = await _chat(llm, use_async)
    assert response.message.content == "42"
    assert response.message.additional_kwargs["reasoning_content"] == "Count the apples: 42."


# --- 4. error codes -----------------------------------------------------------------------------


@ASYNC
async def test_1313_is_never_retried(use_async: bool) -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(
            429,
            headers={"content-type": "application/json", "retry-after": "30"},
            content=shaped_body("error_1313_fair_use_http429.json"),
        )

    llm = make_llm(handler, max_retries=3)
    with pytest.raises(zf.FairUseRestrictionError) as info:
        await _chat(llm, use_async)
    assert isinstance(info.value, zf.PermissionDeniedError) and not info.value.is_retryable
    assert info.value.code == "1313" and len(calls) == 1


@ASYNC
async def test_an_event_error_frame_keeps_code_and_request_id(use_async: bool) -> None:
    llm, _ = _llm("glm-4.7-flash_stream_event_error_1302.sse")
    with pytest.raises(zf.RateLimitError) as info:
        await _stream(llm, use_async)
    assert (info.value.code, info.value.request_id) == ("1302", "20261119162015d8c41e7b2a09f63d")
    assert info.value.partial is not None and info.value.partial.reasoning_content == "Let me"


# --- 5. tool_stream ignored -------------------------------------------------------------------


@ASYNC
async def test_whole_tool_calls_when_tool_stream_is_ignored(use_async: bool) -> None:
    llm, recorder = _llm(
        "glm-4.7-flash_stream_tool_stream_ignored.sse", model="glm-4.7-flash", tool_stream=True
    )
    tools = [FunctionTool.from_defaults(get_weather)]
    if use_async:
        gen = await llm.astream_chat_with_tools(tools, user_msg="weather in Hangzhou?")
        responses = [r async for r in gen]
    else:
        responses = list(llm.stream_chat_with_tools(tools, user_msg="weather in Hangzhou?"))
    assert recorder.bodies[0]["tool_stream"] is True
    calls = [b for b in responses[-1].message.blocks if isinstance(b, ToolCallBlock)]
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("get_weather", {"city": "Hangzhou"})]
    selections = llm.get_tool_calls_from_response(responses[-1])
    assert [(s.tool_id, s.tool_kwargs) for s in selections] == [
        ("call_20261119162544b0e7d3f19a2c46e8_0", {"city": "Hangzhou"})
    ]
