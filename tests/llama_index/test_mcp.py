"""MCP calls through ZhipuFlash (issue 23; docs/glm-api.md §5.1): chat, achat, stream_chat
and astream_chat keep GLM's MCP objects in ``message.additional_kwargs["mcp_calls"]`` and in
``raw``, never as a ``ToolCallBlock`` or an ``additional_kwargs["tool_calls"]`` entry, so
``get_tool_calls_from_response`` (what agents execute) sees only the function call."""

from __future__ import annotations

import json

from llama_index.core.base.llms.types import ChatResponse, ToolCallBlock
from llama_index.core.llms import ChatMessage

from llama_index_zhipu_flash import ZhipuFlash
from tests import mcp
from tests.llama_index._support import Recorder, make_llm

MESSAGES = [ChatMessage(role="user", content="Check the docs.")]


def _llm() -> ZhipuFlash:
    return make_llm(Recorder(lambda _: mcp.stream_body()), model=mcp.MODEL)


def _check(response: ChatResponse) -> None:
    message = response.message
    assert message.additional_kwargs["mcp_calls"] == mcp.MCP_OBJECTS
    blocks = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
    assert [b.tool_name for b in blocks] == ["get_weather"]
    assert [c["function"]["name"] for c in message.additional_kwargs["tool_calls"]] == [
        "get_weather"
    ]
    assert message.content == mcp.TEXT
    json.dumps(message.additional_kwargs)  # plain JSON values only


def test_chat_and_stream_chat_keep_mcp_calls_apart() -> None:
    llm = _llm()
    response = llm.chat(MESSAGES)
    _check(response)
    selections = llm.get_tool_calls_from_response(response)
    assert [(s.tool_name, s.tool_kwargs) for s in selections] == [
        ("get_weather", {"city": "Beijing"})
    ]
    assert [m["mcp"]["type"] for m in response.raw["choices"][0]["message"]["tool_calls"][:2]] == [
        "mcp_list_tools",
        "mcp_call",
    ]
    streamed = list(llm.stream_chat(MESSAGES))
    _check(streamed[-1])
    # Mid-stream too: the listing is readable at once, and never offered as a tool to run.
    first = streamed[0].message
    assert first.additional_kwargs["mcp_calls"] == [mcp.MCP_OBJECTS[0]]
    assert llm.get_tool_calls_from_response(streamed[0], error_on_no_tool_call=False) == []


async def test_achat_and_astream_chat_keep_mcp_calls_apart() -> None:
    llm = _llm()
    _check(await llm.achat(MESSAGES))
    stream = await llm.astream_chat(MESSAGES)
    responses = [r async for r in stream]
    _check(responses[-1])
    await llm.aclose()
