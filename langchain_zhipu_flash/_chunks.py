"""Stream chunks built without running their pydantic constructors.

Through the constructors, one ``AIMessageChunk`` and its ``ChatGenerationChunk`` cost about
80,000 CPU instructions per streamed token (validation, ``_backwards_compat_tool_calls``,
``init_tool_calls``, ``set_text``), almost as much as the core spends receiving and parsing
the chunk. For a chunk of text or reasoning none of that work changes anything: its values
are strings and dicts built here. So the function :func:`builder` returns copies the state of
one chunk built through the constructors (the prototype: its ``__dict__``, its set of fields
passed, pydantic's extra and private slots) and puts in the chunk's own values, about a fifth
of the cost (allocating two pydantic objects and setting their four slots is most of what
is left). The objects are the constructors' in every respect (``==``, ``model_dump``, the
fields set, serialisation, ``.text``, merging): tests/langchain/test_fast_chunks.py compares
them.

The copy is checked against the constructors once per process, on first use, for every
shape it builds; if this langchain-core's constructors build anything else (another value, a
mutable default a copy would share, private state), every chunk goes through the
constructors. Chunks with tool calls, and the one final chunk of a stream, always do: their
validators do real work (tool calls parsed from the chunks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import AIMessageChunk
from langchain_core.messages.tool import ToolCallChunk
from langchain_core.outputs import ChatGenerationChunk

from zhipu_flash.model_copies import new, same, set_dict, set_extra, set_fields_set, set_private

__all__ = ["Builder", "builder", "constructed"]

Content = str | list[str | dict[str, Any]]
Builder = Callable[
    [Content, str, dict[str, Any], dict[str, Any], "str | None"], ChatGenerationChunk
]

_str_new = str.__new__
#: Values a copy may share with the prototype: nothing can change them in place.
_IMMUTABLE = (str, int, float, bool, type(None))
#: The message fields every copy gets its own value for: ours, and the lists
#: ``default_factory`` makes.
_PER_CHUNK = frozenset(
    {
        "content",
        "additional_kwargs",
        "response_metadata",
        "id",
        "tool_calls",
        "invalid_tool_calls",
        "tool_call_chunks",
    }
)


def constructed(
    content: Content,
    additional_kwargs: dict[str, Any],
    response_metadata: dict[str, Any],
    id: str | None,
    tool_call_chunks: list[ToolCallChunk] | None = None,
    generation_info: dict[str, Any] | None = None,
) -> ChatGenerationChunk:
    """A chunk through the constructors (tool calls, the final chunk, the prototype)."""
    message = AIMessageChunk(
        content=content,
        additional_kwargs=additional_kwargs,
        tool_call_chunks=tool_call_chunks or [],
        response_metadata=response_metadata,
        id=id,
    )
    if generation_info is None:  # as LangChain's own models build it: no generation_info field
        return ChatGenerationChunk(message=message)
    return ChatGenerationChunk(message=message, generation_info=generation_info)


def builder() -> Builder:
    """The function that builds a chunk without tool calls: ``build(content, text,
    additional_kwargs, response_metadata, id)``, with ``content`` a string or v1 blocks and
    ``text`` its text (what ``ChatGenerationChunk.text`` holds). The dicts and the content
    list become the chunk's own: pass new ones."""
    build = _BUILDER[0]
    if build is None:
        build = _BUILDER[0] = _checked_copier()
    return build


def _fallback(
    content: Content,
    text: str,
    additional_kwargs: dict[str, Any],
    response_metadata: dict[str, Any],
    id: str | None,
) -> ChatGenerationChunk:
    return constructed(content, additional_kwargs, response_metadata, id)


def _checked_copier() -> Builder:
    """The copying builder if it builds exactly what the constructors build; otherwise the
    constructors."""
    try:
        build = _copier(constructed("", {}, {}, "prototype"))
    except _Unsafe:
        return _fallback
    for args in _SHAPES:
        if not same(build(*args), _fallback(*args)):
            return _fallback
    return build


class _Unsafe(Exception):
    """The prototype holds something a copy could not share or reproduce."""


def _copier(proto: ChatGenerationChunk) -> Builder:
    message = proto.message
    message_state, generation_state = dict(message.__dict__), dict(proto.__dict__)
    if not (
        message_state.keys() >= _PER_CHUNK
        and all(isinstance(v, _IMMUTABLE) for k, v in message_state.items() if k not in _PER_CHUNK)
        and all(isinstance(v, _IMMUTABLE) for k, v in generation_state.items() if k != "message")
        and message.__pydantic_extra__ == {}
        and message.__pydantic_private__ is None
        and proto.__pydantic_extra__ is None
        and proto.__pydantic_private__ is None
    ):
        raise _Unsafe
    message_fields = set(message.__pydantic_fields_set__)
    generation_fields = set(proto.__pydantic_fields_set__)
    text_type = type(proto.text)  # langchain-core 1.x: TextAccessor, a str subclass
    empty_text = _str_new(text_type, "")  # one serves every chunk while it has no __dict__
    if hasattr(empty_text, "__dict__"):
        raise _Unsafe

    def build(
        content: Content,
        text: str,
        additional_kwargs: dict[str, Any],
        response_metadata: dict[str, Any],
        id: str | None,
    ) -> ChatGenerationChunk:
        message = new(AIMessageChunk)
        state = message_state.copy()
        state["content"] = content
        state["additional_kwargs"] = additional_kwargs
        state["response_metadata"] = response_metadata
        state["id"] = id
        state["tool_calls"] = []
        state["invalid_tool_calls"] = []
        state["tool_call_chunks"] = []
        set_dict(message, state)
        set_fields_set(message, message_fields.copy())
        set_extra(message, {})
        set_private(message, None)
        chunk = new(ChatGenerationChunk)
        state = generation_state.copy()
        state["text"] = _str_new(text_type, text) if text else empty_text
        state["message"] = message
        set_dict(chunk, state)
        set_fields_set(chunk, generation_fields.copy())
        set_extra(chunk, None)
        set_private(chunk, None)
        return chunk

    return build


#: What the adapter builds without tool calls (langchain_zhipu_flash._convert), each checked
#: once: text, reasoning, both, and the same as v1 content blocks.
_SHAPES: list[tuple[Content, str, dict[str, Any], dict[str, Any], str | None]] = [
    ("Hi", "Hi", {}, {"model_provider": "zhipuai"}, "id-1"),
    ("", "", {"reasoning_content": "hm"}, {"model_provider": "zhipuai"}, None),
    ("Hi", "Hi", {"reasoning_content": "hm"}, {"model_provider": "zhipuai"}, "id-1"),
    (
        [
            {"type": "reasoning", "reasoning": "hm", "index": 0},
            {"type": "text", "text": "Hi", "index": 1},
        ],
        "Hi",
        {"reasoning_content": "hm"},
        {"model_provider": "zhipuai", "output_version": "v1"},
        "id-1",
    ),
]


_BUILDER: list[Builder | None] = [None]
