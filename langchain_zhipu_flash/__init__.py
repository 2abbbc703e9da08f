"""LangChain integration for Zhipu AI's GLM chat models, built on ``zhipu_flash``.

```python
from langchain_zhipu_flash import ChatZhipuFlash

model = ChatZhipuFlash(model="glm-4.7-flash")
print(model.invoke("Hello").content)
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

__all__ = [
    "ChatZhipuFlash",
    "ZhipuFlashAPIStatusError",
    "ZhipuFlashAuthenticationError",
    "ZhipuFlashBadRequestError",
    "ZhipuFlashConnectionError",
    "ZhipuFlashContentFilterError",
    "ZhipuFlashContextOverflowError",
    "ZhipuFlashError",
    "ZhipuFlashFairUseRestrictionError",
    "ZhipuFlashInternalServerError",
    "ZhipuFlashInvalidInputError",
    "ZhipuFlashMissingAPIKeyError",
    "ZhipuFlashNotFoundError",
    "ZhipuFlashPermissionDeniedError",
    "ZhipuFlashQuotaExceededError",
    "ZhipuFlashRateLimitError",
    "ZhipuFlashStreamDecodeError",
    "ZhipuFlashStreamInterruptedError",
    "ZhipuFlashTimeoutError",
]
