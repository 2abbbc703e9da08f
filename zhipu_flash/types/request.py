"""TypedDicts describing request messages, content parts and tools as the API takes them.

They are for type checkers and readers: messages are plain dicts on the way in, and
:func:`zhipu_flash.build_chat_request` checks and normalises them before anything is sent.
"""

# No ``from __future__ import annotations`` here: pydantic and TypedDict would compile each
# annotation string back into a type when the class is made, about a quarter of the
# time it takes to define these classes at import (benchmarks/README.md, start-up).

from collections.abc import Mapping, Sequence
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
    """The optional request parameters of ``create()``, ``stream()`` and
    :func:`zhipu_flash.build_chat_request` (which says how each is checked): the one list of
    them. :data:`CHAT_PARAMETERS` holds their names; the adapters derive theirs from it."""

    thinking: bool | Mapping[str, Any] | None
    clear_thinking: bool | None
    reasoning_effort: str | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: str | Sequence[str] | None
    tools: Sequence[Mapping[str, Any]] | None
    tool_choice: Any
    tool_stream: bool | None
    response_format: str | Mapping[str, Any] | None
    do_sample: bool | None
    request_id: str | None
    user_id: str | None
    extra_body: Mapping[str, Any] | None


#: The names of :class:`ChatParams`, in the order declared: every request parameter the core
#: takes by name (anything else goes in ``extra_body``).
CHAT_PARAMETERS: tuple[str, ...] = tuple(ChatParams.__annotations__)
