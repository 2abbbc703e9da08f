"""Errors that are both a ``zhipu_flash`` error and a langchain-core ``Model*Error``.

Each core error is re-raised as a subclass of itself and of the matching langchain-core class,
so ``except zhipu_flash.RateLimitError`` and ``except ModelRateLimitError`` both catch it. The
translation happens in one place, :func:`translate_errors`, used by all four model hooks.

``is_retryable`` always comes from the core class (it is first in the MRO): the core decides
on GLM's business code, so "no balance" (1113), "usage cap" (1308) and "fair-use restriction"
(1313) stay non-retryable even though GLM sends them as HTTP 429.

==============================  =================================  =================================
core error                      adapter class                      langchain-core class
==============================  =================================  =================================
ZhipuError                      ZhipuFlashError                    ModelError
InvalidRequestInputError        ZhipuFlashInvalidInputError        ModelInvalidRequestError
StreamDecodeError               ZhipuFlashStreamDecodeError        ModelAPIError
APIConnectionError              ZhipuFlashConnectionError          ModelConnectionError
APITimeoutError                 ZhipuFlashTimeoutError             ModelTimeoutError
StreamInterruptedError          ZhipuFlashStreamInterruptedError   ModelConnectionError
APIStatusError                  ZhipuFlashAPIStatusError           ModelAPIError
AuthenticationError             ZhipuFlashAuthenticationError      ModelAuthenticationError
MissingAPIKeyError              ZhipuFlashMissingAPIKeyError       ModelAuthenticationError
PermissionDeniedError           ZhipuFlashPermissionDeniedError    ModelPermissionDeniedError
QuotaExceededError              ZhipuFlashQuotaExceededError       ModelPermissionDeniedError
FairUseRestrictionError         ZhipuFlashFairUseRestrictionError  ModelPermissionDeniedError
BadRequestError                 ZhipuFlashBadRequestError          ModelInvalidRequestError
ContextWindowExceededError      ZhipuFlashContextOverflowError     ContextOverflowError
ContentFilterError              ZhipuFlashContentFilterError       ModelInvalidRequestError
NotFoundError                   ZhipuFlashNotFoundError            ModelNotFoundError
RateLimitError                  ZhipuFlashRateLimitError           ModelRateLimitError
InternalServerError             ZhipuFlashInternalServerError      ModelAPIError
==============================  =================================  =================================
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)

import zhipu_flash as zf

__all__ = [
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
    "translate_errors",
]


class ZhipuFlashError(zf.ZhipuError, ModelError):
    """Any zhipu-flash error, as seen from LangChain."""


class ZhipuFlashInvalidInputError(zf.InvalidRequestInputError, ModelInvalidRequestError):
    """Refused locally before sending: the message says what to change."""


class ZhipuFlashStreamDecodeError(zf.StreamDecodeError, ModelAPIError):
    """A stream frame could not be decoded."""


class ZhipuFlashConnectionError(zf.APIConnectionError, ModelConnectionError):
    """The API could not be reached or the connection broke."""


class ZhipuFlashTimeoutError(zf.APITimeoutError, ModelTimeoutError):
    """A connect, read, write or pool timeout."""


class ZhipuFlashStreamInterruptedError(zf.StreamInterruptedError, ModelConnectionError):
    """The stream ended early; ``partial`` holds what arrived."""


class ZhipuFlashAPIStatusError(zf.APIStatusError, ModelAPIError):
    """An API error without a more specific class."""


class ZhipuFlashAuthenticationError(zf.AuthenticationError, ModelAuthenticationError):
    """The key was rejected (401; codes 1000-1005)."""


class ZhipuFlashMissingAPIKeyError(zf.MissingAPIKeyError, ModelAuthenticationError):
    """No API key was given or found in ``ZHIPUAI_API_KEY``/``ZAI_API_KEY``."""


class ZhipuFlashPermissionDeniedError(zf.PermissionDeniedError, ModelPermissionDeniedError):
    """The account may not make this call."""


class ZhipuFlashQuotaExceededError(zf.QuotaExceededError, ModelPermissionDeniedError):
    """No balance or a usage cap reached (1113, 1304, 1308, 1310, 1316-1321): never
    retryable."""


class ZhipuFlashFairUseRestrictionError(zf.FairUseRestrictionError, ModelPermissionDeniedError):
    """Request rate restricted under the plan's fair-use policy (1313): a person must apply to
    lift it, so it is never retryable."""


class ZhipuFlashBadRequestError(zf.BadRequestError, ModelInvalidRequestError):
    """The API rejected the request's parameters."""


class ZhipuFlashContextOverflowError(zf.ContextWindowExceededError, ContextOverflowError):
    """The prompt is longer than the model's context window (1261)."""


class ZhipuFlashContentFilterError(zf.ContentFilterError, ModelInvalidRequestError):
    """Blocked by content safety (1300, 1301); retrying the same input does not help."""


class ZhipuFlashNotFoundError(zf.NotFoundError, ModelNotFoundError):
    """The model or API does not exist."""


class ZhipuFlashRateLimitError(zf.RateLimitError, ModelRateLimitError):
    """Concurrency or frequency limit (1302, 1303) or platform overload (1305)."""


class ZhipuFlashInternalServerError(zf.InternalServerError, ModelAPIError):
    """A server-side failure (5xx)."""


# Most specific first is not needed: the lookup walks the raised error's MRO.
_TRANSLATIONS: dict[type[zf.ZhipuError], type[zf.ZhipuError]] = {
    zf.ZhipuError: ZhipuFlashError,
    zf.InvalidRequestInputError: ZhipuFlashInvalidInputError,
    zf.StreamDecodeError: ZhipuFlashStreamDecodeError,
    zf.APIConnectionError: ZhipuFlashConnectionError,
    zf.APITimeoutError: ZhipuFlashTimeoutError,
    zf.StreamInterruptedError: ZhipuFlashStreamInterruptedError,
    zf.APIStatusError: ZhipuFlashAPIStatusError,
    zf.AuthenticationError: ZhipuFlashAuthenticationError,
    zf.MissingAPIKeyError: ZhipuFlashMissingAPIKeyError,
    zf.PermissionDeniedError: ZhipuFlashPermissionDeniedError,
    zf.QuotaExceededError: ZhipuFlashQuotaExceededError,
    zf.FairUseRestrictionError: ZhipuFlashFairUseRestrictionError,
    zf.BadRequestError: ZhipuFlashBadRequestError,
    zf.ContextWindowExceededError: ZhipuFlashContextOverflowError,
    zf.ContentFilterError: ZhipuFlashContentFilterError,
    zf.NotFoundError: ZhipuFlashNotFoundError,
    zf.RateLimitError: ZhipuFlashRateLimitError,
    zf.InternalServerError: ZhipuFlashInternalServerError,
}


def translate(error: zf.ZhipuError) -> zf.ZhipuError:
    """The adapter error for a core error, carrying the same fields (``partial`` included)."""
    if isinstance(error, ModelError):
        return error
    cls = next(
        (_TRANSLATIONS[c] for c in type(error).__mro__ if c in _TRANSLATIONS), ZhipuFlashError
    )
    return cls(
        error.message,
        status_code=error.status_code,
        code=error.code,
        request_id=error.request_id,
        body=error.body,
        partial=error.partial,
    )


@contextmanager
def translate_errors() -> Iterator[None]:
    """Re-raise any core error inside the block as its dual-inheritance adapter class."""
    try:
        yield
    except zf.ZhipuError as exc:
        translated = translate(exc)
        if translated is exc:
            raise
        raise translated from exc
