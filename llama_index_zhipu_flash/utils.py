"""Pure conversions between LlamaIndex's types and the core's wire dicts and chunks.

No I/O here: ``to_glm_messages`` turns ``ChatMessage`` objects into the message dicts the
core's ``build_chat_request`` checks and sends, :class:`ChatResponseBuilder` folds the core's
normalised chunks into LlamaIndex's cumulative ``ChatResponse`` objects, and
:func:`completion_to_chat_response` turns the core's final completion into the same message.

Streaming follows LlamaIndex's convention (the opposite of LangChain's): every response
carries the whole message so far, and ``delta`` holds only the new answer text. Reasoning is
kept out of ``delta`` and ``message.content``; it goes to a ``ThinkingBlock``, to
``message.additional_kwargs["reasoning_content"]`` (unless turned off) and, per chunk, to
``ChatResponse.additional_kwargs["thinking_delta"]``. Tool calls are ``ToolCallBlock``s and,
in the OpenAI shape, ``message.additional_kwargs["tool_calls"]``. MCP calls GLM made on an
MCP server are ``message.additional_kwargs["mcp_calls"]`` (plain dicts) and in ``raw``, never
a block or a ``tool_calls`` entry an agent would execute.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Mapping, Sequence
from io import IOBase
from typing import Any

import pydantic_core
from llama_index.core.base.llms.types import (
    AudioBlock,
    CachePoint,
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ContentBlock,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)

from zhipu_flash import ChatCompletion, ChatCompletionChunk, InvalidRequestInputError
from zhipu_flash.model_copies import copier
from zhipu_flash.multimodal import image_url_value
from zhipu_flash.types import Usage, WebSearchResult

__all__ = [
    "ChatResponseBuilder",
    "chat_to_completion_response",
    "completion_to_chat_response",
    "parse_tool_kwargs",
    "to_glm_message",
    "to_glm_messages",
    "usage_kwargs",
]

_ROLES = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}


# -- ChatMessage -> wire dict ---------------------------------------------------------------


def to_glm_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """LlamaIndex messages as GLM message dicts (the core validates and normalises them)."""
    return [to_glm_message(m) for m in messages]


def to_glm_message(message: ChatMessage) -> dict[str, Any]:
    role = _ROLES.get(message.role)
    if role is None:  # pragma: no cover - MessageRole is a closed enum
        raise InvalidRequestInputError(f"Unsupported message role {message.role!r}.")
    kwargs = message.additional_kwargs
    texts: list[str] = []
    parts: list[dict[str, Any]] = []
    has_media = False
    reasoning: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ThinkingBlock):
            if block.content:
                reasoning.append(block.content)
        elif isinstance(block, ToolCallBlock):
            tool_calls.append(_tool_call(block))
        elif isinstance(block, CachePoint):
            continue  # a prompt-caching hint for other providers; GLM caches on its own
        else:
            parts.append(_media_part(block))
            has_media = True

    # Media in a message of another role goes to the core as parts too: the core refuses it
    # (GLM takes images, video and files in user messages only).
    # Text alone is joined as ChatMessage.content joins it.
    out: dict[str, Any] = {"role": role, "content": parts if has_media else "\n".join(texts)}

    if role == "assistant":
        if not tool_calls:
            tool_calls = _legacy_tool_calls(kwargs.get("tool_calls"))
        if tool_calls:
            out["tool_calls"] = tool_calls
        text = "".join(reasoning) or kwargs.get("reasoning_content")
        if text:
            # Every assistant message's reasoning goes to the core, which decides: kept in the
            # current turn's tool loop (interleaved thinking), on earlier turns only with
            # clear_thinking=False, never for a model without thinking.
            out["reasoning_content"] = text
    elif role == "tool":
        call_id = kwargs.get("tool_call_id")
        if call_id:
            out["tool_call_id"] = call_id
    return out


def _tool_call(block: ToolCallBlock) -> dict[str, Any]:
    kwargs = block.tool_kwargs
    arguments = kwargs if isinstance(kwargs, str) else json.dumps(kwargs, ensure_ascii=False)
    return {
        "id": block.tool_call_id or "",
        "type": "function",
        "function": {"name": block.tool_name, "arguments": arguments or "{}"},
    }


def _legacy_tool_calls(calls: Any) -> list[dict[str, Any]]:
    """``additional_kwargs["tool_calls"]`` as older integrations store it (OpenAI-style dicts
    or objects with ``model_dump``)."""
    if not calls or not isinstance(calls, Sequence):
        return []
    out: list[dict[str, Any]] = []
    for call in calls:
        data = call.model_dump() if hasattr(call, "model_dump") else call
        if isinstance(data, Mapping):
            out.append(dict(data))
    return out


def _media_part(block: ContentBlock) -> dict[str, Any]:
    if isinstance(block, ImageBlock):
        return {"type": "image_url", "image_url": {"url": _image_value(block)}}
    # Video and documents go as their URL; the core takes only http(s) URLs for them and says
    # so (a local file or inline data has no URL: an empty one gets the same answer).
    if isinstance(block, VideoBlock):
        return {"type": "video_url", "video_url": {"url": str(block.url or "")}}
    if isinstance(block, DocumentBlock):
        return {"type": "file_url", "file_url": {"url": block.url or ""}}
    if isinstance(block, AudioBlock):
        raise InvalidRequestInputError("GLM chat models do not take audio input.")
    raise InvalidRequestInputError(
        f"GLM cannot take a {type(block).__name__} in a message; send text, images "
        "(ImageBlock), video or document URLs."
    )


def _image_value(block: ImageBlock) -> str:
    """A URL passed through untouched (never downloaded: ``resolve_image()`` would fetch
    it), otherwise bare base64 checked by the core."""
    if block.url is not None:
        return image_url_value(str(block.url))
    if block.image is not None:
        data = block.image
        if isinstance(data, IOBase):
            data.seek(0)
            raw = data.read()
            return image_url_value(raw if isinstance(raw, bytes) else str(raw))
        # ImageBlock stores bytes base64-encoded after validation.
        return image_url_value(base64.b64decode(data))
    if block.path is not None:
        return image_url_value(block.path)
    raise InvalidRequestInputError("An ImageBlock needs url, path or image bytes.")


# -- chunks and completions -> ChatResponse -------------------------------------------------


def usage_kwargs(usage: Usage | None) -> dict[str, int]:
    """Token counts as plain ints: prompt, completion, total, and cached/reasoning when the
    API reported them."""
    if usage is None:
        return {}
    out = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached_tokens is not None:
        out["cached_tokens"] = usage.cached_tokens
    if usage.reasoning_tokens is not None:
        out["reasoning_tokens"] = usage.reasoning_tokens
    return out


def parse_tool_kwargs(arguments: str | dict[str, Any] | None) -> dict[str, Any]:
    """Tool arguments as a dict; partial or invalid JSON never raises (streams hand out
    half-built argument strings with ``tool_stream``).

    A string value cut short is kept as far as it came (``{"title": "Riv`` gives
    ``{"title": "Riv"}``), so the partial objects of LlamaIndex's streaming programs grow with
    the fragments; ``parse_partial_json`` drops such a value until its quote closes. A key cut
    short carries nothing yet."""
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    if "\\" in arguments[-6:]:
        arguments = _without_cut_escape(arguments)
    try:
        value = pydantic_core.from_json(arguments, allow_partial="trailing-strings")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


#: A string cut inside an escape: a lone backslash, or ``\\u`` with fewer than four hex digits.
_CUT_ESCAPE = re.compile(r"(\\+)(?:u[0-9a-fA-F]{0,3})?\Z")


def _without_cut_escape(arguments: str) -> str:
    """``arguments`` without an escape cut short at its end (``"x\\`` gives ``"x``). Recent
    pydantic-core drops it when parsing partial JSON; older releases (2.33) drop the whole
    value instead, so it is removed here first and every release gives the same object."""
    found = _CUT_ESCAPE.search(arguments)
    if found is None or len(found.group(1)) % 2 == 0:  # an even run is escaped backslashes
        return arguments
    return arguments[: found.end(1) - 1]


def _tool_kwargs_value(arguments: str) -> dict[str, Any] | str:
    """A ToolCallBlock's kwargs: the dict once the JSON is complete, the raw string before."""
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    return value if isinstance(value, dict) else arguments


def _tool_block(call_id: str | None, name: str, arguments: str) -> ToolCallBlock:
    return ToolCallBlock.model_construct(
        block_type="tool_call",
        tool_call_id=call_id,
        tool_name=name,
        tool_kwargs=_tool_kwargs_value(arguments),
    )


def _openai_tool_call(call_id: str | None, name: str, arguments: str) -> dict[str, Any]:
    """One entry of ``message.additional_kwargs["tool_calls"]``, in the OpenAI shape.

    llama-index-core reads tool calls from this key, not from the blocks, in several places:
    the streaming programs (``program/utils.py`` ``process_streaming_objects``: without it
    ``stream_structured_predict`` yields empty objects), the chat engines' ``is_function``,
    ``ChatSummaryMemoryBuffer``. Plain JSON values (llama-index-llms-openai stores SDK
    objects; ours must survive ``model_dump``, ``json.dumps`` and pickling)."""
    return {
        "id": call_id or "",
        "type": "function",
        "function": {"name": name, "arguments": arguments or "{}"},
    }


class _Tool:
    __slots__ = ("args", "block", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.args = ""
        self.block: ToolCallBlock | None = None


# What ChatResponseBuilder builds per chunk: exactly what model_construct builds, for a
# fraction of the cost (zhipu_flash.model_copies). Each takes the object's whole state, its
# fields in their declared order.
_text_block = copier(TextBlock, {"block_type": "text", "text": ""})
_thinking_block = copier(
    ThinkingBlock,
    {"block_type": "thinking", "content": "", "num_tokens": None, "additional_information": {}},
)
_ASSISTANT = MessageRole.ASSISTANT
_chat_message = copier(ChatMessage, {"role": _ASSISTANT, "additional_kwargs": {}, "blocks": []})
_chat_response = copier(
    ChatResponse,
    {"message": None, "raw": None, "delta": None, "logprobs": None, "additional_kwargs": {}},
)


class ChatResponseBuilder:
    """Folds the core's chunks into cumulative ``ChatResponse`` objects, one per chunk (what
    ``stream_chat`` yields). ``chat()`` does not use it: it builds its one response from the
    core's final completion with :func:`completion_to_chat_response`, and the last response
    built here holds the same message.

    Cost: text and reasoning grow by ``+=`` on one string each (no re-join of all parts per
    chunk), and a block is rebuilt only when its own part changed: a reasoning-only chunk
    reuses the previous ``TextBlock`` object, a text chunk reuses the ``ThinkingBlock`` and
    ``ToolCallBlock``s. The objects are copies of prototypes (:mod:`zhipu_flash.model_copies`),
    what ``model_construct`` builds without its per-field walk: their fields are ours and
    already typed. A chunk of plain text or reasoning (no tool call, usage, finish reason or
    unknown field: almost every chunk) gets its ``raw`` dict built here, equal to the chunk's
    ``model_dump(exclude_none=True)``, which costs three times as much; when the stream says
    the chunk is a plain one of a shape already seen (``Stream.plain``), ``raw`` is that
    shape's with the new text, and the chunk itself is not read. The one cost per
    chunk that grows with the answer is the copy of the text that grew, which LlamaIndex's
    type (a ``str`` per block, the whole text so far in every response) makes unavoidable: a
    memory copy, a few CPU instructions per 100 characters.

    Chunks arrive already normalised by the core: tool-call indexes are a local 0..n-1,
    ``-1`` is resolved, and GLM's repeat of a whole call on its second finish chunk is gone.

    Args:
        reasoning_in_additional_kwargs: Also put the reasoning so far in
            ``message.additional_kwargs["reasoning_content"]`` (it is always in the
            ``ThinkingBlock`` and, per chunk, in ``additional_kwargs["thinking_delta"]``).
    """

    __slots__ = (
        "_finish_reason",
        "_mcp",
        "_model",
        "_plain",
        "_reasoning",
        "_reasoning_kwargs",
        "_templates",
        "_text",
        "_text_block",
        "_thinking_block",
        "_tools",
        "_usage",
        "_web_search",
    )

    def __init__(self, *, reasoning_in_additional_kwargs: bool = True) -> None:
        self._reasoning_kwargs = reasoning_in_additional_kwargs
        self._plain = _plain_raw_is_model_dump()  # checked once per process
        self._text = ""
        self._reasoning = ""
        self._text_block: TextBlock = _text_block({"block_type": "text", "text": ""})
        self._thinking_block: ThinkingBlock | None = None
        self._tools: list[_Tool] = []
        #: MCP calls so far by index (each delta carries the call so far).
        self._mcp: dict[int, dict[str, Any]] = {}
        self._finish_reason: str | None = None
        self._usage: dict[str, int] = {}
        self._model: str | None = None
        self._web_search: list[dict[str, Any]] | None = None
        #: Per shape of the core's plain chunks (see ``response_for``): the ``raw`` dict
        #: without ``choices``, and the delta's dump without its text.
        self._templates: dict[object, tuple[dict[str, Any], dict[str, Any]]] = {}

    def response_for(
        self, chunk: ChatCompletionChunk, plain: tuple[str, str, object] | None = None
    ) -> ChatResponse:
        """Fold in one chunk and return its response: the message so far, the text delta,
        the raw chunk. ``plain`` is the stream's :attr:`zhipu_flash.Stream.plain` for this
        chunk: with it, a chunk of a shape seen before is not read at all (its ``raw`` is the
        shape's, with this chunk's text)."""
        if plain is not None and (template := self._templates.get(plain[2])) is not None:
            field, text, _ = plain
            raw = template[0].copy()
            dumped = template[1].copy()
            dumped[field] = text
            raw["choices"] = [{"index": 0, "delta": dumped}]
            if field == "content":
                text_delta, thinking_delta = text, ""
            else:
                text_delta, thinking_delta = "", text
        else:
            raw, text_delta, thinking_delta = self._read(chunk, plain)
        if text_delta:
            self._text += text_delta
            self._text_block = _text_block({"block_type": "text", "text": self._text})
        extra = (
            _response_kwargs(self._usage, self._finish_reason, self._model, self._web_search)
            if self._usage or self._finish_reason
            else {}
        )
        if thinking_delta:
            self._reasoning += thinking_delta
            self._thinking_block = _thinking_block(
                {
                    "block_type": "thinking",
                    "content": self._reasoning,
                    "num_tokens": None,
                    "additional_information": {},
                }
            )
            extra["thinking_delta"] = thinking_delta
        return _chat_response(
            {
                "message": self._message(),
                "raw": raw,
                "delta": text_delta,
                "logprobs": None,
                "additional_kwargs": extra,
            }
        )

    def _read(
        self, chunk: ChatCompletionChunk, plain: tuple[str, str, object] | None
    ) -> tuple[dict[str, Any], str, str]:
        """``raw``, text and reasoning of a chunk read field by field; the first plain chunk
        of a shape also leaves its template."""
        # Fields are read from __dict__: pydantic models define __getattr__, which keeps
        # CPython from specialising attribute reads on them (each costs several times a
        # dict lookup), and this runs once per token when the stream gives no ``plain``.
        fields = chunk.__dict__
        if self._model is None:
            self._model = fields["model"]
        read = _plain_raw(chunk, fields) if self._plain else None
        if read is None:
            text_delta, thinking_delta = self._fold(chunk)
            return chunk.model_dump(exclude_none=True), text_delta, thinking_delta
        if plain is not None:
            field, text, shape = plain
            dumped = read[0]["choices"][0]["delta"]
            if dumped.get(field) == text:
                head = {k: v for k, v in read[0].items() if k != "choices"}
                self._templates[shape] = (head, {k: v for k, v in dumped.items() if k != field})
        return read

    def _fold(self, chunk: ChatCompletionChunk) -> tuple[str, str]:
        """Any chunk: its text and reasoning deltas; tool calls, the finish reason, usage
        and search results are folded into the builder."""
        text_delta = ""
        thinking_delta = ""
        for choice in chunk.choices:
            if choice.index != 0:
                continue  # GLM streams one choice
            delta = choice.delta
            if delta.content:
                text_delta += delta.content
            if delta.reasoning_content:
                thinking_delta += delta.reasoning_content
            if delta.tool_calls:
                for call in delta.tool_calls:
                    if call.mcp is not None:  # the core sets it on every MCP delta
                        self._mcp[call.index] = call.mcp.model_dump(exclude_none=True)
                    else:
                        self._add_tool(call.index, call.id, call.function)
            if choice.finish_reason is not None and self._finish_reason is None:
                self._finish_reason = choice.finish_reason
        if chunk.usage is not None:
            self._usage = usage_kwargs(chunk.usage)
        if chunk.web_search is not None:  # once per stream, first or final chunk
            self._web_search = _web_search(chunk.web_search)
        return text_delta, thinking_delta

    def _add_tool(self, index: int, call_id: str | None, function: Any) -> None:
        while len(self._tools) <= index:
            self._tools.append(_Tool())
        tool = self._tools[index]
        if call_id and not tool.id:
            tool.id = call_id
        if function is not None:
            if function.name and not tool.name:
                tool.name = function.name
            if function.arguments:
                args = function.arguments
                tool.args += args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
        tool.block = _tool_block(tool.id, tool.name or "", tool.args)

    def _message(self) -> ChatMessage:
        thinking = self._thinking_block
        blocks: list[Any] = [self._text_block] if thinking is None else [thinking, self._text_block]
        kwargs: dict[str, Any] = {}
        if self._reasoning and self._reasoning_kwargs:
            kwargs["reasoning_content"] = self._reasoning
        if self._tools:
            # A new list of new dicts per response: each response keeps its own snapshot.
            tools = [t for t in self._tools if t.block is not None]
            blocks.extend(t.block for t in tools)
            kwargs["tool_calls"] = [_openai_tool_call(t.id, t.name or "", t.args) for t in tools]
        if self._mcp:
            kwargs["mcp_calls"] = [self._mcp[i] for i in sorted(self._mcp)]
        return _chat_message({"role": _ASSISTANT, "additional_kwargs": kwargs, "blocks": blocks})


def _plain_raw(
    chunk: ChatCompletionChunk, fields: dict[str, Any]
) -> tuple[dict[str, Any], str, str] | None:
    """For a chunk of plain text or reasoning (one choice, no tool calls, finish reason,
    usage, search results or unknown field; ``fields`` is its ``__dict__``): its
    ``model_dump(exclude_none=True)``, text and reasoning (``""`` when absent). Otherwise
    None."""
    choices = fields["choices"]
    if (
        len(choices) != 1
        or fields["usage"] is not None
        or fields["web_search"] is not None
        or fields["error"] is not None
        or chunk.__pydantic_extra__
    ):
        return None
    choice = choices[0]
    picked = choice.__dict__
    delta = picked["delta"]
    said = delta.__dict__
    if (
        picked["index"] != 0
        or picked["finish_reason"] is not None
        or said["tool_calls"] is not None
        or choice.__pydantic_extra__
        or delta.__pydantic_extra__
    ):
        return None
    id_, created, object_, model = (
        fields["id"],
        fields["created"],
        fields["object"],
        fields["model"],
    )
    if id_ is None or created is None or object_ is None or model is None:
        raw = {k: v for k in _HEAD if (v := fields[k]) is not None}
    else:  # what GLM sends: spelled out, a loop per chunk costs more than the dict
        raw = {"id": id_, "created": created, "object": object_, "model": model}
    role, content, reasoning = said["role"], said["content"], said["reasoning_content"]
    if role is None or (content is None) == (reasoning is None):
        dumped = {k: v for k in _DELTA if (v := said[k]) is not None}
    elif content is None:
        dumped = {"role": role, "reasoning_content": reasoning}
    else:
        dumped = {"role": role, "content": content}
    raw["choices"] = [{"index": 0, "delta": dumped}]
    return raw, content or "", reasoning or ""


#: The fields of a plain chunk and of its delta that _plain_raw dumps, in their order.
_HEAD = ("id", "created", "object", "model")
_DELTA = ("role", "content", "reasoning_content")


@functools.cache
def _plain_raw_is_model_dump() -> bool:
    """Whether :func:`_plain_raw` is what this version of the core's chunk type dumps, for
    every shape it builds (checked on the first stream, not at import, which would build the
    chunk type's deferred schema; otherwise every chunk uses ``model_dump``)."""
    head = {"id": "i", "created": 1, "object": "chat.completion.chunk", "model": "m"}
    samples = [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "a"}}]},
        {**head, "choices": [{"delta": {"role": "assistant", "reasoning_content": "b"}}]},
        {**head, "choices": [{"delta": {"role": "assistant", "content": "a",
                                        "reasoning_content": "b"}}]},
        {"choices": [{"index": 0, "delta": {"reasoning_content": "b", "content": None}}]},
        {"choices": [{"delta": {}}]},
    ]  # fmt: skip
    for sample in samples:
        chunk = ChatCompletionChunk.model_validate(sample)
        plain = _plain_raw(chunk, chunk.__dict__)
        if plain is None or plain[0] != chunk.model_dump(exclude_none=True):
            return False
    return True


def completion_to_chat_response(
    completion: ChatCompletion, *, reasoning_in_additional_kwargs: bool = True
) -> ChatResponse:
    """The ``ChatResponse`` for a whole answer (what ``chat()`` returns), from the core's
    final completion; ``raw`` is that completion as a plain dict. Its message equals the
    last one :class:`ChatResponseBuilder` yields for the same stream."""
    message = completion.message
    reasoning = message.reasoning_content or ""
    blocks: list[Any] = []
    if reasoning:
        blocks.append(_thinking(reasoning))
    blocks.append(TextBlock.model_construct(block_type="text", text=message.content or ""))
    kwargs: dict[str, Any] = {}
    if reasoning and reasoning_in_additional_kwargs:
        kwargs["reasoning_content"] = reasoning
    calls = completion.function_calls
    if calls:
        blocks.extend(_tool_block(c.id, c.function.name, c.function.arguments) for c in calls)
        kwargs["tool_calls"] = [
            _openai_tool_call(c.id, c.function.name, c.function.arguments) for c in calls
        ]
    if completion.mcp_calls:
        kwargs["mcp_calls"] = [c.model_dump(exclude_none=True) for c in completion.mcp_calls]
    chat_message = ChatMessage.model_construct(
        role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=kwargs
    )
    extra = _response_kwargs(
        usage_kwargs(completion.usage),
        completion.finish_reason,
        completion.model,
        _web_search(completion.web_search) if completion.web_search else None,
    )
    return _response(
        chat_message,
        delta=None,
        raw=completion.model_dump(exclude_none=True),
        additional_kwargs=extra,
    )


def _response_kwargs(
    usage: dict[str, int],
    finish_reason: str | None,
    model: str | None,
    web_search: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    out: dict[str, Any] = dict(usage)
    if finish_reason is not None:
        out["finish_reason"] = finish_reason
    if usage or finish_reason:
        if model is not None:
            out["model"] = model
        # The built-in search's sources, with the answer's ending (the final response of a
        # stream, and chat()), however early in the stream GLM sent them.
        if web_search:
            out["web_search"] = web_search
    return out


def _web_search(results: Sequence[WebSearchResult]) -> list[dict[str, Any]]:
    # Plain dicts: additional_kwargs holds JSON values only.
    return [r.model_dump(exclude_none=True) for r in results]


def _thinking(text: str) -> ThinkingBlock:
    return ThinkingBlock.model_construct(
        block_type="thinking", content=text, num_tokens=None, additional_information={}
    )


def _response(
    message: ChatMessage, *, delta: str | None, raw: Any, additional_kwargs: dict[str, Any]
) -> ChatResponse:
    return ChatResponse.model_construct(
        message=message,
        raw=raw,
        delta=delta,
        logprobs=None,
        additional_kwargs=additional_kwargs,
    )


def chat_to_completion_response(response: ChatResponse) -> CompletionResponse:
    """A ``ChatResponse`` as a ``CompletionResponse``, without mutating the message (the
    LlamaIndex helper updates ``message.additional_kwargs`` in place)."""
    kwargs = {**response.message.additional_kwargs, **response.additional_kwargs}
    return CompletionResponse(
        text=response.message.content or "",
        additional_kwargs=kwargs,
        raw=response.raw,
        delta=response.delta,
    )
