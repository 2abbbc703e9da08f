"""The GLM model catalog: what each model can take and do.

Figures come from ../shared/API.md section 2; those marked [2nd] there (only secondary
sources) are the best available and are noted here. New models appear often, so an unknown
name is never an error: :func:`get_model_info` returns sensible defaults and the request is
sent as asked.

Thinking modes:

- ``"toggle"``: ``thinking`` may be enabled or disabled (GLM-4.5 and later text models,
  GLM-4.6V).
- ``"forced"``: the model always thinks; sending ``{"type": "disabled"}`` gets HTTP 400, so
  the client refuses it locally (glm-4.1v-thinking-flash).
- ``"none"``: no reasoning at all; ``thinking`` is not sent (GLM-4 and GLM-4V models).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FLASH_MODELS", "MODELS", "ModelInfo", "ThinkingMode", "get_model_info"]

ThinkingMode = Literal["toggle", "forced", "none"]


@dataclass(frozen=True)
class ModelInfo:
    """Capabilities of one GLM model."""

    name: str
    context_window: int
    max_output_tokens: int
    thinking: ThinkingMode
    vision: bool = False
    video: bool = False
    tools: bool = True
    #: ``response_format`` json_object (absent from the vision request schema).
    json_mode: bool = True
    #: ``tool_stream`` documented (GLM-4.6 and later; unverified on the flash models).
    tool_stream: bool = False
    #: Free of charge ("flash" tier).
    free: bool = False
    #: Wraps answers in ``<|begin_of_box|>``/``<think>`` markers inside ``content``.
    markers: bool = False
    #: False for names not in the catalog (the figures are then defaults).
    known: bool = True
    description: str = ""

    @property
    def reasons(self) -> bool:
        """True if the model can emit ``reasoning_content``."""
        return self.thinking != "none"


_K = 1024

# Order matters: the five free flash models first (the CLI and README list them this way).
_CATALOG: tuple[ModelInfo, ...] = (
    ModelInfo(
        "glm-4.7-flash",
        200_000,
        128_000,
        "toggle",
        tool_stream=True,
        free=True,
        description="Free GLM-4.7 text model; always thinks unless thinking is disabled.",
    ),
    ModelInfo(
        "glm-4-flash-250414",
        128_000,
        16 * _K,
        "none",
        free=True,
        description="Free GLM-4 text model without reasoning (output limit [2nd]).",
    ),
    ModelInfo(
        "glm-4.6v-flash",
        128_000,
        32 * _K,
        "toggle",
        vision=True,
        video=True,
        free=True,
        json_mode=False,
        description="Free GLM-4.6V vision model with tools; decides itself whether to think.",
    ),
    ModelInfo(
        "glm-4.1v-thinking-flash",
        64_000,
        16 * _K,
        "forced",
        vision=True,
        video=True,
        tools=False,
        json_mode=False,
        free=True,
        markers=True,
        description="Free GLM-4.1V vision model that always thinks (limits [2nd]).",
    ),
    ModelInfo(
        "glm-4v-flash",
        16_000,
        1 * _K,
        "none",
        vision=True,
        tools=False,
        json_mode=False,
        free=True,
        description="Free GLM-4V vision model (limits [2nd]).",
    ),
    # Current paid text models.
    ModelInfo("glm-4.7", 200_000, 128_000, "toggle", tool_stream=True),
    ModelInfo("glm-4.7-flashx", 200_000, 128_000, "toggle", tool_stream=True),
    ModelInfo("glm-4.6", 200_000, 128_000, "toggle", tool_stream=True),
    ModelInfo("glm-4.5", 128_000, 96_000, "toggle"),
    ModelInfo("glm-4.5-air", 128_000, 96_000, "toggle"),
    ModelInfo("glm-4.5-x", 128_000, 96_000, "toggle"),
    ModelInfo("glm-4.5-airx", 128_000, 96_000, "toggle"),
    ModelInfo(
        "glm-4.5-flash",
        128_000,
        96_000,
        "toggle",
        free=True,
        description="Retired 2026-01-30; the API routes it to glm-4.7-flash.",
    ),
    # Current paid vision models.
    ModelInfo("glm-4.6v", 128_000, 32 * _K, "toggle", vision=True, video=True, json_mode=False),
    ModelInfo(
        "glm-4.6v-flashx", 128_000, 32 * _K, "toggle", vision=True, video=True, json_mode=False
    ),
    ModelInfo(
        "glm-4.5v",
        64_000,
        16 * _K,
        "toggle",
        vision=True,
        video=True,
        json_mode=False,
        markers=True,
    ),
    # GLM-4 generation, no reasoning.
    ModelInfo("glm-4-32b-0414-128k", 128_000, 16 * _K, "none"),
    ModelInfo("glm-4-plus", 128_000, 4 * _K, "none"),
    ModelInfo("glm-4-air-250414", 128_000, 16 * _K, "none"),
    ModelInfo("glm-4-flashx-250414", 128_000, 16 * _K, "none"),
    ModelInfo("glm-4-flash", 128_000, 4 * _K, "none", free=True),
    ModelInfo("glm-4", 128_000, 4 * _K, "none"),
    ModelInfo(
        "glm-4v-plus-0111", 16_000, 1 * _K, "none", vision=True, tools=False, json_mode=False
    ),
)

#: Every catalogued model by name, in catalog order.
MODELS: dict[str, ModelInfo] = {m.name: m for m in _CATALOG}
#: The five free flash models this project is built around.
FLASH_MODELS: tuple[str, ...] = (
    "glm-4.7-flash",
    "glm-4-flash-250414",
    "glm-4.6v-flash",
    "glm-4.1v-thinking-flash",
    "glm-4v-flash",
)

# Defaults for a name we don't know: a recent text model. Nothing is refused on their basis
# (an unknown model may well take images): the checks only use ``known`` entries.
_DEFAULT_CONTEXT = 128_000
_DEFAULT_OUTPUT = 16 * _K


def get_model_info(name: str) -> ModelInfo:
    """The catalog entry for ``name`` (case-insensitive), or defaults marked ``known=False``.

    Never raises: the API decides about models we have not heard of.
    """
    info = MODELS.get(name) or MODELS.get(name.strip().lower())
    if info is not None:
        return info
    return ModelInfo(
        name,
        _DEFAULT_CONTEXT,
        _DEFAULT_OUTPUT,
        "toggle",
        vision=False,
        known=False,
        description="Not in the zhipu-flash catalog: defaults shown.",
    )
