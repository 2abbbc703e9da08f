"""Build and check the JSON body of a chat-completions request, before anything is sent.

Every value the API is known to reject is caught here with an error that says what to do,
or downgraded in a documented, logged way where a downgrade keeps the caller's meaning:

============================  ===================================================================
Input                         What is sent
============================  ===================================================================
``temperature=0``             ``do_sample: false`` (greedy, what 0 means), temperature omitted
``temperature`` outside 0..1  error
``top_p`` outside 0.01..1     error
``stop`` empty / one string   omitted / ``[stop]``
``stop`` with 2+ items        error (the API takes one stop sequence)
``tool_choice="auto"``/None   ``"auto"`` / omitted
``tool_choice="none"``        tools and tool_choice omitted (the model cannot call them)
other ``tool_choice``         ``"auto"``: GLM cannot force a tool call. Warned once per process
                              for each value asked for, then logged at DEBUG (frameworks ask
                              for forced calls on every structured step)
``thinking`` True / False     ``{"type": "enabled"}`` / ``{"type": "disabled"}``
thinking on a no-think model  False is dropped; True is an error
disabled on an always-        error (the API answers HTTP 400, code 1210 on GLM-5.3): the
thinking model                message names ``reasoning_effort="low"`` where the model takes
                              effort (GLM-5.3, glm-5.3-flash), never sent as disabled
``clear_thinking``            added to the ``thinking`` object
``reasoning_effort``          a known model: sent if it is one of the model's values
                              (``ModelInfo.reasoning_efforts``), else an error naming them;
                              LiteLLM-style aliases (minimal, medium, xhigh) are refused with
                              the value they stand for, never mapped silently; an error on a
                              model that takes no effort. Unknown models: sent as given
``reasoning_content`` in      kept on the assistant messages of the current turn's tool loop
history                       (after the last user message: interleaved thinking); on earlier
                              turns only with ``clear_thinking=False`` (preserved thinking);
                              never to a model without thinking
images to a text-only model   error (known models only; unknown models are trusted)
unknown model, or an entry    ``thinking`` and ``reasoning_effort`` sent exactly as asked,
marked ``unverified``         nothing refused on a guessed capability
                              (``ModelInfo.confirms``); a 1210 answer about them names the
                              setting to change (``_hints.py``)
tools to a no-tool model      error
``response_format``           "json_object"/"text" or their dicts; json_schema is an error
``tool_stream`` without       omitted (it needs ``stream: true``)
stream
============================  ===================================================================

Message normalisation: content parts keep only ``type`` and their payload (the API rejects
foreign keys such as ``cache_control``), images become URL or bare base64 (a string is
never read as a local file; a ``pathlib.Path`` or bytes is), text-only part lists become a
string for text models, assistant ``tool_calls`` arguments become JSON strings, and ``name``
keys are dropped (not in GLM's schema). A conversation with no user or
tool message is refused (the API answers 1214).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._exceptions import InvalidRequestInputError
from .models import ModelInfo, get_model_info
from .multimodal import image_url_value, video_part
from .types.request import CHAT_PARAMETERS

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .types.request import ChatParams

__all__ = ["build_chat_request", "check_media_input", "normalize_tools"]

logger = logging.getLogger("zhipu_flash")

_ROLES = frozenset({"system", "user", "assistant", "tool"})
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}}
_FORCED_CHOICES = frozenset({"required", "any"})


def build_chat_request(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    *,
    stream: bool,
    **params: Unpack[ChatParams],
) -> dict[str, Any]:
    """The request body for ``POST /chat/completions``; raises
    :class:`~zhipu_flash.InvalidRequestInputError` for input the API would reject.

    ``params`` are the request parameters :class:`~zhipu_flash.types.request.ChatParams`
    names (the one list of them); any other name is refused.
    """
    unknown = params.keys() - CHAT_PARAMETERS
    if unknown:
        raise InvalidRequestInputError(
            f"Unknown parameter(s) {sorted(unknown)}: put API fields this client does not "
            "name into extra_body={...}."
        )
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequestInputError("model must be a non-empty string, e.g. 'glm-4.7-flash'.")
    thinking = params.get("thinking")
    clear_thinking = params.get("clear_thinking")
    reasoning_effort = params.get("reasoning_effort")
    temperature = params.get("temperature")
    top_p = params.get("top_p")
    max_tokens = params.get("max_tokens")
    tools = params.get("tools")
    tool_choice = params.get("tool_choice")
    response_format = params.get("response_format")
    do_sample = params.get("do_sample")
    request_id = params.get("request_id")
    user_id = params.get("user_id")
    extra_body = params.get("extra_body")
    info = get_model_info(model)
    preserve = clear_thinking is False
    body: dict[str, Any] = {
        "model": model,
        "messages": _messages(messages, info, preserve_reasoning=preserve),
    }
    if stream:
        body["stream"] = True

    thinking_obj = _thinking(thinking, clear_thinking, info)
    if thinking_obj is not None:
        body["thinking"] = thinking_obj
    if reasoning_effort is not None:
        body["reasoning_effort"] = _reasoning_effort(reasoning_effort, info)

    if temperature is not None:
        temperature = _number("temperature", temperature, 0.0, 1.0)
        if temperature == 0.0 and do_sample is None:
            logger.info("temperature=0 sent as do_sample=false (greedy decoding) for %s", model)
            do_sample = False
        else:
            body["temperature"] = temperature
    if top_p is not None:
        body["top_p"] = _number("top_p", top_p, 0.01, 1.0)
    if do_sample is not None:
        body["do_sample"] = bool(do_sample)
    if max_tokens is not None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidRequestInputError(
                f"max_tokens must be a positive integer, got {max_tokens!r}."
            )
        body["max_tokens"] = max_tokens
    stops = _stop(params.get("stop"))
    if stops:
        body["stop"] = stops

    tool_list = normalize_tools(tools) if tools else []
    if tool_list and tool_choice == "none":
        logger.debug("tool_choice='none': tools are left out of the request")
        tool_list = []
    elif tool_choice is not None and tool_choice != "none":
        if tool_choice != "auto":
            _log_forced_tool_choice(tool_choice)
        if tool_list:
            body["tool_choice"] = "auto"
    if tool_list:
        if info.confirms("tools") and not info.tools:
            raise InvalidRequestInputError(
                f"{model} does not support tool calling. Use a model with tools, such as "
                "glm-4.7-flash (text) or glm-4.6v-flash (vision)."
            )
        body["tools"] = tool_list
    if params.get("tool_stream"):
        if stream:
            body["tool_stream"] = True
        else:
            logger.debug("tool_stream needs stream=True; it is left out of this request")

    if response_format is not None:
        body["response_format"] = _response_format(response_format)
    if request_id is not None:
        if not isinstance(request_id, str) or not request_id:
            raise InvalidRequestInputError("request_id must be a non-empty string.")
        body["request_id"] = request_id
    if user_id is not None:
        if not isinstance(user_id, str) or not 6 <= len(user_id) <= 128:
            raise InvalidRequestInputError("user_id must be a string of 6 to 128 characters.")
        body["user_id"] = user_id
    if extra_body:
        body.update(extra_body)
    return body


_forced_choices_seen: set[str] = set()
_forced_choices_lock = threading.Lock()


def _log_forced_tool_choice(choice: Any) -> None:
    """The one place that says a forced tool choice became ``"auto"``: a warning the first
    time a process asks for each value, DEBUG after that. LlamaIndex's structured programs and
    routers ask for a forced call on every step, and a warning per call buries real ones."""
    shown = repr(choice) if isinstance(choice, (str, bool)) else "a specific tool"
    with _forced_choices_lock:
        first = shown not in _forced_choices_seen
        _forced_choices_seen.add(shown)
    logger.log(
        logging.WARNING if first else logging.DEBUG,
        "GLM accepts tool_choice='auto' only; %s was sent as 'auto', so the model may answer "
        "without calling a tool.%s",
        shown,
        " (Said once per process; later ones are logged at DEBUG.)" if first else "",
    )


def _number(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequestInputError(f"{name} must be a number, got {value!r}.")
    if not low <= value <= high:
        raise InvalidRequestInputError(
            f"{name}={value} is outside the range GLM accepts ({low} to {high})."
        )
    return float(value)


def _stop(stop: str | Sequence[str] | None) -> list[str]:
    if stop is None:
        return []
    if isinstance(stop, str):
        return [stop] if stop else []
    items = [s for s in stop if s]
    if len(items) > 1:
        raise InvalidRequestInputError(
            f"GLM accepts one stop sequence, got {len(items)}: {items!r}. Pass the most "
            "important one."
        )
    return items


def _thinking(
    thinking: bool | Mapping[str, Any] | None, clear_thinking: bool | None, info: ModelInfo
) -> dict[str, Any] | None:
    if thinking is None and clear_thinking is None:
        return None
    if thinking is None or thinking is True:
        obj: dict[str, Any] = {"type": "enabled"}
    elif thinking is False:
        obj = {"type": "disabled"}
    elif isinstance(thinking, Mapping):
        obj = dict(thinking)
    else:
        raise InvalidRequestInputError(
            f"thinking must be True, False, None or a dict like {{'type': 'enabled'}}; "
            f"got {thinking!r}."
        )
    if clear_thinking is not None:
        obj["clear_thinking"] = bool(clear_thinking)
    enabled = obj.get("type", "enabled") != "disabled"
    if not info.confirms("thinking"):
        return obj  # an unknown or unverified contract: sent as asked, GLM judges it
    if info.thinking == "none":
        if enabled and thinking is not None:
            raise InvalidRequestInputError(
                f"{info.name} has no thinking mode. Use glm-4.7-flash (text) or glm-4.6v-flash "
                "(vision) for reasoning, or leave thinking unset."
            )
        return None  # nothing to switch off, and such models may reject the field
    if info.thinking == "forced":
        if not enabled:
            raise InvalidRequestInputError(_always_thinks(info))
        # GLM-5.3 documents {"type": "enabled"} as the one value it takes, so the object goes
        # as asked (with clear_thinking); glm-4.1v-thinking-flash thinks regardless and its
        # docs show no thinking field, so nothing is sent for it.
        return obj if info.reasoning_efforts else None
    return obj


def _always_thinks(info: ModelInfo) -> str:
    if info.reasoning_efforts:
        return (
            f"{info.name} always thinks and the API rejects thinking disabled (HTTP 400, code "
            f"1210). For the least reasoning, leave thinking unset and pass "
            f"reasoning_effort={info.reasoning_efforts[0]!r} (it takes "
            f"{_values(info.reasoning_efforts)})."
        )
    return (
        f"{info.name} always thinks and the API rejects thinking disabled (HTTP 400). Leave "
        "thinking unset, or use glm-4.6v-flash for vision without reasoning."
    )


#: What LiteLLM's zai provider turns these OpenAI-style efforts into for GLM-5.3
#: (docs/glm-api.md §4.4).
#: They are named in the refusal so that a caller sees what to send and what it costs: a
#: silent mapping would change the reasoning budget (and the bill) behind the caller's back.
_EFFORT_ALIASES = {"minimal": "low", "medium": "high", "xhigh": "max"}


def _reasoning_effort(effort: Any, info: ModelInfo) -> str:
    """``reasoning_effort`` checked against what a known model takes; unknown models get it
    as given (new models and values appear without notice)."""
    if not isinstance(effort, str) or not effort:
        raise InvalidRequestInputError(
            f"reasoning_effort must be a non-empty string such as 'high', got {effort!r}."
        )
    if not info.confirms("reasoning_efforts") or effort in info.reasoning_efforts:
        return effort
    if info.thinking == "none":
        raise InvalidRequestInputError(
            f"{info.name} has no thinking mode, so it takes no reasoning_effort. Use a model "
            "with reasoning_effort (GLM-5.2 and later, e.g. glm-5.3-flash), or leave it unset."
        )
    if not info.reasoning_efforts:
        raise InvalidRequestInputError(
            f"{info.name} takes no reasoning_effort (GLM documents it for GLM-5.2 and later); "
            "switch its reasoning with thinking=True/False instead, or leave it unset."
        )
    alias = _EFFORT_ALIASES.get(effort)
    if alias in info.reasoning_efforts:
        hint = f" The nearest is {alias!r} (what LiteLLM sends for {effort!r})."
    elif effort in ("none", "off", "disabled") and info.thinking == "forced":
        hint = f" It always thinks; {info.reasoning_efforts[0]!r} is the least reasoning."
    else:
        hint = ""
    raise InvalidRequestInputError(
        f"{info.name} takes reasoning_effort {_values(info.reasoning_efforts)} (default "
        f"{info.default_effort!r}), not {effort!r}.{hint}"
    )


def _values(values: Sequence[str]) -> str:
    quoted = [repr(v) for v in values]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _response_format(value: str | Mapping[str, Any]) -> dict[str, Any]:
    fmt = {"type": value} if isinstance(value, str) else dict(value)
    if fmt.get("type") not in ("json_object", "text"):
        raise InvalidRequestInputError(
            f"GLM supports response_format types 'json_object' and 'text', not "
            f"{fmt.get('type')!r}. Use {{'type': 'json_object'}} and describe the schema in the "
            "prompt."
        )
    return {"type": fmt["type"]}


def normalize_tools(tools: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tools in GLM's form: every function has a name, a description and parameters (the
    schema marks all three required), and no ``strict`` key. Built-in tools such as
    ``web_search`` and ``retrieval`` pass through."""
    out: list[dict[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, Mapping):
            raise InvalidRequestInputError(f"Each tool must be a dict, got {type(tool).__name__}.")
        if tool.get("type", "function") != "function":
            out.append(dict(tool))
            continue
        fn = tool.get("function", tool)  # a bare function definition is accepted too
        name = fn.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise InvalidRequestInputError(
                f"Tool name {name!r} is invalid: GLM requires 1-64 letters, digits, '_' or '-'."
            )
        params = fn.get("parameters") or _EMPTY_PARAMETERS
        out.append(
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": fn.get("description") or "",
                    "parameters": dict(params),
                },
            }
        )
    return out


def _messages(
    messages: Sequence[Mapping[str, Any]], info: ModelInfo, *, preserve_reasoning: bool
) -> list[dict[str, Any]]:
    seq: Any = messages  # callers pass anything; check the shape at run time
    if isinstance(seq, (str, bytes)) or not isinstance(seq, Sequence) or not seq:
        raise InvalidRequestInputError(
            "messages must be a non-empty list of dicts like {'role': 'user', 'content': 'Hello'}."
        )
    # GLM's thinking guide: inside a tool loop the model needs its own reasoning back with the
    # tool results (interleaved thinking), so the current turn (everything after the last user
    # message) keeps it; earlier turns keep it only for preserved thinking. A model without
    # thinking never gets it (whether it would reject the field is unverified).
    last_user = max((i for i, m in enumerate(seq) if _role_of(m) == "user"), default=-1)
    echo = info.thinking != "none"
    out = [
        _message(m, i, info, echo and (preserve_reasoning or i > last_user))
        for i, m in enumerate(messages)
    ]
    if not any(m["role"] in ("user", "tool") for m in out):
        raise InvalidRequestInputError(
            "GLM rejects a conversation made only of system and assistant messages (code 1214). "
            "Add a user message."
        )
    return out


def _role_of(msg: Any) -> Any:
    return msg.get("role") if isinstance(msg, Mapping) else None


def _message(
    msg: Mapping[str, Any], i: int, info: ModelInfo, keep_reasoning: bool
) -> dict[str, Any]:
    if not isinstance(msg, Mapping):
        raise InvalidRequestInputError(
            f"messages[{i}] must be a dict with 'role' and 'content', got {type(msg).__name__}."
        )
    role = msg.get("role")
    if role not in _ROLES:
        raise InvalidRequestInputError(
            f"messages[{i}] has role {role!r}; GLM accepts system, user, assistant and tool."
        )
    content = msg.get("content")
    out: dict[str, Any] = {"role": role}
    if role == "user":
        out["content"] = _content(content, i, info, allow_media=True)
    elif role == "assistant":
        text = _content(content, i, info, allow_media=False)
        calls = msg.get("tool_calls")
        if calls:
            out["content"] = text if isinstance(text, str) else ""
            out["tool_calls"] = [_tool_call(c, i) for c in calls]
        else:
            out["content"] = text if text is not None else ""
        reasoning = msg.get("reasoning_content")
        if keep_reasoning and reasoning:
            out["reasoning_content"] = reasoning
    elif role == "tool":
        call_id = msg.get("tool_call_id")
        if not call_id:
            raise InvalidRequestInputError(
                f"messages[{i}] is a tool result without 'tool_call_id'; set it to the id of the "
                "assistant tool call it answers."
            )
        out["content"] = _as_text(content, i, "tool")
        out["tool_call_id"] = call_id
    else:
        out["content"] = _as_text(content, i, "system")
    return out


def _as_text(content: Any, i: int, role: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping) and part.get("type") == "text":
            texts.append(str(part.get("text", "")))
        else:
            kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
            raise InvalidRequestInputError(
                f"messages[{i}] ({role}) may only hold text for GLM, found a {kind!r} part."
            )
    return "\n".join(texts)


def _content(content: Any, i: int, info: ModelInfo, *, allow_media: bool) -> Any:
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, Sequence):
        raise InvalidRequestInputError(
            f"messages[{i}].content must be a string or a list of parts, got "
            f"{type(content).__name__}."
        )
    parts = [_part(p, i, j, info, allow_media) for j, p in enumerate(content)]
    if all(p["type"] == "text" for p in parts) and (not info.vision or not allow_media):
        # Text models take a string; joining keeps any request they would accept.
        return "\n".join(p["text"] for p in parts)
    kinds = {p["type"] for p in parts}
    if "file_url" in kinds and kinds & {"image_url", "video_url"}:
        raise InvalidRequestInputError(
            f"messages[{i}] mixes files with images or video; GLM takes file_url parts only "
            "without image_url/video_url parts in the same request."
        )
    return parts


def _part(part: Any, i: int, j: int, info: ModelInfo, allow_media: bool) -> dict[str, Any]:
    where = f"messages[{i}].content[{j}]"
    if isinstance(part, str):
        return {"type": "text", "text": part}
    if not isinstance(part, Mapping):
        raise InvalidRequestInputError(f"{where} must be a dict part, got {type(part).__name__}.")
    kind = part.get("type")
    if kind == "text":
        return {"type": "text", "text": str(part.get("text", ""))}
    if kind not in ("image_url", "video_url", "file_url"):
        raise InvalidRequestInputError(
            f"{where} has type {kind!r}; GLM accepts text, image_url, video_url and file_url."
        )
    if not allow_media:
        raise InvalidRequestInputError(f"{where}: only user messages may carry {kind} parts.")
    check_media_input(info, kind)
    value = part.get(kind)
    url = value.get("url") if isinstance(value, Mapping) else value
    # A Path or bytes is a local file the calling code chose; a string is never read from disk
    # (message text can come from users), see zhipu_flash/multimodal.py.
    if not isinstance(url, (str, bytes, bytearray, os.PathLike)):
        raise InvalidRequestInputError(f"{where} has no {kind}.url.")
    if kind == "image_url":
        try:
            image = image_url_value(url)
        except InvalidRequestInputError as exc:
            raise InvalidRequestInputError(f"{where}: {exc.message}") from exc
        return {"type": "image_url", "image_url": {"url": image}}
    if kind == "video_url":
        if info.confirms("video") and not info.video:
            raise InvalidRequestInputError(f"{info.name} does not take video input.")
        return dict(video_part(url if isinstance(url, str) else ""))
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidRequestInputError(f"{where}: files must be given as an http(s) URL.")
    return {"type": "file_url", "file_url": {"url": url}}


def check_media_input(info: ModelInfo, kind: str) -> None:
    """Refuse ``kind`` input (``image_url``, ``video_url``, ``file_url``) to a text-only
    model; unknown models are trusted. The one place the rule lives: requests apply it to
    every media part, the CLI to ``--image`` before it reads a file."""
    if info.confirms("vision") and not info.vision:
        raise InvalidRequestInputError(
            f"{info.name} is a text-only model and cannot take {kind} input. Use a vision model "
            "such as glm-4.6v-flash or glm-4.1v-thinking-flash."
        )


def _tool_call(call: Any, i: int) -> dict[str, Any]:
    if not isinstance(call, Mapping):
        raise InvalidRequestInputError(f"messages[{i}].tool_calls items must be dicts.")
    fn = call.get("function") or {}
    args = fn.get("arguments")
    if args is None or args == "":
        args = "{}"
    elif not isinstance(args, str):
        args = json.dumps(args, ensure_ascii=False)
    name = fn.get("name")
    if not name or not call.get("id"):
        raise InvalidRequestInputError(
            f"messages[{i}] has a tool call without 'id' or 'function.name'."
        )
    return {"id": call["id"], "type": "function", "function": {"name": name, "arguments": args}}
