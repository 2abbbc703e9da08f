"""What to change when GLM refuses a setting the client sent without checking it.

For a model the catalog does not know, or whose thinking contract it marks unverified
(``ModelInfo.confirms``), ``thinking`` and ``reasoning_effort`` go out exactly as asked: a
guessed refusal would leave such a model worse off than with a plain OpenAI-style client. When
GLM then answers code 1210 (invalid parameter; GLM-5.3 answers ``thinking`` disabled and an
effort it does not take with it, docs/glm-api.md §8.2), its message may not say which field it
means. :func:`add_setting_hint` adds that to the typed error: which of the two settings were
sent, what to change, and that the model is not in the catalog.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._exceptions import ContextWindowExceededError, ZhipuError
from .models import get_model_info

__all__ = ["add_setting_hint"]

# The settings sent unchecked, each with the catalog fact that would have checked it.
_UNCHECKED = (("reasoning_effort", "reasoning_efforts"), ("thinking", "thinking"))


def add_setting_hint(error: BaseException, model: str, params: Mapping[str, Any]) -> None:
    """Append the setting to change to ``error`` (in place) when it is a 1210 refusal of a
    request that carried ``thinking``/``reasoning_effort`` unchecked; otherwise do nothing."""
    if not isinstance(error, ZhipuError) or error.code != "1210":
        return
    if isinstance(error, ContextWindowExceededError):
        return
    info = get_model_info(model)
    sent = [
        f"{name}={params[name]!r}"
        for name, fact in _UNCHECKED
        if params.get(name) is not None and not info.confirms(fact)
    ]
    if not sent:
        return
    why = (
        "is not in the zhipu-flash catalog"
        if not info.known
        else "has an unverified thinking contract in the zhipu-flash catalog"
    )
    error.message = (
        f"{error.message} ({model} {why}, so {' and '.join(sent)} went out unchecked. Change "
        "reasoning_effort (GLM-5.3-style models take 'low', 'high' or 'max') or leave it unset, "
        "and leave thinking unset or True if the model always thinks.)"
    )
    error.args = (error.message,)
