"""The errors the core raises, and the one function that maps a Zhipu error body to a class.

Everything derives from :class:`ZhipuError`, so ``except ZhipuError`` catches all of it::

    ZhipuError
     ├── InvalidRequestInputError   bad input caught before any request (also a ValueError)
     ├── StreamDecodeError          a frame that cannot be decoded, or an over-long SSE line
     ├── APIConnectionError         no usable response: DNS, refused, reset
     │    ├── APITimeoutError       connect, read or write timeout
     │    └── StreamInterruptedError  the stream broke after it began (no [DONE] and no
     │                              finish reason, or finish_reason "network_error")
     └── APIStatusError             the API answered with an error (HTTP status or in-band frame)
          ├── AuthenticationError        401; codes 1000-1005
          │    └── MissingAPIKeyError    no key configured (raised before any request)
          ├── PermissionDeniedError      account or plan state: 1110-1112, 1120, 1121, 1220,
          │    │                         1309, 1311, 1314, 1315
          │    ├── QuotaExceededError    balance or quota gone: 1113, 1304, 1308, 1310,
          │    │                         1316-1321
          │    └── FairUseRestrictionError  1313: a plan's request rate restricted under the
          │                              fair-use policy until a person applies to lift it
          ├── BadRequestError            400; 1210, 1212-1215, 1231, ...
          │    ├── ContextWindowExceededError  1261
          │    └── ContentFilterError          1300, 1301
          ├── NotFoundError              404; 1211, 1221, 1222
          ├── RateLimitError             1302, 1303, 1305, 1312; a 429 without a known code
          └── InternalServerError        5xx; 1200, 1230, 1234

Every error carries ``status_code``, ``code`` (Zhipu's business code, always a string),
``message``, ``request_id``, ``body`` and, when a stream broke, ``partial``: the
:class:`~zhipu_flash.types.ChatCompletion` accumulated from everything that arrived.

``is_retryable`` says whether trying the same request again can help. The client's own retry
loop uses it before the first chunk; it is False for 1113, 1308 and 1313 (HTTP 429, but no
balance, a usage cap, or a fair-use restriction) because a retry only burns time.

The code table follows the vendor's error-code pages as of late 2026
(docs.bigmodel.cn/cn/api/api-code, up to 1313; docs.z.ai/api-reference/api-code, with HTTP
statuses and 1005, 1314-1321; docs/glm-api.md §8.2). Classes are
chosen by code, never by message, so the several wordings seen for one code (1302: "您当前使用
该API的并发数过高..." and "您的账户已达到速率限制...", "High concurrency usage of this API" and
"Rate limit reached for requests") all map alike.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .types import ChatCompletion

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConcurrencySlotTimeoutError",
    "ContentFilterError",
    "ContextWindowExceededError",
    "FairUseRestrictionError",
    "InternalServerError",
    "InvalidRequestInputError",
    "MissingAPIKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "RateLimitError",
    "SharedLimitWarning",
    "StreamDecodeError",
    "StreamInterruptedError",
    "ZhipuError",
    "error_from_body",
    "error_from_response",
]


class ZhipuError(Exception):
    """Base class of every error raised by zhipu-flash."""

    is_retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        partial: ChatCompletion | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id
        self.body = body
        self.partial = partial

    def __str__(self) -> str:
        parts = [self.message]
        if self.code is not None:
            parts.insert(0, f"[{self.code}]")
        if self.status_code is not None:
            parts.insert(0, f"HTTP {self.status_code}")
        if self.request_id:
            parts.append(f"(request_id={self.request_id})")
        return " ".join(parts)


class InvalidRequestInputError(ZhipuError, ValueError):
    """The request was refused locally, before anything was sent: the message says what to do."""


class StreamDecodeError(ZhipuError):
    """A stream frame could not be decoded (only raised with ``on_malformed="raise"``), or an
    SSE line exceeded the configured bound."""


class APIConnectionError(ZhipuError):
    """No usable response: the connection failed, was reset, or broke mid-stream."""

    is_retryable = True


class APITimeoutError(APIConnectionError):
    """A connect, read, write or pool timeout."""


class ConcurrencySlotTimeoutError(APITimeoutError):
    """No slot of a ``max_concurrency`` limit shared through ``concurrency_url`` came free
    within the request's timeout (its ``pool`` part): nothing was sent. The message says what
    to change."""


class SharedLimitWarning(UserWarning):
    """The Redis behind ``concurrency_url`` failed: requests use the process's own
    ``max_concurrency`` until it answers again (emitted once per process)."""


class StreamInterruptedError(APIConnectionError):
    """The stream ended early. ``partial`` holds everything that arrived before it broke."""


class APIStatusError(ZhipuError):
    """The API answered with an error: an HTTP status >= 400, or an error frame in a stream."""


class AuthenticationError(APIStatusError):
    """The key was rejected (401; codes 1000-1005). Check ``ZHIPUAI_API_KEY``/``ZAI_API_KEY``."""


class MissingAPIKeyError(AuthenticationError):
    """No API key was given or found in the environment."""


class PermissionDeniedError(APIStatusError):
    """The account may not make this call (locked, no permission, plan lacks the model)."""


class QuotaExceededError(PermissionDeniedError):
    """No balance, no resource package, or a usage cap reached (1113, 1304, 1308, 1310,
    1316-1321; the reset time, where GLM gives one, is only in the message).

    These arrive as HTTP 429 but retrying cannot help until the account is topped up or the
    window resets, so they are never retried.
    """


class FairUseRestrictionError(PermissionDeniedError):
    """The account's request rate was restricted under the plan's fair-use policy (1313,
    HTTP 429): "To restore access, please submit a request" (docs.bigmodel.cn api-code: apply
    to lift it from the coding-plan overview in the console).

    Unlike a rate limit, waiting does not lift it; a person must act, so it is never retried.
    """


class BadRequestError(APIStatusError):
    """The API rejected the request's parameters."""


class ContextWindowExceededError(BadRequestError):
    """The prompt is longer than the model's context window (1261)."""


class ContentFilterError(BadRequestError):
    """The input or the generation was blocked by content safety (1300, 1301)."""


class NotFoundError(APIStatusError):
    """The model or API does not exist (1211, 1221, 1222; HTTP 404)."""


class RateLimitError(APIStatusError):
    """Too many concurrent requests for this account and model (1302), too frequent (1303), or
    the platform or model is overloaded (1305, 1312). Retried with backoff before it is
    raised."""

    is_retryable = True


class InternalServerError(APIStatusError):
    """A server-side failure (5xx and codes 1200, 1230, 1234)."""

    is_retryable = True


# Business codes decide before the HTTP status: GLM sends "no balance" (1113) as HTTP 429.
_CODE_CLASSES: dict[str, type[APIStatusError]] = {
    # 1005: "Need Two-Factor Authentication" (docs.z.ai api-code, HTTP 401).
    **dict.fromkeys(("1000", "1001", "1002", "1003", "1004", "1005"), AuthenticationError),
    # 1314: enterprise package expired; 1315: a key limited to enterprise coding packages.
    **dict.fromkeys(
        ("1110", "1111", "1112", "1120", "1121", "1220", "1309", "1311", "1314", "1315"),
        PermissionDeniedError,
    ),
    # 1316-1321: a plan's 5-hour or 7-day usage limit reached with no balance or spend left
    # for extra usage, "Resets at ..." (docs.z.ai api-code, HTTP 429).
    **dict.fromkeys(
        ("1113", "1304", "1308", "1310", "1316", "1317", "1318", "1319", "1320", "1321"),
        QuotaExceededError,
    ),
    "1313": FairUseRestrictionError,
    **dict.fromkeys(("1210", "1212", "1213", "1214", "1215", "1231"), BadRequestError),
    "1211": NotFoundError,
    "1221": NotFoundError,
    "1222": NotFoundError,
    "1261": ContextWindowExceededError,
    "1300": ContentFilterError,
    "1301": ContentFilterError,
    **dict.fromkeys(("1302", "1303", "1305", "1312"), RateLimitError),
    **dict.fromkeys(("1200", "1230", "1234", "500"), InternalServerError),
}

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}

# The Anthropic-compatible endpoint reports context overflow as 1210 with this phrase.
_CONTEXT_PHRASES = ("maximum context length", "exceeds max length", "context window")


def _error_class(status_code: int | None, code: str | None, message: str) -> type[APIStatusError]:
    if code is not None and code in _CODE_CLASSES:
        cls = _CODE_CLASSES[code]
        if cls is BadRequestError and any(p in message.lower() for p in _CONTEXT_PHRASES):
            return ContextWindowExceededError
        # 1200/1230 are generic "call failed": only a 5xx makes them a server fault.
        if code in ("1200", "1230") and status_code is not None and status_code < 500:
            return _STATUS_CLASSES.get(status_code, APIStatusError)
        return cls
    if status_code is not None:
        if status_code >= 500:
            return InternalServerError
        return _STATUS_CLASSES.get(status_code, APIStatusError)
    return APIStatusError


def error_from_body(
    body: Any,
    *,
    status_code: int | None,
    request_id: str | None = None,
    partial: ChatCompletion | None = None,
) -> APIStatusError:
    """Build the typed error for a parsed Zhipu error body (``{"error": {"code", "message"}}``).

    ``code`` may be a string or an int on the wire; it is kept as a string. A body that is not
    Zhipu-shaped (an HTML page from a gateway) falls back to the HTTP status.
    """
    code: str | None = None
    message = ""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            raw_code = err.get("code")
            code = str(raw_code) if raw_code not in (None, "") else None
            message = str(err.get("message") or "")
        elif isinstance(err, str):
            message = err
        request_id = request_id or body.get("request_id") or None
    if not message:
        message = f"Zhipu API error (HTTP {status_code})" if status_code else "Zhipu API error"
    cls = _error_class(status_code, code, message)
    return cls(
        message,
        status_code=status_code,
        code=code,
        request_id=request_id,
        body=body,
        partial=partial,
    )


def error_from_response(
    status_code: int, content: bytes, *, request_id: str | None = None
) -> APIStatusError:
    """Build the typed error for an HTTP error response from its status and raw body bytes;
    ``request_id`` is the response's ``x-request-id`` header (it wins over the body's)."""
    body: Any
    try:
        body = json.loads(content) if content else None
    except ValueError:
        # A gateway's HTML page: keep a bounded excerpt so the error stays readable.
        body = content[:2000].decode("utf-8", "replace")
    return error_from_body(body, status_code=status_code, request_id=request_id)
