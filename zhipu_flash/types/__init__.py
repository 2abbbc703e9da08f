"""Pydantic models of the wire format, tolerant on the way in.

Responses allow unknown fields (GLM adds fields over time: ``object`` appeared in 2026) and
default every optional field to None; ``finish_reason`` is a plain string, never a closed
enum, because new values (``sensitive``, ``network_error``, ``model_context_window_exceeded``)
arrive without notice. Requests are plain dicts built and checked by
:func:`zhipu_flash.build_chat_request`; the TypedDicts in :mod:`.request` describe them.
"""

from types import ModuleType
from typing import TYPE_CHECKING

from zhipu_flash._lazy import lazy_attributes

from .request import (
    ContentPart,
    ImagePart,
    ImageURL,
    Message,
    TextPart,
    ToolCallParam,
    ToolParam,
    VideoPart,
)
from .response import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    Choice,
    ChoiceDelta,
    ChunkChoice,
    CompletionTokensDetails,
    FunctionCall,
    FunctionCallDelta,
    McpCall,
    McpTool,
    PromptTokensDetails,
    ToolCall,
    ToolCallDelta,
    Usage,
    WebSearchResult,
)

if TYPE_CHECKING:
    from .retrieval import Embedding, EmbeddingsResponse, RerankResponse, RerankResult

__all__ = [
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "Choice",
    "ChoiceDelta",
    "ChunkChoice",
    "CompletionTokensDetails",
    "ContentPart",
    "Embedding",
    "EmbeddingsResponse",
    "FunctionCall",
    "FunctionCallDelta",
    "ImagePart",
    "ImageURL",
    "McpCall",
    "McpTool",
    "Message",
    "PromptTokensDetails",
    "RerankResponse",
    "RerankResult",
    "TextPart",
    "ToolCall",
    "ToolCallDelta",
    "ToolCallParam",
    "ToolParam",
    "Usage",
    "VideoPart",
    "WebSearchResult",
]


#: Defined on first use (PEP 562), as the retrieval half of the catalog is
#: (zhipu_flash/models.py): a chat-only program never builds them.
_RETRIEVAL_NAMES = ("Embedding", "EmbeddingsResponse", "RerankResponse", "RerankResult")


def _load_retrieval() -> ModuleType:
    from . import retrieval

    return retrieval


__getattr__ = lazy_attributes(globals(), _RETRIEVAL_NAMES, _load_retrieval)
