"""Pure conversions between LlamaIndex's types and the core's wire dicts and chunks.

No I/O here: ``to_glm_messages`` turns ``ChatMessage`` objects into the message dicts the
core's ``build_chat_request`` checks and sends, and :class:`ChatResponseBuilder` folds the
core's normalised chunks into LlamaIndex's cumulative ``ChatResponse`` objects.

Streaming follows LlamaIndex's convention (the opposite of LangChain's): every response
carries the whole message so far, and ``delta`` holds only the new answer text. Reasoning is
kept out of ``delta`` and ``message.content``; it goes to a ``ThinkingBlock``, to
``message.additional_kwargs["reasoning_content"]`` and, per chunk, to
``ChatResponse.additional_kwargs["thinking_delta"]``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from io import IOBase
from typing import Any

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
from llama_index.core.llms.utils import parse_partial_json

from zhipu_flash import (
    ChatCompletion,
    ChatCompletionChunk,
    InvalidRequestInputError,
    Usage,
    image_url_value,
    video_part,
)

__all__ = [
    "ChatResponseBuilder",
    "chat_to_completion_response",
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

    out: dict[str, Any] = {"role": role}
    if role == "user" and has_media:
        out["content"] = parts
    else:
        if has_media:
            raise InvalidRequestInputError(
                f"GLM takes images, video and files in user messages only, not in a "
                f"{message.role.value} message."
            )
        # The same join ChatMessage.content uses.
        out["content"] = "\n".join(texts)

    if role == "assistant":
        if not tool_calls:
            tool_calls = _legacy_tool_calls(kwargs.get("tool_calls"))
        if tool_calls:
            out["tool_calls"] = tool_calls
        text = "".join(reasoning) or kwargs.get("reasoning_content")
        if text:
            # Sent only with clear_thinking=False (the core drops it otherwise).
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
    if isinstance(block, VideoBlock):
        if block.url is None:
            raise InvalidRequestInputError(
                "GLM takes video as an http(s) URL only; upload the file and pass "
                "VideoBlock(url=...)."
            )
        return dict(video_part(str(block.url)))
    if isinstance(block, DocumentBlock):
        if not block.url or not block.url.startswith(("http://", "https://")):
            raise InvalidRequestInputError(
                "GLM takes documents as an http(s) URL only (file_url, on glm-4.6v models); "
                "pass DocumentBlock(url=...)."
            )
        return {"type": "file_url", "file_url": {"url": block.url}}
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


# -- chunks -> ChatResponse ------------------------------------------------------------------


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
    half-built argument strings with ``tool_stream``)."""
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        try:
            value = parse_partial_json(arguments)
        except (ValueError, TypeError):
            return {}
    return value if isinstance(value, dict) else {}


def _tool_kwargs_value(arguments: str) -> dict[str, Any] | str:
    """A ToolCallBlock's kwargs: the dict once the JSON is complete, the raw string before."""
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    return value if isinstance(value, dict) else arguments


class _Tool:
    __slots__ = ("args", "block", "id", "name")

    def __init__(self) -> None:
        self.id: str | None = None
        self.name: str | None = None
        self.args = ""
        self.block: ToolCallBlock | None = None


class ChatResponseBuilder:
    """Folds the core's chunks into cumulative ``ChatResponse`` objects, one per chunk.

    Cost: text and reasoning grow by ``+=`` on one string each (no re-join of all parts per
    chunk), and a block is rebuilt only when its own part changed: a reasoning-only chunk
    reuses the previous ``TextBlock`` object, a text chunk reuses the ``ThinkingBlock`` and
    ``ToolCallBlock``s. Pydantic validation is skipped for the objects built here
    (``model_construct``) because their fields are ours and already typed. The one cost left
    per chunk is the copy of the block that grew, which LlamaIndex's type (a ``str`` per
    block) makes unavoidable for every response to hold the message so far.

    ``chat()`` folds chunks with :meth:`update` only and builds the one response it returns
    with :meth:`final`: no per-chunk response is built for nobody to read.

    Chunks arrive already normalised by the core: tool-call indexes are a local 0..n-1,
    ``-1`` is resolved, and GLM's repeat of a whole call on its second finish chunk is gone.
    """

    __slots__ = (
        "_finish_reason",
        "_model",
        "_reasoning",
        "_text",
        "_text_block",
        "_thinking_block",
        "_tools",
        "_usage",
        "_web_search",
    )

    def __init__(self) -> None:
        self._text = ""
        self._reasoning = ""
        self._text_block: TextBlock = TextBlock.model_construct(block_type="text", text="")
        self._thinking_block: ThinkingBlock | None = None
        self._tools: list[_Tool] = []
        self._finish_reason: str | None = None
        self._usage: dict[str, int] = {}
        self._model: str | None = None
        self._web_search: list[dict[str, Any]] | None = None

    def update(self, chunk: ChatCompletionChunk) -> tuple[str, str]:
        """Fold one chunk into the answer so far; return its text and thinking deltas.
        ``chat()`` needs only this per chunk, and :meth:`final` at the end."""
        text_delta = ""
        thinking_delta = ""
        if self._model is None:
            self._model = chunk.model
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
                    self._add_tool(call.index, call.id, call.function)
            if choice.finish_reason is not None and self._finish_reason is None:
                self._finish_reason = choice.finish_reason
        if chunk.usage is not None:
            self._usage = usage_kwargs(chunk.usage)
        if chunk.web_search is not None:  # once per stream, first or final chunk
            self._web_search = [r.model_dump(exclude_none=True) for r in chunk.web_search]
        self._text += text_delta
        self._reasoning += thinking_delta
        return text_delta, thinking_delta

    def add(self, chunk: ChatCompletionChunk) -> ChatResponse:
        """The response for one chunk: the message so far, the text delta, the raw chunk."""
        text_delta, thinking_delta = self.update(chunk)
        if text_delta:
            self._text_block = TextBlock.model_construct(block_type="text", text=self._text)
        if thinking_delta:
            self._thinking_block = _thinking(self._reasoning)
        extra = self._response_kwargs()
        if thinking_delta:
            extra["thinking_delta"] = thinking_delta
        return _response(
            self._message(),
            delta=text_delta,
            raw=chunk.model_dump(exclude_none=True),
            additional_kwargs=extra,
        )

    def final(self, completion: ChatCompletion | None = None) -> ChatResponse:
        """The whole answer as one response (what ``chat()`` returns); ``raw`` is the
        accumulated completion as a plain dict. Works after :meth:`update` or :meth:`add`."""
        # After update() alone the blocks were never built: build them once, here.
        self._text_block = TextBlock.model_construct(block_type="text", text=self._text)
        if self._reasoning:
            self._thinking_block = _thinking(self._reasoning)
        raw = completion.model_dump(exclude_none=True) if completion is not None else None
        return _response(
            self._message(), delta=None, raw=raw, additional_kwargs=self._response_kwargs()
        )

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
        tool.block = ToolCallBlock.model_construct(
            block_type="tool_call",
            tool_call_id=tool.id,
            tool_name=tool.name or "",
            tool_kwargs=_tool_kwargs_value(tool.args),
        )

    def _message(self) -> ChatMessage:
        blocks: list[Any] = []
        if self._thinking_block is not None:
            blocks.append(self._thinking_block)
        blocks.append(self._text_block)
        blocks.extend(t.block for t in self._tools if t.block is not None)
        kwargs: dict[str, Any] = {}
        if self._reasoning:
            kwargs["reasoning_content"] = self._reasoning
        return ChatMessage.model_construct(
            role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=kwargs
        )

    def _response_kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self._usage)
        if self._finish_reason is not None:
            out["finish_reason"] = self._finish_reason
        if self._usage or self._finish_reason:
            if self._model is not None:
                out["model"] = self._model
            # The built-in search's sources, with the answer's ending (the final response of
            # a stream, and chat()), however early in the stream GLM sent them.
            if self._web_search:
                out["web_search"] = self._web_search
        return out


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
