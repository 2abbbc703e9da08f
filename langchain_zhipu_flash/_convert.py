"""Pure conversions between LangChain messages and the core's wire dicts and chunks.

Nothing here does I/O. Requests: :func:`messages_to_dicts` turns LangChain messages (with
OpenAI, LangChain v1 and Anthropic content blocks) into GLM wire dicts, which the core then
checks and normalises (bare base64 images, foreign keys stripped, reasoning kept for the
current turn's tool loop and, with ``clear_thinking=False``, for earlier turns). Only the
translation is done here: what GLM cannot take (a block in a text-only message, an unknown
block, a video that is not an http(s) URL) goes to the core as it is, which refuses it with
the same error for every caller.
Responses: :func:`completion_to_message` for ``create()``, and :class:`ChunkConverter` for
streams, which yields exactly one final chunk carrying usage, ``finish_reason``,
``model_name``, the built-in search's ``web_search`` results and GLM's MCP calls
(``additional_kwargs["mcp_calls"]``, never ``tool_calls``), so LangChain's concatenating merge
never doubles them (GLM repeats ``finish_reason`` on tool-call turns).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    InvalidToolCall,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import (
    ToolCall,
    ToolCallChunk,
    invalid_tool_call,
    tool_call,
    tool_call_chunk,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

import zhipu_flash as zf
from zhipu_flash import types as wire

from ._chunks import builder, constructed

__all__ = [
    "PROVIDER",
    "ChunkConverter",
    "completion_to_message",
    "completion_to_result",
    "message_to_dict",
    "messages_to_dicts",
    "usage_to_metadata",
]

#: ``response_metadata["model_provider"]``. No langchain-core translator is registered for it,
#: so ``content_blocks`` reads ``reasoning_content`` into a reasoning block ("openai" would
#: route to a translator that ignores it).
PROVIDER = "zhipuai"

_ROLE_ALIASES = {
    "human": "user",
    "user": "user",
    "ai": "assistant",
    "assistant": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
}


def _invalid(message: str) -> zf.InvalidRequestInputError:
    return zf.InvalidRequestInputError(message)


# -- requests -------------------------------------------------------------------------------


def messages_to_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as GLM wire dicts (the core checks them before sending)."""
    return [message_to_dict(m, i) for i, m in enumerate(messages)]


def message_to_dict(message: BaseMessage, i: int = 0) -> dict[str, Any]:
    """One message as a wire dict. ``name`` is dropped: GLM's schema has no such field."""
    if isinstance(message, HumanMessage):
        return {"role": "user", "content": _user_content(message.content, i)}
    if isinstance(message, AIMessage):
        return _assistant(message)
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": _text_content(message.content)}
    if isinstance(message, ToolMessage):
        return {
            "role": "tool",
            "content": _text_content(message.content),
            "tool_call_id": message.tool_call_id,
        }
    if isinstance(message, ChatMessage):
        role = _ROLE_ALIASES.get(message.role)
        if role == "user":
            return {"role": "user", "content": _user_content(message.content, i)}
        if role in ("assistant", "system", "tool"):
            return {"role": role, "content": _text_content(message.content)}
        raise _invalid(
            f"messages[{i}] has role {message.role!r}; GLM takes user, assistant, "
            "system and tool messages."
        )
    raise _invalid(
        f"messages[{i}] is a {type(message).__name__}, which GLM cannot take: use "
        "HumanMessage, AIMessage, SystemMessage or ToolMessage."
    )


def _assistant(message: AIMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "assistant", "content": _assistant_text(message.content)}
    calls: list[dict[str, Any]] = [
        {
            "id": tc["id"] or "",
            "type": "function",
            "function": {
                "name": tc["name"],
                "arguments": json.dumps(tc["args"], ensure_ascii=False),
            },
        }
        for tc in message.tool_calls
    ]
    calls.extend(
        {
            "id": tc["id"] or "",
            "type": "function",
            "function": {"name": tc["name"] or "", "arguments": tc["args"] or "{}"},
        }
        for tc in message.invalid_tool_calls
    )
    if calls:
        out["tool_calls"] = calls
    reasoning = _reasoning_of(message)
    if reasoning:
        # Always handed over; the core decides: the current turn's tool loop gets it back
        # (interleaved thinking), earlier turns only with clear_thinking=False.
        out["reasoning_content"] = reasoning
    return out


def _assistant_text(content: str | list[Any]) -> str:
    """Only text: reasoning, thinking, tool_use and tool_call blocks are not content for GLM
    (the calls travel in ``tool_calls``, the reasoning in ``reasoning_content``)."""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text":
            texts.append(str(block.get("text") or ""))
    return "".join(texts)


def _reasoning_of(message: AIMessage) -> str:
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        return reasoning
    if isinstance(message.content, list):  # output_version="v1" histories
        return "".join(
            str(b.get("reasoning") or "")
            for b in message.content
            if isinstance(b, Mapping) and b.get("type") == "reasoning"
        )
    return ""


def _text_content(content: str | list[Any]) -> str | list[Any]:
    """The content of a message GLM takes as text (system, tool, a ChatMessage's assistant
    text): its text blocks joined as the core joins text parts. With any other block the
    blocks go to the core as they are, text blocks as text parts, and the core refuses the
    message, naming the block."""
    if isinstance(content, str):
        return content
    parts = [_text_part(block) for block in content]
    texts = [p if isinstance(p, str) else p.get("text") for p in parts if _is_text(p)]
    return "\n".join(texts) if len(texts) == len(parts) else parts


def _text_part(block: Any) -> Any:
    if isinstance(block, Mapping) and block.get("type") in ("text", "text-plain"):
        return {"type": "text", "text": str(block.get("text") or "")}
    return block


def _is_text(part: Any) -> bool:
    return isinstance(part, str) or (isinstance(part, Mapping) and part.get("type") == "text")


def _user_content(content: str | list[Any], i: int) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    return [_user_part(block, i, j) for j, block in enumerate(content)]


def _user_part(block: Any, i: int, j: int) -> dict[str, Any]:
    where = f"messages[{i}].content[{j}]"
    if isinstance(block, str):
        return {"type": "text", "text": block}
    if not isinstance(block, Mapping):
        raise _invalid(f"{where} must be a string or a dict block, got {type(block).__name__}.")
    kind = block.get("type")
    if kind in ("text", "text-plain"):
        # Only the text: GLM's parts are additionalProperties:false (no cache_control).
        return {"type": "text", "text": str(block.get("text") or "")}
    if kind == "image_url":  # OpenAI chat-completions form; "detail" is dropped
        value = block.get("image_url")
        url = value.get("url") if isinstance(value, Mapping) else value
        return {"type": "image_url", "image_url": {"url": _require_str(url, where, "image_url")}}
    if kind == "image":
        return {"type": "image_url", "image_url": {"url": _image_source(block, where)}}
    if kind in ("video", "video_url", "file", "file_url"):
        wire = "video_url" if kind.startswith("video") else "file_url"
        return {"type": wire, wire: {"url": _media_url(block, kind)}}
    # Audio and anything else GLM has no part for: the core refuses it, naming what it takes.
    return dict(block)


def _require_str(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(f"{where} has no {what} URL or data.")
    return value


def _image_source(block: Mapping[str, Any], where: str) -> str:
    """An image block's URL, or a data URL the core turns into bare base64."""
    source = block.get("source")
    if isinstance(source, Mapping):  # Anthropic: {"type": "base64"|"url", ...}
        if source.get("type") == "base64":
            encoded = _require_str(source.get("data"), where, "image")
            media = source.get("media_type")
            return f"data:{media};base64,{encoded}" if media else encoded
        if source.get("type") == "url":
            return _require_str(source.get("url"), where, "image")
        raise _invalid(f"{where}: image source type {source.get('type')!r} is not supported.")
    if block.get("file_id") or block.get("source_type") == "id":
        raise _invalid(
            f"{where}: GLM cannot read provider file ids; pass the image as a URL or base64."
        )
    link = block.get("url")
    if isinstance(link, str) and link:
        return link
    data = block.get("base64") or block.get("data")  # v1 "base64"; v0 "data"
    if isinstance(data, str) and data:
        mime = block.get("mime_type")
        return f"data:{mime};base64,{data}" if mime else data
    raise _invalid(f"{where}: an image block needs a url or base64 data.")


def _media_url(block: Mapping[str, Any], kind: str) -> Any:
    """A video or file block's URL; base64 data as a data URL. The core takes only http(s)
    URLs for these and says so."""
    value = block.get(kind) if kind.endswith("_url") else None
    url = value.get("url") if isinstance(value, Mapping) else block.get("url")
    if url is None and isinstance(block.get("base64"), str):
        url = f"data:{block.get('mime_type') or ''};base64,{block['base64']}"
    return url


# -- responses ------------------------------------------------------------------------------


def usage_to_metadata(usage: wire.Usage | None) -> UsageMetadata | None:
    """GLM usage as LangChain ``UsageMetadata`` (detail fields only when GLM sent them)."""
    if usage is None:
        return None
    metadata = UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )
    if usage.cached_tokens is not None:
        metadata["input_token_details"] = InputTokenDetails(cache_read=usage.cached_tokens)
    if usage.reasoning_tokens is not None:
        metadata["output_token_details"] = OutputTokenDetails(reasoning=usage.reasoning_tokens)
    return metadata


def _final_metadata(completion: zf.ChatCompletion) -> dict[str, Any]:
    """``response_metadata`` of a whole answer: what ChatOpenAI gives for the same GLM body
    (``finish_reason``, ``model_name``, ``id``, ``token_usage`` as GLM sent it), with our
    ``model_provider``. Streams carry it once, on the last chunk."""
    metadata: dict[str, Any] = {"model_provider": PROVIDER}
    if completion.finish_reason is not None:
        metadata["finish_reason"] = completion.finish_reason
    if completion.model:
        metadata["model_name"] = completion.model
    if completion.web_search:
        # Plain dicts (JSON values only in metadata). In a stream this rides on the one final
        # chunk: LangChain appends lists when it merges chunks, so a second copy would double.
        metadata["web_search"] = [r.model_dump(exclude_none=True) for r in completion.web_search]
    if completion.id:
        metadata["id"] = completion.id
    if completion.usage is not None:
        metadata["token_usage"] = completion.usage.model_dump(exclude_none=True)
    return metadata


def _parse_tool_calls(
    calls: Sequence[wire.ToolCall],
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    good: list[ToolCall] = []
    bad: list[InvalidToolCall] = []
    for call in calls:
        raw = call.function.arguments
        try:
            args = json.loads(raw) if raw and raw.strip() and raw != "null" else {}
        except ValueError as exc:
            bad.append(
                invalid_tool_call(name=call.function.name, args=raw, id=call.id, error=str(exc))
            )
            continue
        if not isinstance(args, dict):
            bad.append(
                invalid_tool_call(
                    name=call.function.name, args=raw, id=call.id, error="arguments not an object"
                )
            )
            continue
        good.append(tool_call(name=call.function.name, args=args, id=call.id or None))
    return good, bad


def completion_to_message(completion: zf.ChatCompletion) -> AIMessage:
    """A whole answer (``create()`` or an accumulated stream) as an ``AIMessage``."""
    # MCP calls were run by GLM on an MCP server: kept readable, never a tool call an agent
    # would execute (docs/glm-api.md §5.1).
    tool_calls, invalid = _parse_tool_calls(completion.function_calls)
    additional: dict[str, Any] = _mcp_kwargs(completion)
    if completion.reasoning_content:
        additional["reasoning_content"] = completion.reasoning_content
    return AIMessage(
        content=completion.content,
        additional_kwargs=additional,
        tool_calls=tool_calls,
        invalid_tool_calls=invalid,
        usage_metadata=usage_to_metadata(completion.usage),
        response_metadata=_final_metadata(completion),
        id=completion.id,
    )


def _mcp_kwargs(completion: zf.ChatCompletion) -> dict[str, Any]:
    """``{"mcp_calls": [...]}`` (plain dicts) when GLM made MCP calls, else empty. In a stream
    it rides on the one final chunk: LangChain appends lists when it merges chunks."""
    calls = completion.mcp_calls
    return {"mcp_calls": [c.model_dump(exclude_none=True) for c in calls]} if calls else {}


def completion_to_result(completion: zf.ChatCompletion) -> ChatResult:
    message = completion_to_message(completion)
    info = {k: v for k, v in message.response_metadata.items() if k != "model_provider"}
    llm_output: dict[str, Any] = {"model_name": completion.model}
    if "token_usage" in info:
        llm_output["token_usage"] = info["token_usage"]
    if completion.id:
        llm_output["id"] = completion.id
    return ChatResult(
        generations=[ChatGeneration(message=message, generation_info=info or None)],
        llm_output=llm_output,
    )


class ChunkConverter:
    """Turns one stream's core chunks into ``ChatGenerationChunk`` objects.

    - Deltas (text, reasoning, tool calls) are yielded as they arrive; a chunk with none of
      them yields nothing (GLM's final ``content: ""``).
    - :meth:`finish` builds the one last chunk: usage, ``finish_reason``, ``model_name`` and
      ``chunk_position="last"``.
    - Whitespace-only text before any other text is held back and prepended to the next text
      (GLM can send ``"\\n"`` before its reasoning), so the reasoning block comes first.
    - A tool call's ``id`` and ``name`` are sent on its first delta only: LangChain
      concatenates repeated strings when it merges chunks.
    - With ``v1=True`` the content is a list of standard blocks, each logical block with one
      stable ``index`` (reasoning, all the text, each tool call), so blocks never fuse when
      LangChain merges them.
    """

    def __init__(self, *, v1: bool = False) -> None:
        self.v1 = v1
        self.id: str | None = None
        self._pending = ""
        self._text_started = False
        self._slots: dict[object, int] = {}
        self._named: set[int] = set()
        self._build = builder()

    def _slot(self, key: object) -> int:
        return self._slots.setdefault(key, len(self._slots))

    def feed(self, chunk: zf.ChatCompletionChunk) -> ChatGenerationChunk | None:
        # Every streamed token passes here: the common case (text or reasoning, no tool
        # call) reads each field once and builds its chunk without the constructors.
        if self.id is None and chunk.id:
            self.id = chunk.id
        choices = chunk.choices
        if not choices:
            return None
        delta = choices[0].delta
        calls = delta.tool_calls
        text = delta.content or ""
        if not self._text_started:
            text = self._text(text, flush=bool(calls))
        reasoning = delta.reasoning_content or ""
        if calls or self.v1:
            return self._generation(text, reasoning, calls)
        if reasoning:
            return self._build(
                text, text, {"reasoning_content": reasoning}, {"model_provider": PROVIDER}, self.id
            )
        if text:
            return self._build(text, text, {}, {"model_provider": PROVIDER}, self.id)
        return None

    def _generation(
        self, text: str, reasoning: str, calls: Sequence[wire.ToolCallDelta] | None
    ) -> ChatGenerationChunk | None:
        """A chunk with tool calls (through the constructors), or a v1 chunk."""
        tools = [self._tool_chunk(d) for d in calls or () if not d.is_mcp]
        if not (text or reasoning or tools):
            return None
        content = self._content(text, reasoning, tools)
        additional = {"reasoning_content": reasoning} if reasoning else {}
        if tools:
            return constructed(content, additional, self._metadata(), self.id, tools)
        return self._build(content, text, additional, self._metadata(), self.id)

    def finish(self, completion: zf.ChatCompletion) -> ChatGenerationChunk:
        """The last chunk, from what the stream accumulated."""
        text, self._pending = self._pending, ""
        final = _final_metadata(completion)
        metadata = self._metadata()
        metadata.update(final)
        info = {k: v for k, v in final.items() if k != "model_provider"}
        chunk = constructed(
            self._content(text, ""),
            _mcp_kwargs(completion),
            metadata,
            self.id or completion.id,
            None,
            info or None,
        )
        message = cast("AIMessageChunk", chunk.message)  # what constructed() builds
        message.usage_metadata = usage_to_metadata(completion.usage)
        message.chunk_position = "last"
        return chunk

    def _metadata(self) -> dict[str, Any]:
        if self.v1:
            return {"model_provider": PROVIDER, "output_version": "v1"}
        return {"model_provider": PROVIDER}

    def _text(self, text: str, *, flush: bool) -> str:
        if not self._text_started:
            if text and not text.isspace():
                self._text_started = True
            elif not flush:
                self._pending += text
                return ""
            text, self._pending = self._pending + text, ""
        return text

    def _tool_chunk(self, d: wire.ToolCallDelta) -> ToolCallChunk:
        fn = d.function
        args = fn.arguments if fn is not None else None
        first = d.index not in self._named
        self._named.add(d.index)
        return tool_call_chunk(
            name=(fn.name if fn is not None else None) if first else None,
            args=args if isinstance(args, str) else (json.dumps(args) if args else None),
            id=d.id if first else None,
            index=d.index,
        )

    def _content(self, text: str, reasoning: str, tools: Sequence[ToolCallChunk] = ()) -> Any:
        """The message content: the text, or with ``v1`` its standard blocks."""
        if not self.v1:
            return text
        blocks: list[str | dict[str, Any]] = []
        if reasoning:
            blocks.append(
                {"type": "reasoning", "reasoning": reasoning, "index": self._slot("reasoning")}
            )
        if text:
            blocks.append({"type": "text", "text": text, "index": self._slot("text")})
        for tc in tools:
            blocks.append(
                {
                    "type": "tool_call_chunk",
                    "id": tc["id"],
                    "name": tc["name"],
                    "args": tc["args"],
                    "index": self._slot(("tool", tc["index"])),
                }
            )
        return blocks
