"""zhipu-flash: a fast, correct streaming client for Zhipu AI's GLM chat models.

The core speaks the chat-completions API over httpx, sync and async, with a byte-level SSE
decoder, typed errors chosen by Zhipu's business code, one retry loop that never retries
after the first chunk, and a catalog of GLM models.

This face exports what a user needs: the clients and their streams, the errors, the result
types, the platforms' URLs and key variables, the model catalog, the image helpers and the
request builder. The public modules hold the rest: :mod:`zhipu_flash.types` (every wire
model), :mod:`zhipu_flash.models`, :mod:`zhipu_flash.multimodal`, :mod:`zhipu_flash.web_search`,
:mod:`zhipu_flash.model_clients` (what framework models share), :mod:`zhipu_flash.testing`.
The LangChain and LlamaIndex adapters (``langchain_zhipu_flash``, ``llama_index_zhipu_flash``)
build on these and nothing else; modules whose names start with ``_`` are internal.
"""

# First: httpx without its command-line module (see _httpx).
from . import _httpx  # noqa: F401  # isort: skip
from ._client import AsyncZhipuClient, ZhipuClient
from ._constants import (
    API_KEY_ENV_VARS,
    BASE_URL_ENV_VAR,
    BIGMODEL_BASE_URL,
    ZAI_BASE_URL,
    api_key_from_env,
)
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConcurrencySlotTimeoutError,
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
    SharedLimitWarning,
    StreamDecodeError,
    StreamInterruptedError,
    ZhipuError,
)
from ._limiter import ConcurrencyLimit
from ._request import build_chat_request
from ._stream import AsyncStream, Stream
from ._version import __version__
from .models import FLASH_MODELS, MODELS, ModelInfo, get_model_info
from .multimodal import image_part, inline_local_images
from .types import ChatCompletion, ChatCompletionChunk

__all__ = [
    "API_KEY_ENV_VARS",
    "BASE_URL_ENV_VAR",
    "BIGMODEL_BASE_URL",
    "FLASH_MODELS",
    "MODELS",
    "ZAI_BASE_URL",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncStream",
    "AsyncZhipuClient",
    "AuthenticationError",
    "BadRequestError",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ConcurrencyLimit",
    "ConcurrencySlotTimeoutError",
    "ContentFilterError",
    "ContextWindowExceededError",
    "FairUseRestrictionError",
    "InternalServerError",
    "InvalidRequestInputError",
    "MissingAPIKeyError",
    "ModelInfo",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "SharedLimitWarning",
    "Stream",
    "StreamDecodeError",
    "StreamInterruptedError",
    "ZhipuClient",
    "ZhipuError",
    "__version__",
    "api_key_from_env",
    "build_chat_request",
    "get_model_info",
    "image_part",
    "inline_local_images",
]
