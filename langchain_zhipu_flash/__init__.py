"""LangChain integration for Zhipu AI's GLM models, built on ``zhipu_flash``: the chat model,
embeddings and a reranker (document compressor), on one key and one transport.

```python
from langchain_zhipu_flash import ChatZhipuFlash, ZhipuFlashEmbeddings, ZhipuFlashRerank

model = ChatZhipuFlash(model="glm-4.7-flash")
print(model.invoke("Hello").content)
vector = ZhipuFlashEmbeddings(dimensions=1024).embed_query("Hello")
```
"""

try:
    import langchain_core  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "langchain_zhipu_flash needs langchain-core. Install it with: "
        'pip install "zhipu-flash[langchain]"'
    ) from exc

from ._errors import (
    ZhipuFlashAPIStatusError,
    ZhipuFlashAuthenticationError,
    ZhipuFlashBadRequestError,
    ZhipuFlashConnectionError,
    ZhipuFlashContentFilterError,
    ZhipuFlashContextOverflowError,
    ZhipuFlashError,
    ZhipuFlashFairUseRestrictionError,
    ZhipuFlashInternalServerError,
    ZhipuFlashInvalidInputError,
    ZhipuFlashMissingAPIKeyError,
    ZhipuFlashNotFoundError,
    ZhipuFlashPermissionDeniedError,
    ZhipuFlashQuotaExceededError,
    ZhipuFlashRateLimitError,
    ZhipuFlashStreamDecodeError,
    ZhipuFlashStreamInterruptedError,
    ZhipuFlashTimeoutError,
)
from .chat_models import ChatZhipuFlash
from .embeddings import ZhipuFlashEmbeddings
from .rerank import ZhipuFlashRerank

__all__ = [
    "ChatZhipuFlash",
    "ZhipuFlashAPIStatusError",
    "ZhipuFlashAuthenticationError",
    "ZhipuFlashBadRequestError",
    "ZhipuFlashConnectionError",
    "ZhipuFlashContentFilterError",
    "ZhipuFlashContextOverflowError",
    "ZhipuFlashEmbeddings",
    "ZhipuFlashError",
    "ZhipuFlashFairUseRestrictionError",
    "ZhipuFlashInternalServerError",
    "ZhipuFlashInvalidInputError",
    "ZhipuFlashMissingAPIKeyError",
    "ZhipuFlashNotFoundError",
    "ZhipuFlashPermissionDeniedError",
    "ZhipuFlashQuotaExceededError",
    "ZhipuFlashRateLimitError",
    "ZhipuFlashRerank",
    "ZhipuFlashStreamDecodeError",
    "ZhipuFlashStreamInterruptedError",
    "ZhipuFlashTimeoutError",
]
