"""One answer with MCP calls beside a function call, streamed and whole, for the tests of
every surface (core, LangChain, LlamaIndex). Built with ``glm_emulator.frames`` as
BigModel's response schema describes ``tool_calls[].type: "mcp"`` (docs/glm-api.md §5.1):
GLM lists the tools of the MCP server ``docs``, calls one, then asks for a function."""

from __future__ import annotations

from typing import Any

from glm_emulator import frames

MODEL = "glm-4.7"
USAGE = {"prompt_tokens": 40, "completion_tokens": 18, "total_tokens": 58}
TOOLS = [
    {
        "name": "search_docs",
        "description": "Search the documentation.",
        "annotations": {"readOnlyHint": True},
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
]
LISTED = frames.mcp_list_tools("mcp_list_1", "docs", TOOLS)
CALLED = frames.mcp_call(
    "mcp_call_1", "docs", "search_docs", '{"q": "rate limits"}', output="1302: concurrency"
)
FUNCTION = {
    "id": "call_fn_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Beijing"}'},
}
TEXT = "Checked the docs."

#: The ``mcp`` objects a reader should find, in order.
MCP_OBJECTS = [LISTED["mcp"], CALLED["mcp"]]


def stream_chunks() -> list[dict[str, Any]]:
    """The answer streamed: the listing, the call before and after its output (each delta
    carries the fields it has), the function call whole, the text, the finish."""
    running = frames.mcp_call("mcp_call_1", "docs", "search_docs", '{"q": "rate limits"}')
    return [
        frames.chunk(tool_calls=[{"index": 0, **LISTED}], model=MODEL),
        frames.chunk(tool_calls=[{"index": 1, **running}], model=MODEL),
        frames.chunk(
            tool_calls=[{"index": 1, "type": "mcp", "mcp": {"output": CALLED["mcp"]["output"]}}],
            model=MODEL,
        ),
        frames.chunk(content=TEXT, model=MODEL),
        frames.chunk(tool_calls=[{"index": 2, **FUNCTION}], model=MODEL),
        frames.chunk(content="", finish="tool_calls", usage=USAGE, model=MODEL),
    ]


def stream_body() -> bytes:
    return frames.stream_body(stream_chunks())


def completion() -> dict[str, Any]:
    """The same answer whole, as ``create()`` gets it."""
    return frames.completion(
        content=TEXT,
        tool_calls=[{"index": i, **c} for i, c in enumerate([LISTED, CALLED, FUNCTION])],
        finish="tool_calls",
        usage=USAGE,
        model=MODEL,
        request_id="resp-1",
    )
