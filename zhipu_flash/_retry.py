"""Pure retry policy: whether a failure is worth another attempt, and how long to wait.

The client runs one loop around opening a request and consults these two functions; they do
no I/O so the policy is tested as tables. Retrying happens only before the first chunk is
handed to the caller: after that a retry would duplicate text the caller already has.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping

from ._constants import (
    INITIAL_RETRY_DELAY,
    MAX_RETRY_AFTER,
    MAX_RETRY_DELAY,
    OVERLOAD_INITIAL_RETRY_DELAY,
)
from ._exceptions import ZhipuError

# 1305 (platform overload) and 1312 (model overloaded) ask for a longer interval
# (docs/glm-api.md §9).
_OVERLOAD_CODES = frozenset({"1305", "1312"})


def should_retry(error: ZhipuError, attempt: int, max_retries: int) -> bool:
    """True if ``error`` (from attempt number ``attempt``, counting from 0) deserves another try.

    The decision is the error class's ``is_retryable``, which was chosen from Zhipu's business
    code before the HTTP status: a 429 carrying 1113 (no balance) or 1308 (usage cap) is a
    :class:`~zhipu_flash.QuotaExceededError` and is never retried.
    """
    return error.is_retryable and attempt < max_retries


def retry_after_seconds(
    headers: Mapping[str, str] | None, now: float | None = None
) -> float | None:
    """The server's requested wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or an
    HTTP date). None when absent or unparseable."""
    if not headers:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            return max(float(raw_ms) / 1000.0, 0.0)
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(float(raw), 0.0)
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(parsed.timestamp() - current, 0.0)


def retry_delay(
    attempt: int,
    error: ZhipuError,
    headers: Mapping[str, str] | None = None,
    *,
    rand: float | None = None,
) -> float | None:
    """Seconds to wait before retry number ``attempt + 1``, or None to give up now.

    A ``Retry-After`` from the server wins (Zhipu does not document one, but gateways send it);
    one longer than a minute means "not soon", so we stop rather than block the caller.
    Otherwise exponential backoff (0.5 s doubling, 2 s for the overload codes, at most 8 s)
    with "equal jitter": half the delay is kept and the other half drawn at random, so the wait
    is uniform in [delay/2, delay]. (Full jitter would draw the whole delay from [0, delay],
    which can retry at once.)
    """
    server = retry_after_seconds(headers)
    if server is not None:
        return server if server <= MAX_RETRY_AFTER else None
    base = OVERLOAD_INITIAL_RETRY_DELAY if error.code in _OVERLOAD_CODES else INITIAL_RETRY_DELAY
    delay = min(base * (2.0**attempt), MAX_RETRY_DELAY)
    jitter = random.random() if rand is None else rand  # noqa: S311 - jitter, not crypto
    return delay * (0.5 + 0.5 * jitter)
