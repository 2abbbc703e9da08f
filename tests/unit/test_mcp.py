"""Tool calls of type "mcp" through the core (issue 23; docs/glm-api.md §5.1), streamed and
whole, sync and async: the MCP objects are typed and readable, kept apart from the function
calls a caller runs, and merged across a stream's deltas."""

from __future__ import annotations

import httpx
import pytest

from tests import mcp
from tests.unit._helpers import Server, run_create, run_stream, sse
from zhipu_flash.types import ChatCompletion, McpCall

pytestmark = pytest.mark.parametrize("mode", ["sync", "async"])


def _check(final: ChatCompletion) -> None:
    assert [c.type for c in final.tool_calls] == ["mcp", "mcp", "function"]
    assert [c.function.name for c in final.function_calls] == ["get_weather"]
    assert final.function_calls[0].function.arguments == '{"city": "Beijing"}'
    listed, called = final.mcp_calls
    assert isinstance(listed, McpCall) and listed.type == "mcp_list_tools"
    assert listed.server_label == "docs"
    assert listed.tools is not None and listed.tools[0].name == "search_docs"
    assert listed.tools[0].input_schema == mcp.TOOLS[0]["input_schema"]
    assert (called.type, called.name, called.arguments, called.output) == (
        "mcp_call",
        "search_docs",
        '{"q": "rate limits"}',
        "1302: concurrency",
    )
    assert [m.model_dump(exclude_none=True) for m in final.mcp_calls] == mcp.MCP_OBJECTS
    assert final.content == mcp.TEXT and final.finish_reason == "tool_calls"


def test_an_answer_with_mcp_calls(mode: str) -> None:
    server = Server([lambda request: httpx.Response(200, json=mcp.completion())])
    _check(run_create(mode, server, model=mcp.MODEL))


def test_a_stream_with_mcp_calls(mode: str) -> None:
    server = Server([sse([mcp.stream_body()])])
    chunks, final = run_stream(mode, server, model=mcp.MODEL)
    _check(final)
    # Every handed-out delta of an MCP call says so and carries the call so far.
    deltas = [d for c in chunks if c.delta and c.delta.tool_calls for d in c.delta.tool_calls]
    assert [d.is_mcp for d in deltas] == [True, True, True, False]
    assert deltas[2].type == "mcp" and deltas[2].mcp is not None
    assert deltas[2].mcp.name == "search_docs" and deltas[2].mcp.output == "1302: concurrency"
    assert deltas[1].mcp is not None and deltas[1].mcp.output is None
