"""Fold streamed chunks into one final message, normalising GLM's quirks on the way.

Sans-I/O: ``ChatCompletionAccumulator.add(chunk)`` is called once per chunk by the stream
before the chunk is handed out, and may adjust the chunk in place so every consumer sees the
same normalised view:

- tool-call ``index`` becomes a local 0..n-1 in order of first appearance (GLM may send
  ``-1``; a delta with ``-1`` and no id continues the latest call);
- ``arguments`` sent as an object become a JSON string;
- a delta of an MCP call (``type: "mcp"``, docs/glm-api.md §5.1) carries ``type: "mcp"`` and
  the call's ``mcp`` object so far, its fields merged by name;
- a tool call repeated whole after the finish reason (GLM repeats the finish chunk on
  tool-call turns) is removed from the chunk, so nothing is counted twice;
- with marker stripping on, ``<think>`` text in ``content`` moves to ``reasoning_content``
  and box markers disappear.

The finish reason is the first one seen (GLM sends ``tool_calls`` twice), usage is the last
one seen (it arrives once, on the final chunk). So is ``web_search`` (once, on the final chunk
or, with ``result_sequence: "before"``, the first). Every other top-level field a chunk
carries that the chunk model does not name (``content_filter``, fields GLM adds later) is kept
for the final completion's ``model_extra``: a field sent on several chunks keeps its last value
that was not null, the rule usage follows (GLM's top-level fields are snapshots, not deltas).
Text is kept in blocks of parts and joined once in :meth:`snapshot`, so accumulation stays
linear and compact however long the stream.
"""

from __future__ import annotations

import json
from typing import Any

from ._markers import MarkerFilter
from .types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    Choice,
    FunctionCall,
    McpCall,
    ToolCall,
    ToolCallDelta,
    Usage,
    WebSearchResult,
)

__all__ = ["ChatCompletionAccumulator", "TextParts"]


class TextParts:
    """Append-only text kept as joined blocks of 4096 parts: a long answer costs its text,
    not a pointer and a small string per token (a 1,000,000-chunk stream would otherwise
    hold ~8 MB of list slots alone). Joining each block once keeps it linear. The hot path
    appends to ``parts`` directly and calls :meth:`join_parts` when a block is full."""

    __slots__ = ("_blocks", "parts")
    BLOCK = 4096

    def __init__(self) -> None:
        self._blocks: list[str] = []
        self.parts: list[str] = []

    def join_parts(self) -> None:
        """Join the parts into one block and start an empty list of parts."""
        self._blocks.append("".join(self.parts))
        self.parts.clear()

    def text(self) -> str:
        return "".join(self._blocks) + "".join(self.parts)


class _ToolState:
    __slots__ = ("args", "id", "mcp", "name", "type")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.type: str | None = None
        self.args: list[str] = []
        #: An MCP call's object so far: its fields by name, the last value sent winning.
        self.mcp: dict[str, Any] | None = None


class ChatCompletionAccumulator:
    """Accumulates one choice (GLM streams exactly one) into a :class:`ChatCompletion`."""

    __slots__ = (
        "_content",
        "_extra",
        "_keys",
        "_markers",
        "_reasoning",
        "_tools",
        "created",
        "finish_reason",
        "id",
        "model",
        "usage",
        "web_search",
    )

    def __init__(self, *, strip_markers: bool = False) -> None:
        self.id: str | None = None
        self.created: int | None = None
        self.model: str | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.web_search: list[WebSearchResult] | None = None
        self._extra: dict[str, Any] = {}
        self._content = TextParts()
        self._reasoning = TextParts()
        self._tools: list[_ToolState] = []
        self._keys: dict[object, int] = {}
        self._markers = MarkerFilter() if strip_markers else None

    def text_parts(self, field: str) -> TextParts | None:
        """Where the text of ``field`` (``content`` or ``reasoning_content``) accumulates, for
        the stream's fast path (:mod:`._fast`), which appends a text-only chunk's token there
        instead of calling :meth:`add`; None when marker stripping must see every token."""
        if self._markers is not None:
            return None
        return self._content if field == "content" else self._reasoning

    def add(self, chunk: ChatCompletionChunk) -> None:
        if self.id is None:
            self.id, self.created, self.model = chunk.id, chunk.created, chunk.model
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.web_search is not None:
            self.web_search = chunk.web_search
        extra = chunk.__pydantic_extra__
        if extra:  # rare: one dict test per chunk on the hot path otherwise
            for key, value in extra.items():
                if value is not None or key not in self._extra:
                    self._extra[key] = value
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # n > 1 is not offered by GLM; never mix choices into one answer
            delta = choice.delta
            if self._markers is not None:
                content, reasoning = self._markers.move(
                    delta.content, delta.reasoning_content, last=choice.finish_reason is not None
                )
                # Assigned only when changed: an assignment marks a field as set on the model.
                if content != delta.content:
                    delta.content = content
                if reasoning != delta.reasoning_content:
                    delta.reasoning_content = reasoning
            if delta.reasoning_content:
                parts = self._reasoning.parts
                parts.append(delta.reasoning_content)
                if len(parts) >= TextParts.BLOCK:
                    self._reasoning.join_parts()
            if delta.content:
                parts = self._content.parts
                parts.append(delta.content)
                if len(parts) >= TextParts.BLOCK:
                    self._content.join_parts()
            if delta.tool_calls:
                delta.tool_calls = self._merge_tools(delta.tool_calls)
            if choice.finish_reason is not None and self.finish_reason is None:
                self.finish_reason = choice.finish_reason

    def _merge_tools(self, deltas: list[ToolCallDelta]) -> list[ToolCallDelta]:
        kept: list[ToolCallDelta] = []
        for d in deltas:
            fn = d.function
            if fn is not None and isinstance(fn.arguments, dict):
                fn.arguments = json.dumps(fn.arguments, ensure_ascii=False)
            if self.finish_reason is not None and self._is_repeat(d):
                continue
            d.index = self._slot(d)
            state = self._tools[d.index]
            if d.id and not state.id:
                state.id = d.id
            if d.type and not state.type:
                state.type = d.type
            if fn is not None:
                if fn.name and not state.name:
                    state.name = fn.name
                if fn.arguments:
                    state.args.append(str(fn.arguments))
            if d.mcp is not None or state.type == "mcp":
                self._merge_mcp(d, state)
            kept.append(d)
        return kept

    @staticmethod
    def _merge_mcp(d: ToolCallDelta, state: _ToolState) -> None:
        """An MCP call's delta: its fields merged into the call so far (no capture shows how
        GLM streams one, so each field is taken as a snapshot: the last value sent wins, and
        a call repeated whole after the finish changes nothing). The delta then carries the
        call so far and ``type: "mcp"``, so every consumer tells it from a function call."""
        if d.mcp is not None:
            fields = d.mcp.model_dump(exclude_none=True)
            state.mcp = {**(state.mcp or {}), **fields}
        state.type = "mcp"
        d.type = "mcp"
        d.mcp = McpCall.model_validate(state.mcp or {})

    def _slot(self, d: ToolCallDelta) -> int:
        """The local index of the call this delta belongs to, creating it if new."""
        key: object
        if d.index is not None and d.index >= 0:
            key = ("index", d.index)
            slot = self._keys.get(key)
            # The same wire index with a different id is a second call (seen with index 0
            # reused), not a continuation.
            if slot is not None and not (d.id and self._tools[slot].id not in (None, d.id)):
                return slot
        elif d.id:
            key = ("id", d.id)
            if key in self._keys:
                return self._keys[key]
        elif self._tools:
            return len(self._tools) - 1  # an anonymous fragment continues the latest call
        else:
            key = ("index", -1)
        self._tools.append(_ToolState())
        self._keys[key] = slot = len(self._tools) - 1
        if d.id:
            self._keys[("id", d.id)] = slot
        return slot

    def _is_repeat(self, d: ToolCallDelta) -> bool:
        fn = d.function
        if fn is None or not d.id:
            return False
        args = str(fn.arguments or "")
        return any(
            t.id == d.id and t.name == fn.name and "".join(t.args) == args for t in self._tools
        )

    def snapshot(self, *, malformed_frames: int = 0) -> ChatCompletion:
        """Everything so far as a :class:`ChatCompletion` (cheap enough to call once per
        stream, or once on an error for the ``partial`` it carries); ``malformed_frames`` is
        the stream's count of skipped events, reported with it."""
        tool_calls = [
            ToolCall(
                id=t.id or "",
                type=t.type or "function",
                index=i,
                function=FunctionCall(name=t.name or "", arguments="".join(t.args) or "{}"),
                mcp=None if t.mcp is None else McpCall.model_validate(t.mcp),
            )
            for i, t in enumerate(self._tools)
        ]
        message = ChatCompletionMessage(
            role="assistant",
            content=self._content.text(),
            reasoning_content=self._reasoning.text() or None,
            tool_calls=tool_calls or None,
        )
        # Unnamed top-level fields first, so they can never displace the ones built here.
        fields: dict[str, Any] = {
            **self._extra,
            "id": self.id,
            "created": self.created,
            "model": self.model,
            "choices": [Choice(index=0, message=message, finish_reason=self.finish_reason)],
            "usage": self.usage,
            "web_search": self.web_search,
            "malformed_frames": malformed_frames,
        }
        return ChatCompletion.model_validate(fields)
