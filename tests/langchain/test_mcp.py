"""MCP calls through ChatZhipuFlash (issue 23; docs/glm-api.md §5.1): invoke, ainvoke,
stream and astream keep GLM's MCP objects in ``additional_kwargs["mcp_calls"]`` and never in
``tool_calls``/``tool_call_chunks``, which an agent would execute; the function call beside
them stays a tool call."""

from __future__ import annotations

import json
from typing import Any

import httpx
from langchain_core.messages import AIMessage, AIMessageChunk

from tests import mcp
from tests.langchain._helpers import JSON, SSE, model_for


def answer(request: httpx.Request) -> httpx.Response:
    if json.loads(request.content).get("stream"):
        return httpx.Response(200, headers=SSE, content=mcp.stream_body())
    return httpx.Response(200, headers=JSON, content=json.dumps(mcp.completion()).encode())


def _check(message: AIMessage) -> None:
    assert [c["name"] for c in message.tool_calls] == ["get_weather"]
    assert message.tool_calls[0]["args"] == {"city": "Beijing"}
    assert message.invalid_tool_calls == []
    assert message.additional_kwargs["mcp_calls"] == mcp.MCP_OBJECTS
    assert message.content == mcp.TEXT
    json.dumps(message.additional_kwargs)  # plain JSON values only


def _merged(chunks: list[Any]) -> AIMessageChunk:
    # No chunk carries an MCP call as a tool call chunk: an agent sees only the function.
    for c in chunks:
        assert all(t["name"] in (None, "get_weather") for t in c.tool_call_chunks)
    total = chunks[0]
    for c in chunks[1:]:
        total = total + c
    assert isinstance(total, AIMessageChunk)
    return total


def test_invoke_and_stream_keep_mcp_calls_apart() -> None:
    model = model_for(answer, model=mcp.MODEL)
    _check(model.invoke("Check the docs."))
    _check(_merged(list(model.stream("Check the docs."))))


async def test_ainvoke_and_astream_keep_mcp_calls_apart() -> None:
    model = model_for(answer, model=mcp.MODEL)
    _check(await model.ainvoke("Check the docs."))
    _check(_merged([c async for c in model.astream("Check the docs.")]))
