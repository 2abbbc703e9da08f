"""GLM's response shapes, built one way for everyone: stream chunks, completion and error
bodies, and the SSE bytes that carry them.

The emulator answers with these, and the test suite, the fault server and the benchmark build
every GLM-shaped response with them, so a shape is written down once. They follow the real
captures in ``tests/fixtures/wire/`` (docs/glm-api.md describes them):

- a chunk is ``{"id", "created", "object", "model", "choices": [{"index": 0,
  "finish_reason"?, "delta": {"role": "assistant", ...}}], "usage"?}``: ``role`` in every
  delta, no ``finish_reason`` key until the end, ``usage`` on the last chunk only;
- a stream is ``data: <compact JSON>`` events separated by blank lines, then
  ``data: [DONE]``; GLM sends raw UTF-8 (``ensure_ascii=False``) with compact separators;
- a completion is ``{"choices": [{"finish_reason", "index": 0, "message"}], "created",
  "id", "model", "request_id", "usage"}``; an error body ``{"error": {"code", "message"}}``.

Callers choose the values (ids, model, what a test needs), and may leave out what their case
leaves out (``object=None``): the builder decides only the shape and the bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "CHUNK_OBJECT",
    "DONE",
    "chunk",
    "compact",
    "completion",
    "error",
    "event",
    "mcp_call",
    "mcp_list_tools",
    "stream_body",
    "stream_events",
    "tool_call_fragments",
]

#: The ``object`` field of every chunk GLM sends (2026 captures; absent in older ones).
CHUNK_OBJECT = "chat.completion.chunk"
#: The event that ends every stream.
DONE = b"data: [DONE]\n\n"


def compact(obj: Any) -> bytes:
    """JSON as GLM sends it: compact separators, raw UTF-8, keys in the order built."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def chunk(
    *,
    content: str | None = None,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str | None = None,
    usage: Mapping[str, Any] | None = None,
    id: str | None = "resp-1",
    created: int | None = 1,
    model: str | None = "glm-4.7-flash",
    object: str | None = CHUNK_OBJECT,
    **top: Any,
) -> dict[str, Any]:
    """One stream chunk. ``None`` leaves a field out (``id=None``, ``object=None``); ``top``
    adds top-level fields after the others (``web_search``, ``request_id``, new fields)."""
    delta: dict[str, Any] = {"role": "assistant"}
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    if content is not None:
        delta["content"] = content
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    choice: dict[str, Any] = {"index": 0}
    if finish is not None:
        choice["finish_reason"] = finish
    choice["delta"] = delta
    out: dict[str, Any] = {}
    for key, value in (("id", id), ("created", created), ("object", object), ("model", model)):
        if value is not None:
            out[key] = value
    out["choices"] = [choice]
    if usage is not None:
        out["usage"] = dict(usage)
    out.update(top)
    return out


def tool_call_fragments(
    call_id: str,
    name: str,
    fragments: Iterable[str],
    *,
    usage: Mapping[str, Any] | None = None,
    **fields: Any,
) -> list[dict[str, Any]]:
    """The chunks of one function call streamed with ``tool_stream`` (docs/glm-api.md §6.2 row
    5, documented, never captured): the first fragment carries ``index``, ``id``, ``type`` and
    the name, each later one only ``index`` and its piece of ``arguments``; then the finish
    chunk (``tool_calls``, empty content, usage). ``fields`` go to every :func:`chunk`."""
    out: list[dict[str, Any]] = []
    for i, piece in enumerate(fragments):
        call: dict[str, Any] = {"index": 0}
        if i == 0:
            call.update(id=call_id, type="function", function={"name": name, "arguments": piece})
        else:
            call["function"] = {"arguments": piece}
        out.append(chunk(tool_calls=[call], **fields))
    default_usage = {"prompt_tokens": 20, "completion_tokens": 12, "total_tokens": 32}
    out.append(chunk(content="", finish="tool_calls", usage=usage or default_usage, **fields))
    return out


def mcp_list_tools(
    call_id: str,
    server_label: str,
    tools: Iterable[Mapping[str, Any]],
    *,
    index: int | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """A ``tool_calls`` item of type ``"mcp"`` listing an MCP server's tools, as BigModel's
    response schema describes it (docs/glm-api.md §5.1; no example or capture is published):
    ``{"id", "type": "mcp", "mcp": {"id", "type": "mcp_list_tools", "server_label", "tools":
    [{"name", "description", "annotations", "input_schema"}], "error"?}}``. ``index`` is
    added for a stream delta."""
    mcp: dict[str, Any] = {
        "id": call_id,
        "type": "mcp_list_tools",
        "server_label": server_label,
        "tools": [dict(t) for t in tools],
    }
    return _mcp_item(call_id, mcp, index, error)


def mcp_call(
    call_id: str,
    server_label: str,
    name: str,
    arguments: str,
    output: str | None = None,
    *,
    index: int | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """A ``tool_calls`` item of type ``"mcp"`` for a call GLM made on an MCP server
    (``arguments`` a JSON string, ``output`` what the server answered; docs/glm-api.md
    §5.1). ``None`` leaves ``output`` out (a call still running, or one that failed)."""
    mcp: dict[str, Any] = {
        "id": call_id,
        "type": "mcp_call",
        "server_label": server_label,
        "name": name,
        "arguments": arguments,
    }
    if output is not None:
        mcp["output"] = output
    return _mcp_item(call_id, mcp, index, error)


def _mcp_item(
    call_id: str, mcp: dict[str, Any], index: int | None, error: str | None
) -> dict[str, Any]:
    if error is not None:
        mcp["error"] = error
    item: dict[str, Any] = {} if index is None else {"index": index}
    item.update(id=call_id, type="mcp", mcp=mcp)
    return item


def completion(
    *,
    content: str | None = None,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str = "stop",
    usage: Mapping[str, Any] | None = None,
    id: str = "resp-1",
    created: int = 1,
    model: str = "glm-4.7-flash",
    request_id: str | None = None,
    **top: Any,
) -> dict[str, Any]:
    """A non-streamed answer, keys in alphabetical order at every level as GLM returns them.
    A tool-call message has no ``content`` key (as glm-4-flash's has none). GLM sets
    ``request_id`` (to the id unless the request gave one); None leaves it out."""
    message: dict[str, Any] = {"role": "assistant"}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    if content is not None:
        message["content"] = content
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    body: dict[str, Any] = {
        "choices": [{"finish_reason": finish, "index": 0, "message": message}],
        "created": created,
        "id": id,
        "model": model,
        **top,
    }
    if request_id is not None:
        body["request_id"] = request_id
    if usage is not None:
        body["usage"] = dict(usage)
    alphabetical: dict[str, Any] = json.loads(json.dumps(body, sort_keys=True))
    return alphabetical


def error(code: str | None, message: str, **top: Any) -> dict[str, Any]:
    """An error body, ``{"error": {"code", "message"}}`` (``code=None`` leaves it out);
    ``top`` adds fields beside ``error`` (``request_id``)."""
    err: dict[str, Any] = {} if code is None else {"code": code}
    err["message"] = message
    return {"error": err, **top}


def event(payload: Mapping[str, Any] | bytes) -> bytes:
    """One SSE event: ``data: <payload>`` and the blank line; a mapping is sent as
    :func:`compact` JSON, bytes as they are."""
    data = payload if isinstance(payload, bytes) else compact(payload)
    return b"data: " + data + b"\n\n"


def stream_events(chunks: Iterable[Mapping[str, Any] | bytes]) -> list[bytes]:
    """Each chunk as one event, then ``[DONE]``: a stream as a server writes it."""
    return [*(event(c) for c in chunks), DONE]


def stream_body(chunks: Iterable[Mapping[str, Any] | bytes]) -> bytes:
    """A whole stream body: the chunks' events and ``[DONE]``."""
    return b"".join(stream_events(chunks))
