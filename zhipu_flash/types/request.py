"""TypedDicts describing request messages, content parts and tools as the API takes them.

They are for type checkers and readers: messages are plain dicts on the way in, and
:func:`zhipu_flash.build_chat_request` checks and normalises them before anything is sent.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict


class TextPart(TypedDict):
    type: Literal["text"]
    text: str


class ImageURL(TypedDict):
    #: An http(s) URL or bare base64 (no ``data:`` prefix), as the official SDKs send.
    url: str


class ImagePart(TypedDict):
    type: Literal["image_url"]
    image_url: ImageURL


class VideoPart(TypedDict):
    type: Literal["video_url"]
    video_url: ImageURL


class FilePart(TypedDict):
    type: Literal["file_url"]
    file_url: ImageURL


ContentPart = TextPart | ImagePart | VideoPart | FilePart


class FunctionParam(TypedDict):
    name: str
    arguments: str


class ToolCallParam(TypedDict):
    id: str
    type: Literal["function"]
    function: FunctionParam


class _MessageRole(TypedDict):
    role: Literal["system", "user", "assistant", "tool"]


class Message(_MessageRole, total=False):
    content: str | list[ContentPart] | None
    tool_calls: list[ToolCallParam]
    tool_call_id: str
    reasoning_content: str


class _FunctionName(TypedDict):
    name: str


class FunctionDefinition(_FunctionName, total=False):
    description: str
    parameters: dict[str, Any]


class ToolParam(TypedDict):
    type: Literal["function"]
    function: FunctionDefinition


class ChatParams(TypedDict, total=False):
    """The optional request parameters of ``create()`` and ``stream()``; see
    :func:`zhipu_flash.build_chat_request` for how each is checked."""

    thinking: bool | dict[str, Any] | None
    clear_thinking: bool | None
    reasoning_effort: str | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: str | list[str] | None
    tools: list[dict[str, Any]] | None
    tool_choice: Any
    tool_stream: bool | None
    response_format: str | dict[str, Any] | None
    do_sample: bool | None
    request_id: str | None
    user_id: str | None
    extra_body: dict[str, Any] | None
