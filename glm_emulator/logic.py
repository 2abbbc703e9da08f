"""The emulator's core: a request body in, the response real GLM would send out.

:func:`respond` is pure and deterministic: the same body always gives the same status,
headers and payload, byte for byte (ids and timestamps are derived from a hash of the
body). The shapes follow the real captures in ``tests/fixtures/wire`` (see README.md and
docs/glm-api.md §5 and §6):

- Stream chunks carry ``"role": "assistant"`` in every delta, have no ``finish_reason`` key
  until the end, and end with a chunk whose delta is ``{"role": "assistant", "content": ""}``
  plus the ``usage``. A tool-call turn sends the whole call in one delta on a chunk that
  already carries ``finish_reason: "tool_calls"``, then repeats that finish on the usage
  chunk. With ``tool_stream`` the arguments come in fragments instead.
- Non-stream bodies have alphabetical keys, ``request_id == id``, and no ``content`` key on a
  tool-call message.
- Errors are ``{"error": {"code": "<string>", "message": ...}}`` with an HTTP 4xx status.

:func:`respond_tokenizer` answers ``POST {base}/tokenizer`` (``{model, messages, tools}`` in,
``usage.prompt_tokens`` out) with the same crude prompt count the chat answers report as
``usage.prompt_tokens``: deterministic, and not GLM's tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from . import _prompt, _search, frames
from ._answers import Turn, decide, message_text
from ._react import react_turn
from ._schema import find_schema

__all__ = [
    "EMULATOR_HEADER",
    "KNOWN_MODELS",
    "EmulatedResponse",
    "check_authorization",
    "error_response",
    "json_object",
    "respond",
    "respond_bytes",
    "respond_tokenizer",
]

#: Sent on every response so that a recording made against the emulator says so.
EMULATOR_HEADER = ("X-Zhipu-Emulator", "glm_emulator; answers are not real model output")

#: Models the emulator knows. Any other name gets 1211, as on the real API.
KNOWN_MODELS = frozenset(
    {
        # The five free flash models (docs/glm-api.md §3).
        "glm-4.7-flash",
        "glm-4-flash-250414",
        "glm-4.6v-flash",
        "glm-4.1v-thinking-flash",
        "glm-4v-flash",
        # Other GLM models (docs/glm-api.md §3). glm-4.5-flash is retired but still routed.
        "glm-4.7",
        "glm-4.7-flashx",
        "glm-4.6",
        "glm-4.5",
        "glm-4.5-air",
        "glm-4.5-x",
        "glm-4.5-airx",
        "glm-4.5-flash",
        "glm-4.6v",
        "glm-4.6v-flashx",
        "glm-4.5v",
        "glm-4-32b-0414-128k",
        "glm-4-plus",
        "glm-4",
        "glm-4-flash",
        "glm-5",
        "glm-5.1",
        # GLM-5 models of mid to late 2026 (docs/glm-api.md §3).
        "glm-5-turbo",
        "glm-5v-turbo",
        "glm-5.2",
        "glm-5.3",
        "glm-5.3-flash",
    }
)
# Models with reasoning (GLM-4.5 and later, and the 4.1V thinking model).
_THINKING_PREFIXES = ("glm-4.5", "glm-4.6", "glm-4.7", "glm-5")
_FORCED_THINKING = frozenset({"glm-4.1v-thinking-flash", "glm-5.3", "glm-5.3-flash"})
# reasoning_effort values each model takes (docs/glm-api.md §3): GLM-5.3 and glm-5.3-flash only low,
# high and max, anything else answered 1210 on /paas/v4 (hermes-agent#96222, #98465);
# GLM-5.2 the documented seven. Other models ignore the field (a report on glm-5.1 saw no
# effect: tailcallhq/forgecode#3074).
_EFFORTS = {
    "glm-5.3": frozenset({"low", "high", "max"}),
    "glm-5.3-flash": frozenset({"low", "high", "max"}),
    "glm-5.2": frozenset({"none", "minimal", "low", "medium", "high", "xhigh", "max"}),
}
_VISION = frozenset(
    {
        "glm-4.6v-flash",
        "glm-4.1v-thinking-flash",
        "glm-4v-flash",
        "glm-4.6v",
        "glm-4.6v-flashx",
        "glm-4.5v",
        "glm-5.3-flash",
        "glm-5v-turbo",
    }
)
# Vision models the docs give no tools: they answer in text whatever tools are sent.
_NO_TOOLS = frozenset({"glm-4.1v-thinking-flash", "glm-4v-flash"})

_ROLES = frozenset({"system", "user", "assistant", "tool"})
# Content parts: the payload key each type must carry. Parts are additionalProperties:false.
_PART_PAYLOAD = {
    "text": "text",
    "image_url": "image_url",
    "video_url": "video_url",
    "file_url": "file_url",
}
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/\r\n]+={0,2}$")

# Real error messages (tests/fixtures/wire/ and docs/glm-api.md §8). 1210's generic text is
# the one the CN platform puts before a detail
# ("API 调用参数有误，请检查文档。Request ... exceeds ...").
_MSG_1214 = "The messages parameter is illegal. Please check the documentation."
_MSG_1211 = "模型不存在，请检查模型代码。"
_MSG_1210 = "API 调用参数有误，请检查文档。"
# GLM-5.3's answer to thinking disabled or an effort it does not take, as reported from
# open.bigmodel.cn (NousResearch/hermes-agent PR #98465; in English on api.z.ai,
# hermes-agent#108311: "This model always engages in thinking and cannot be disabled; please
# use low, high, or max").
_MSG_1210_ALWAYS_THINKS = "该模型始终思考，不支持关闭思考；请使用 low、high 或 max。"
_MSG_1001 = "Authentication parameter not received in Header, unable to authenticate."
_MSG_1002 = (
    "Authorization Token is invalid, please ensure that the Authorization Token is correctly "
    "provided."
)

# Ids and timestamps: a fixed epoch (2026-01-01T00:00:00Z) plus up to a year, from the hash.
_EPOCH = 1_767_225_600
_YEAR = 365 * 24 * 3600
_CHINA = timezone(timedelta(hours=8))
# What a picture costs in prompt tokens (a round, plausible figure).
_IMAGE_TOKENS = 256

_JSON_TYPE = "application/json; charset=utf-8"
_SSE_TYPE = "text/event-stream; charset=utf-8"


@dataclass(frozen=True)
class EmulatedResponse:
    """What the emulated API answers: a status, headers, and stream chunks or a JSON body."""

    status: int
    headers: dict[str, str]
    #: The SSE payload objects, in order, for a successful stream (``[DONE]`` is not here).
    chunks: list[dict[str, Any]] | None = None
    #: The JSON body of a non-stream answer or of any error.
    body: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if (self.chunks is None) == (self.body is None):
            raise ValueError("an EmulatedResponse has either chunks or a body")

    def payload(self) -> bytes:
        """The response body bytes exactly as the server sends them."""
        if self.chunks is not None:
            return frames.stream_body(self.chunks)
        assert self.body is not None
        return frames.compact(self.body)


class _Rejected(Exception):
    """A request the real API would refuse; carries the HTTP status and business code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _system_asks_for_json(messages: list[dict[str, Any]]) -> bool:
    """A system prompt, or the last message, that asks for JSON and gives a JSON schema is
    obeyed, as real models do; vision models have no response_format, so this is how they
    are asked for JSON, and output parsers (LlamaIndex's text-completion programs) append
    such instructions to the prompt."""
    texts = [message_text(m.get("content")) for m in messages if m.get("role") == "system"]
    if any("JSON" in t for t in texts) and find_schema(texts) is not None:
        return True
    last = message_text(messages[-1].get("content")) if messages[-1].get("role") == "user" else ""
    return "JSON" in last and find_schema([last]) is not None


def respond(body: dict[str, Any]) -> EmulatedResponse:
    """What real GLM would answer to the parsed JSON ``body`` of a chat-completions POST."""
    try:
        _validate(body)
    except _Rejected as rejected:
        return error_response(rejected.status, rejected.code, rejected.message)
    model: str = body["model"]
    messages: list[dict[str, Any]] = body["messages"]
    tools = [] if model in _NO_TOOLS else list(body.get("tools") or [])
    fmt = body.get("response_format") or {}
    json_mode = fmt.get("type") == "json_object" or _system_asks_for_json(messages)
    turn = react_turn(messages) or decide(messages, tools, json_mode=json_mode)
    search = _searched(messages, body.get("tools"), turn, json_mode)
    if search is not None:
        turn = search.turn
    output = _Output.build(turn, body, thinks=_thinks(model, body.get("thinking")))
    digest = hashlib.sha256(_canonical(body)).hexdigest()
    created = _EPOCH + int(digest[16:24], 16) % _YEAR
    stamp = datetime.fromtimestamp(created, _CHINA).strftime("%Y%m%d%H%M%S")
    ids = _Ids(response_id=stamp + digest[:16], created=created)
    usage = _usage(model, _prompt_tokens(messages, tools), output.completion_tokens)
    results = search.results if search is not None else None
    if body.get("stream") is True:
        chunks = _stream_chunks(output, ids, model, usage, bool(body.get("tool_stream")))
        if results is not None:
            # Top-level, once: the final chunk (with finish and usage), or the first one.
            assert search is not None
            chunks[0 if search.before else -1]["web_search"] = results
        return EmulatedResponse(200, _headers(_SSE_TYPE, stream=True), chunks=chunks)
    request_id = body.get("request_id")
    result = _non_stream_body(
        output, ids, model, usage, request_id if isinstance(request_id, str) else None, results
    )
    return EmulatedResponse(200, _headers(_JSON_TYPE), body=result)


def _searched(
    messages: list[dict[str, Any]], tools: Any, turn: Turn, json_mode: bool
) -> _search.SearchAnswer | None:
    """A web-search answer when the built-in tool is offered and the turn is plain text."""
    settings = _search.offered(tools)
    if settings is None or turn.tool_calls or json_mode or messages[-1].get("role") != "user":
        return None
    return _search.answer(message_text(messages[-1].get("content")), settings)


def respond_tokenizer(body: dict[str, Any]) -> EmulatedResponse:
    """What ``POST {base}/tokenizer`` answers: ``usage.prompt_tokens`` for the messages and
    tools, counted as :func:`respond` counts a prompt (a crude, deterministic count: NOT what
    GLM's tokenizer would say). The body's keys are alphabetical, like the docs' example."""
    try:
        _validate_prompt(body)
    except _Rejected as rejected:
        return error_response(rejected.status, rejected.code, rejected.message)
    tools = list(body.get("tools") or [])
    digest = hashlib.sha256(_canonical(body)).hexdigest()
    created = _EPOCH + int(digest[16:24], 16) % _YEAR
    stamp = datetime.fromtimestamp(created, _CHINA).strftime("%Y%m%d%H%M%S")
    response_id = stamp + digest[:16]
    request_id = body.get("request_id")
    result = {
        "created": created,
        "id": response_id,
        "request_id": request_id if isinstance(request_id, str) else response_id,
        "usage": {"prompt_tokens": _prompt_tokens(body["messages"], tools)},
    }
    return EmulatedResponse(200, _headers(_JSON_TYPE), body=result)


def json_object(raw: bytes) -> dict[str, Any] | EmulatedResponse:
    """A raw request body as the JSON object every endpoint takes, or the 1210 answer GLM
    gives a body that is not one."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return error_response(400, "1210", _MSG_1210 + "The request body is not valid JSON.")
    if not isinstance(body, dict):
        return error_response(400, "1210", _MSG_1210 + "The request body must be a JSON object.")
    return body


def respond_bytes(raw: bytes, *, tokenizer: bool = False) -> EmulatedResponse:
    """:func:`respond` (or, with ``tokenizer``, :func:`respond_tokenizer`) for a raw request
    body; a body that is not a JSON object gets 1210."""
    body = json_object(raw)
    if isinstance(body, EmulatedResponse):
        return body
    return respond_tokenizer(body) if tokenizer else respond(body)


def check_authorization(value: str | None) -> EmulatedResponse | None:
    """The 401 answer for a missing or malformed ``Authorization`` header, else None."""
    if value is None or not value.strip():
        return error_response(401, "1001", _MSG_1001)
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(401, "1002", _MSG_1002)
    return None


def error_response(status: int, code: str, message: str) -> EmulatedResponse:
    """A JSON error answer, shaped like the real ones."""
    return EmulatedResponse(status, _headers(_JSON_TYPE), body=frames.error(code, message))


# --- validation ----------------------------------------------------------------------------


def _validate_prompt(body: dict[str, Any]) -> str:
    """Check what chat and the tokenizer both take (model, messages, tools); the model."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _Rejected(400, "1210", _MSG_1210 + "model must be a non-empty string.")
    if model not in KNOWN_MODELS:
        raise _Rejected(400, "1211", _MSG_1211)
    _validate_messages(body.get("messages"), model)
    _validate_tools(body.get("tools"))
    return model


def _validate(body: dict[str, Any]) -> None:
    """Raise :class:`_Rejected` for anything the real API refuses (docs/glm-api.md §4, §8)."""
    model = _validate_prompt(body)
    tool_choice = body.get("tool_choice")
    if tool_choice is not None and tool_choice != "auto":
        raise _Rejected(400, "1210", _MSG_1210 + 'tool_choice only supports "auto".')
    stop = body.get("stop")
    if stop is not None and (
        not isinstance(stop, list) or len(stop) > 1 or not all(isinstance(s, str) for s in stop)
    ):
        raise _Rejected(400, "1210", _MSG_1210 + "stop must be a list of at most 1 string.")
    response_format = body.get("response_format")
    if response_format is not None and (
        not isinstance(response_format, dict)
        or response_format.get("type") not in ("text", "json_object")
    ):
        raise _Rejected(
            400, "1210", _MSG_1210 + 'response_format.type must be "text" or "json_object".'
        )
    _validate_numbers(body)
    _validate_thinking(model, body.get("thinking"))
    _validate_effort(model, body.get("reasoning_effort"))
    user_id = body.get("user_id")
    if user_id is not None and (not isinstance(user_id, str) or not 6 <= len(user_id) <= 128):
        raise _Rejected(400, "1210", _MSG_1210 + "user_id must be 6 to 128 characters.")


def _validate_messages(messages: Any, model: str) -> None:
    if not isinstance(messages, list) or not messages:
        raise _Rejected(400, "1214", _MSG_1214)
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise _Rejected(400, "1214", _MSG_1214)
        if message["role"] == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise _Rejected(400, "1214", _MSG_1214)
    # Only system and/or assistant messages: there is nothing to answer.
    if all(m["role"] in ("system", "assistant") for m in messages):
        raise _Rejected(400, "1214", _MSG_1214)
    for i, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, list) and message["role"] == "user":
            for j, part in enumerate(content):
                _validate_part(part, f"message[{i}].content[{j}]", model)
        elif content is not None and not isinstance(content, str):
            raise _Rejected(400, "1210", _MSG_1210 + f"message[{i}].content must be a string.")
        elif content is None and message["role"] != "assistant":
            raise _Rejected(400, "1214", _MSG_1214)
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
                raise _Rejected(
                    400,
                    "1210",
                    _MSG_1210 + f"message[{i}].tool_calls[].function.arguments must be a string.",
                )


def _validate_part(part: Any, where: str, model: str) -> None:
    """One user content part: ``type`` plus exactly its payload key, nothing else."""
    kind = part.get("type") if isinstance(part, dict) else None
    payload_key = _PART_PAYLOAD.get(kind) if isinstance(kind, str) else None
    if payload_key is None or set(part) != {"type", payload_key}:
        raise _Rejected(400, "1210", _MSG_1210 + f"{where} has invalid field(s)")
    payload = part[payload_key]
    if kind == "text":
        if not isinstance(payload, str):
            raise _Rejected(400, "1210", _MSG_1210 + f"{where}.text must be a string.")
        return
    if not isinstance(payload, dict) or set(payload) != {"url"}:
        raise _Rejected(400, "1210", _MSG_1210 + f"{where}.{kind} has invalid field(s)")
    if model not in _VISION:
        raise _Rejected(400, "1210", _MSG_1210 + f"{model} does not accept {kind} input.")
    url = payload["url"]
    if not isinstance(url, str) or not url:
        raise _Rejected(400, "1210", _MSG_1210 + f"{where}.{kind}.url must be a string.")
    if url.startswith(("http://", "https://")):
        return
    if kind != "image_url" or url.startswith("data:") or not _BASE64.match(url[:4096]):
        # The official SDKs send bare base64; a data: URL proves the client skipped that step.
        raise _Rejected(
            400, "1210", _MSG_1210 + f"{where}.{kind}.url must be an http(s) URL or bare base64."
        )


def _validate_tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list) or len(tools) > 128:
        raise _Rejected(400, "1210", _MSG_1210 + "tools must be a list of at most 128 items.")
    for tool in tools:
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind in ("web_search", "retrieval"):
            continue
        function = tool.get("function") if kind == "function" else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise _Rejected(400, "1210", _MSG_1210 + "tools[].function.name is invalid.")
        parameters = function.get("parameters") if isinstance(function, dict) else None
        if parameters is not None and not isinstance(parameters, dict):
            raise _Rejected(400, "1210", _MSG_1210 + "tools[].function.parameters is invalid.")


def _validate_numbers(body: dict[str, Any]) -> None:
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, int)
        or not 1 <= max_tokens <= 131072
    ):
        raise _Rejected(400, "1210", _MSG_1210 + "max_tokens must be an integer in [1, 131072].")
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1
        ):
            raise _Rejected(400, "1210", _MSG_1210 + f"{name} must be a number in [0, 1].")


def _validate_thinking(model: str, thinking: Any) -> None:
    if thinking is None or not _is_thinking_model(model):
        return  # models without reasoning ignore the field
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "disabled"):
        raise _Rejected(400, "1210", _MSG_1210 + 'thinking.type must be "enabled" or "disabled".')
    if kind == "disabled" and model in _FORCED_THINKING:
        if model in _EFFORTS:
            raise _Rejected(400, "1210", _MSG_1210_ALWAYS_THINKS)
        raise _Rejected(400, "1210", _MSG_1210 + f"{model} does not support disabling thinking.")


def _validate_effort(model: str, effort: Any) -> None:
    accepted = _EFFORTS.get(model)
    if effort is None or accepted is None or effort in accepted:
        return
    if model in _FORCED_THINKING:
        raise _Rejected(400, "1210", _MSG_1210_ALWAYS_THINKS)
    raise _Rejected(400, "1210", _MSG_1210 + f"reasoning_effort {effort!r} is not supported.")


def _is_thinking_model(model: str) -> bool:
    return model in _FORCED_THINKING or model.startswith(_THINKING_PREFIXES)


def _thinks(model: str, thinking: Any) -> bool:
    if not _is_thinking_model(model):
        return False
    return not (isinstance(thinking, dict) and thinking.get("type") == "disabled")


# --- output --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ids:
    response_id: str
    created: int


@dataclass(frozen=True)
class _Output:
    """The turn after ``stop`` and ``max_tokens`` have cut it, as token pieces."""

    reasoning: list[str]
    content: list[str]
    tool_calls: list[tuple[str, str]]  # (name, arguments JSON)
    finish_reason: str
    completion_tokens: int

    @classmethod
    def build(cls, turn: Turn, body: dict[str, Any], *, thinks: bool) -> _Output:
        reasoning = _prompt.pieces(turn.reasoning) if thinks else []
        content_text = turn.content
        for stop in body.get("stop") or []:
            if stop and stop in content_text:
                content_text = content_text[: content_text.index(stop)]
        content = _prompt.pieces(content_text)
        calls = [
            (call.name, json.dumps(call.arguments, ensure_ascii=False)) for call in turn.tool_calls
        ]
        finish = "tool_calls" if calls else "stop"
        budget = body.get("max_tokens")
        if isinstance(budget, int) and len(reasoning) + len(content) > budget:
            # Reasoning counts towards max_tokens, as on the real API; a cut turn makes no call.
            reasoning = reasoning[:budget]
            content = content[: budget - len(reasoning)]
            calls, finish = [], "length"
        call_tokens = sum(_prompt.count_tokens(name + args) for name, args in calls)
        return cls(reasoning, content, calls, finish, len(reasoning) + len(content) + call_tokens)


def _usage(model: str, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    """Usage in stream order. GLM-4 captures (2024 to 2026) have no prompt_tokens_details;
    GLM-4.5 and later always report cached_tokens (0 here: the emulator caches nothing)."""
    usage: dict[str, Any] = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    if _is_thinking_model(model):
        usage["prompt_tokens_details"] = {"cached_tokens": 0}
    return usage


def _prompt_tokens(messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> int:
    """A crude count: pieces of every text, a few per message, a flat rate per image."""
    total = 0
    for message in messages:
        total += 3 + _prompt.count_tokens(message_text(message.get("content")))
        content = message.get("content")
        if isinstance(content, list):
            total += _IMAGE_TOKENS * sum(1 for p in content if p.get("type") != "text")
        for call in message.get("tool_calls") or []:
            total += _prompt.count_tokens(json.dumps(call, ensure_ascii=False))
    if tools:
        total += _prompt.count_tokens(json.dumps(tools, ensure_ascii=False))
    return total


def _stream_chunks(
    output: _Output, ids: _Ids, model: str, usage: dict[str, Any], tool_stream: bool
) -> list[dict[str, Any]]:
    def chunk(finish: str | None = None, last: bool = False, **delta: Any) -> dict[str, Any]:
        return frames.chunk(
            **delta,
            finish=finish,
            usage=usage if last else None,
            id=ids.response_id,
            created=ids.created,
            model=model,
        )

    chunks = [chunk(reasoning=piece) for piece in output.reasoning]
    chunks += [chunk(content=piece) for piece in output.content]
    calls = output.tool_calls
    if calls and tool_stream:
        # Documented tool_stream shape (no capture exists): per call, a head fragment with id,
        # type and name, then argument fragments that carry only the index.
        for index, (name, arguments) in enumerate(calls):
            head = _tool_call(ids, index, name, "")
            chunks.append(chunk(tool_calls=[head]))
            chunks += [
                chunk(tool_calls=[{"index": index, "function": {"arguments": piece}}])
                for piece in _prompt.pieces(arguments)
            ]
    elif calls:
        # Observed shape: every call whole, in one delta that already carries the finish.
        whole = [_tool_call(ids, i, name, args) for i, (name, args) in enumerate(calls)]
        chunks.append(chunk(finish="tool_calls", tool_calls=whole))
    chunks.append(chunk(finish=output.finish_reason, last=True, content=""))
    return chunks


def _tool_call(ids: _Ids, index: int, name: str, arguments: str) -> dict[str, Any]:
    """A streamed tool call in wire key order (id, index, type, function)."""
    return {
        "id": f"call_{ids.response_id}_{index}",
        "index": index,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _non_stream_body(
    output: _Output,
    ids: _Ids,
    model: str,
    usage: dict[str, Any],
    request_id: str | None,
    web_search: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    calls = [_tool_call(ids, i, name, args) for i, (name, args) in enumerate(output.tool_calls)]
    extra = {} if web_search is None else {"web_search": web_search}
    return frames.completion(
        content=None if calls else "".join(output.content),
        reasoning="".join(output.reasoning) if output.reasoning else None,
        tool_calls=calls or None,
        finish=output.finish_reason,
        usage=usage,
        id=ids.response_id,
        created=ids.created,
        model=model,
        request_id=request_id or ids.response_id,
        **extra,
    )


def _headers(content_type: str, *, stream: bool = False) -> dict[str, str]:
    headers = {"Content-Type": content_type}
    if stream:
        headers["Cache-Control"] = "no-cache"
    headers[EMULATOR_HEADER[0]] = EMULATOR_HEADER[1]
    return headers


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
