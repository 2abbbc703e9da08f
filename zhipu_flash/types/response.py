"""Response models: non-streamed ``ChatCompletion`` and streamed ``ChatCompletionChunk``."""

# No ``from __future__ import annotations`` here: pydantic and TypedDict would compile each
# annotation string back into a type when the class is made, about a quarter of the
# time it takes to define these classes at import (benchmarks/README.md, start-up).

import json
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)


class _Wire(BaseModel):
    # extra="allow": unknown fields are kept (and reachable via model_extra), never an error.
    model_config = ConfigDict(extra="allow", defer_build=True)


def _as_text(value: Any) -> Any:
    """A result field as text. GLM sends strings ("" when empty); anything else is kept as its
    JSON text, because a search result of an unexpected shape must not fail the chunk that
    carries it (that chunk also carries the finish reason and the usage)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _as_results(value: Any) -> Any:
    """The ``web_search`` value as a list of result objects, whatever its shape: a lone object
    becomes a list of one, an item that is not an object becomes a result's ``content``."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return [item if isinstance(item, (dict, BaseModel)) else {"content": item} for item in items]


_Text = Annotated[str | None, BeforeValidator(_as_text)]


class WebSearchResult(_Wire):
    """One source the built-in ``web_search`` tool found (docs/glm-api.md §6.3): GLM sends all seven
    fields, ``""`` when empty; ``refer`` (e.g. ``"ref_1"``) is what the answer cites. Every
    field is optional and unknown ones are kept, as for every wire model."""

    title: _Text = None
    link: _Text = None
    content: _Text = None
    media: _Text = None
    icon: _Text = None
    refer: _Text = None
    publish_date: _Text = None


#: The top-level ``web_search`` array of an answer; validation never fails (see _as_results).
WebSearchResults = Annotated[list[WebSearchResult] | None, BeforeValidator(_as_results)]


class PromptTokensDetails(_Wire):
    cached_tokens: int | None = None


class CompletionTokensDetails(_Wire):
    reasoning_tokens: int | None = None


class Usage(_Wire):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None

    @property
    def cached_tokens(self) -> int | None:
        details = self.prompt_tokens_details
        return details.cached_tokens if details is not None else None

    @property
    def reasoning_tokens(self) -> int | None:
        details = self.completion_tokens_details
        return details.reasoning_tokens if details is not None else None


class FunctionCallDelta(_Wire):
    name: str | None = None
    #: A JSON string on the wire; an object is tolerated (the OpenAPI spec types it so).
    arguments: str | dict[str, Any] | None = None


class McpTool(_Wire):
    """One tool an MCP server offers, as an ``mcp_list_tools`` item lists it."""

    name: str | None = None
    description: str | None = None
    annotations: Any = None
    input_schema: Any = None


class McpCall(_Wire):
    """The ``mcp`` object of a tool call of type ``"mcp"`` (docs/glm-api.md §5.1): what GLM
    did on an MCP server the request named, server-side. ``type`` is ``"mcp_list_tools"``
    (``tools`` lists the server's tools) or ``"mcp_call"`` (``name`` and ``arguments`` of the
    call, its ``output``); ``error`` says what went wrong. Not a function for the caller to
    run: the adapters never turn it into one."""

    id: str | None = None
    type: str | None = None
    server_label: str | None = None
    name: str | None = None
    #: A JSON string, as the schema types it.
    arguments: str | dict[str, Any] | None = None
    output: Any = None
    error: Any = None
    tools: list[McpTool] | None = None


class ToolCallDelta(_Wire):
    #: Normalised by the stream to 0..n-1 in order of first appearance (GLM may send -1).
    index: int = 0
    id: str | None = None
    #: ``"function"`` or ``"mcp"``; the stream sets ``"mcp"`` on every delta of an MCP call.
    type: str | None = None
    function: FunctionCallDelta | None = None
    #: An MCP call's object; the stream hands out the call so far (fields merged by name).
    mcp: McpCall | None = None

    @property
    def is_mcp(self) -> bool:
        """True for a delta of an MCP call (never a function for the caller to run)."""
        return self.type == "mcp" or self.mcp is not None


class ChoiceDelta(_Wire):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None


class ChunkChoice(_Wire):
    index: int = 0
    # A factory, not an instance: building one here would build every schema at import.
    delta: ChoiceDelta = Field(default_factory=ChoiceDelta)
    finish_reason: str | None = None


class ChatCompletionChunk(_Wire):
    """One streamed event. An in-band error frame never becomes a chunk: it raises."""

    id: str | None = None
    created: int | None = None
    #: ``"chat.completion.chunk"`` on every chunk GLM sends.
    object: str | None = None
    model: str | None = None
    choices: list[ChunkChoice] = []
    usage: Usage | None = None
    #: The built-in web_search tool's results: once per stream, on the final chunk (with the
    #: finish reason and usage) or on the first one with ``result_sequence: "before"``.
    web_search: WebSearchResults = None
    #: Present only on an error frame (``{"error": {...}}``), which the stream turns into an
    #: exception; declared so that check costs an attribute read.
    error: Any = None

    @property
    def delta(self) -> ChoiceDelta | None:
        """The first choice's delta (GLM streams one choice), or None."""
        return self.choices[0].delta if self.choices else None


class FunctionCall(_Wire):
    name: str = ""
    #: Always a JSON string here ("{}" for a call without arguments). GLM sends a string, but
    #: its OpenAPI types it as an object and a call without arguments may come as ``null`` or
    #: ``""``: an object becomes its JSON text, ``null`` and ``""`` become ``"{}"`` (as the
    #: stream accumulator does).
    arguments: str = "{}"

    @field_validator("arguments", mode="before")
    @classmethod
    def _arguments_as_json_text(cls, value: Any) -> Any:
        if value is None or value == "":
            return "{}"
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False)
        return value

    @field_validator("name", mode="before")
    @classmethod
    def _name_never_null(cls, value: Any) -> Any:
        return "" if value is None else value


class ToolCall(_Wire):
    id: str = ""
    #: ``"function"``, or ``"mcp"`` for a call GLM made on an MCP server (then ``mcp`` holds
    #: it and ``function`` is empty).
    type: str = "function"
    index: int | None = None
    function: FunctionCall = Field(default_factory=FunctionCall)
    mcp: McpCall | None = None

    @property
    def is_mcp(self) -> bool:
        """True for an MCP call: GLM ran it (or listed the server's tools) itself."""
        return self.type == "mcp" or self.mcp is not None

    @field_validator("id", "type", mode="before")
    @classmethod
    def _ids_never_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return "" if info.field_name == "id" else "function"
        return value


class ChatCompletionMessage(_Wire):
    role: str = "assistant"
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(_Wire):
    index: int = 0
    message: ChatCompletionMessage = Field(default_factory=ChatCompletionMessage)
    finish_reason: str | None = None


class ChatCompletion(_Wire):
    """A whole answer: what ``create()`` returns and what a stream accumulates to.

    Top-level fields this model does not name (``content_filter``, fields GLM adds later) are
    kept in ``model_extra``, streamed or not; for a stream, a field sent on several chunks
    keeps the last value that was not null. ``web_search`` holds the built-in search tool's
    results, typed.

    ``malformed_frames`` is ours, not the API's: how many stream frames could not be decoded
    and were skipped (each was logged with its text). Always 0 for ``create()``.
    """

    id: str | None = None
    created: int | None = None
    model: str | None = None
    request_id: str | None = None
    choices: list[Choice] = []
    usage: Usage | None = None
    web_search: WebSearchResults = None
    malformed_frames: int = 0

    @property
    def message(self) -> ChatCompletionMessage:
        """The first choice's message (an empty assistant message if there is none)."""
        return self.choices[0].message if self.choices else ChatCompletionMessage()

    @property
    def content(self) -> str:
        return self.message.content or ""

    @property
    def reasoning_content(self) -> str:
        return self.message.reasoning_content or ""

    @property
    def tool_calls(self) -> list[ToolCall]:
        """Every tool call, function and MCP alike, in order."""
        return list(self.message.tool_calls or ())

    @property
    def function_calls(self) -> list[ToolCall]:
        """The function calls: the ones the caller runs (MCP calls left out)."""
        return [c for c in self.message.tool_calls or () if not c.is_mcp]

    @property
    def mcp_calls(self) -> list[McpCall]:
        """The ``mcp`` objects of the MCP calls GLM made server-side, in order."""
        return [c.mcp for c in self.message.tool_calls or () if c.mcp is not None]

    @property
    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason if self.choices else None
