"""zhipu-flash: a fast, correct streaming client for Zhipu AI's GLM chat models.

The core speaks the chat-completions API over httpx, sync and async, with a byte-level SSE
decoder, typed errors chosen by Zhipu's business code, one retry loop that never retries
after the first chunk, and a catalog of GLM models. The LangChain and LlamaIndex adapters
(``langchain_zhipu_flash``, ``llama_index_zhipu_flash``) build on the names exported here
and nothing else.
"""

from ._accumulate import ChatCompletionAccumulator
from ._client import AsyncStreamManager, AsyncZhipuClient, StreamManager, ZhipuClient
from ._constants import (
    API_KEY_ENV_VARS,
    BASE_URL_ENV_VAR,
    BIGMODEL_BASE_URL,
    DEFAULT_BASE_URL,
    ZAI_BASE_URL,
    api_key_from_env,
)
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    ContextWindowExceededError,
    FairUseRestrictionError,
    InternalServerError,
    InvalidRequestInputError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    StreamDecodeError,
    StreamInterruptedError,
    ZhipuError,
    error_from_body,
)
from ._limiter import ConcurrencyLimit
from ._markers import MarkerFilter
from ._pool import shared_http_client
from ._request import build_chat_request, normalize_tools
from ._sse import SSEDecoder, SSEEvent
from ._stream import AsyncStream, Stream
from ._version import __version__
from .models import FLASH_MODELS, MODELS, ModelInfo, ToolStreamSupport, get_model_info
from .multimodal import image_part, image_url_value, inline_local_images, video_part
from .types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    ChoiceDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    WebSearchResult,
)

__all__ = [
    "API_KEY_ENV_VARS",
    "BASE_URL_ENV_VAR",
    "BIGMODEL_BASE_URL",
    "DEFAULT_BASE_URL",
    "FLASH_MODELS",
    "MODELS",
    "ZAI_BASE_URL",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncStream",
    "AsyncStreamManager",
    "AsyncZhipuClient",
    "AuthenticationError",
    "BadRequestError",
    "ChatCompletion",
    "ChatCompletionAccumulator",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChoiceDelta",
    "ConcurrencyLimit",
    "ContentFilterError",
    "ContextWindowExceededError",
    "FairUseRestrictionError",
    "InternalServerError",
    "InvalidRequestInputError",
    "MarkerFilter",
    "MissingAPIKeyError",
    "ModelInfo",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "SSEDecoder",
    "SSEEvent",
    "Stream",
    "StreamDecodeError",
    "StreamInterruptedError",
    "StreamManager",
    "ToolCall",
    "ToolCallDelta",
    "ToolStreamSupport",
    "Usage",
    "WebSearchResult",
    "ZhipuClient",
    "ZhipuError",
    "__version__",
    "api_key_from_env",
    "build_chat_request",
    "error_from_body",
    "get_model_info",
    "image_part",
    "image_url_value",
    "inline_local_images",
    "normalize_tools",
    "shared_http_client",
    "video_part",
]
