"""The GLM model catalog: what each model can take and do; and the embedding and rerank models
with their limits (:data:`EMBEDDING_MODELS`, :data:`RERANK_MODELS`), which live in
:mod:`._retrieval_models` and are handed out from here.

Figures come from docs/glm-api.md §3; each GLM-5 entry names its source in a comment, tagged
as there: [doc] the vendor docs, [report] third-party catalogs or issue threads, [2nd]
secondary summaries only. New models appear often, so an unknown name is never
an error: :func:`get_model_info` returns sensible defaults and the request is sent as asked.

Thinking modes:

- ``"toggle"``: ``thinking`` may be enabled or disabled (GLM-4.5 and later text models,
  GLM-4.6V, GLM-5 to GLM-5.2).
- ``"forced"``: the model always thinks; sending ``{"type": "disabled"}`` gets HTTP 400, so
  the client refuses it locally (glm-4.1v-thinking-flash; GLM-5.3 and glm-5.3-flash, which
  take ``reasoning_effort`` instead: "always thinks, effort only").
- ``"none"``: no reasoning at all; ``thinking`` is not sent (GLM-4 and GLM-4V models).

``reasoning_efforts`` lists the ``reasoning_effort`` values a model takes (GLM-5.2 and later);
an empty tuple means it takes none, and the client refuses the parameter for it.

``unverified`` names the facts of an entry that no vendor page confirms (for a model that
shipped before its docs: GLM-5.4, glm-5.3-flashx). The figures are shown as the best guess,
but the client refuses nothing on the basis of an unverified fact: :meth:`ModelInfo.confirms`
is the test every local check uses, and it is False for those facts as for unknown models.

``tool_stream`` says what is known about streamed tool arguments, per model:
``"documented"`` (the vendor's stream-tool page lists the model), ``"unverified"`` (not
listed: the model may ignore the flag and answer whole calls, which every client path handles)
or ``"unsupported"`` (no tools). No public capture of a ``tool_stream`` answer exists for any
model, so nothing here is verified live; the flag stays opt-in everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Literal

from ._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._retrieval_models import (
        EMBEDDING_MODELS,
        RERANK_MODELS,
        EmbeddingModelInfo,
        RerankModelInfo,
        embedding_model_info,
        rerank_model_info,
    )

__all__ = [
    "EMBEDDING_MODELS",
    "FLASH_MODELS",
    "MODELS",
    "RERANK_MODELS",
    "EmbeddingModelInfo",
    "ModelInfo",
    "RerankModelInfo",
    "ThinkingMode",
    "ToolStreamSupport",
    "embedding_model_info",
    "get_model_info",
    "rerank_model_info",
]

ThinkingMode = Literal["toggle", "forced", "none"]
ToolStreamSupport = Literal["documented", "unverified", "unsupported"]


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
    #: What is known about ``tool_stream`` on this model (see the module docstring).
    tool_stream: ToolStreamSupport = "unverified"
    #: The ``reasoning_effort`` values the model takes; empty: it takes none.
    reasoning_efforts: tuple[str, ...] = ()
    #: The effort the API uses when none is sent (None where no effort is taken).
    default_effort: str | None = None
    #: Free of charge ("flash" tier).
    free: bool = False
    #: Wraps answers in ``<|begin_of_box|>``/``<think>`` markers inside ``content``.
    markers: bool = False
    #: False for names not in the catalog (the figures are then defaults).
    known: bool = True
    #: Facts of this entry that no vendor page confirms, by field name ("thinking",
    #: "reasoning_efforts", "context_window", ...): shown, never used to refuse a request.
    unverified: frozenset[str] = frozenset()
    description: str = ""

    def confirms(self, fact: str) -> bool:
        """True if a local check may rely on ``fact`` (a field name): the model is in the
        catalog and that fact is not marked unverified. Everything else is GLM's to judge."""
        return self.known and fact not in self.unverified

    @property
    def reasons(self) -> bool:
        """True if the model can emit ``reasoning_content``."""
        return self.thinking != "none"


_K = 1024
#: GLM-5 output limits: "128K" in the vendor's GLM-5 migration guide [doc]; 131072 in the
#: models.dev entries [report] and as the accepted max_tokens range reported for GLM-5.3.
_GLM5_OUTPUT = 128 * _K
#: The GLM-5.3 effort contract: "For GLM-5.3 and GLM-5.3-FLASH, only max, high and low are
#: supported. Any other input will result in an error." (docs.z.ai guides/capabilities/
#: thinking, as quoted in charmbracelet/catwalk#603) [doc]; a live matrix on open.bigmodel.cn
#: (NousResearch/hermes-agent#96222, 2026-09) shows medium and thinking-disabled answered with
#: HTTP 400 / 1210 on both models [report]. An earlier report of medium being accepted on the
#: Coding Plan route (hermes-agent#91789) is superseded by those.
_GLM53_EFFORTS = ("low", "high", "max")
#: What an entry built from third-party material alone cannot promise (see ``unverified``).
_UNVERIFIED_CONTRACT = frozenset(
    {"context_window", "max_output_tokens", "thinking", "reasoning_efforts", "default_effort"}
)

# Order matters: the five free flash models first (the CLI and README list them this way).
_CATALOG: tuple[ModelInfo, ...] = (
    ModelInfo(
        "glm-4.7-flash",
        200_000,
        128_000,
        "toggle",
        # The stream-tool page lists GLM-4.7, not its flash model, and a third-party fixture
        # README marks glm-4.7-flash as not supporting it (futuregene/future-os#429, see
        # docs/glm-api.md §3) [report]: the model may answer whole calls, which is handled.
        tool_stream="unverified",
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
        # Box markers reported in glm-4.6v answers (chatboxai/chatbox#2774,
        # zai-org/Open-AutoGLM#65) [report], as documented for GLM-4.5V.
        markers=True,
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
        tool_stream="unsupported",
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
        tool_stream="unsupported",
        free=True,
        description="Free GLM-4V vision model (limits [2nd]).",
    ),
    # GLM-5 generation (docs/glm-api.md §3). Limits and modalities from the models.dev lab entries
    # (anomalyco/models.dev models/zhipuai/*.toml), thinking modes from its zhipuai/zai
    # provider entries (reasoning_options "toggle" or "effort") [report], unless a [doc] is
    # named. glm-5.2-fast, glm-5.2-highspeed and a glm-latest alias are left out: no vendor
    # page names them (only third-party catalogs and an open PR, docs/glm-api.md §3), and an
    # unknown name is sent as given with nothing refused on a guess.
    ModelInfo(
        "glm-5.4",
        # Z.ai's flagship after GLM-5.3. Public client code lists efforts low, high and max for
        # it (as for GLM-5.3) [report]; no vendor page was found, so the limits are GLM-5.3's
        # and the thinking contract is a guess: all unverified, nothing refused on them.
        1_000_000,
        _GLM5_OUTPUT,
        "forced",
        reasoning_efforts=_GLM53_EFFORTS,
        default_effort="max",
        # Its input modalities are not documented either: an image is sent, not refused.
        unverified=_UNVERIFIED_CONTRACT | {"tool_stream", "vision", "video"},
        description=(
            "GLM-5.4 text model (unverified: efforts low, high, max from client code; limits "
            "as GLM-5.3). Sent as asked; GLM judges thinking and reasoning_effort."
        ),
    ),
    ModelInfo(
        "glm-5.3-flashx",
        # Released 2026-09-18; 1,048,576 context, 131,072 output and text, image and video
        # input in third-party catalogs (models.dev) [report]. Its thinking contract is not
        # documented: shown as glm-5.3-flash's, unverified, so it is sent exactly as asked.
        1_048_576,
        131_072,
        "forced",
        vision=True,
        video=True,
        reasoning_efforts=_GLM53_EFFORTS,
        default_effort="max",
        unverified=_UNVERIFIED_CONTRACT,
        description=(
            "Fast GLM-5.3 flash tier (released 2026-09-18, [report]); text, image and video; "
            "thinking contract unverified, so thinking and effort are sent as asked."
        ),
    ),
    ModelInfo(
        "glm-5.3-flash",
        1_000_000,
        _GLM5_OUTPUT,
        "forced",
        # Image (and video) input: models.dev lists text, image, video and pdf; the vendor
        # announcement quoted in docs/glm-api.md §3 says text and image [report].
        vision=True,
        video=True,
        reasoning_efforts=_GLM53_EFFORTS,
        default_effort="max",
        description=(
            "Paid GLM-5.3 flash model (about $0.15/$0.5 per M tokens, [report]); text and "
            "image input; always thinks, effort only (low, high, max; default max)."
        ),
    ),
    ModelInfo(
        "glm-5.3",
        1_000_000,
        _GLM5_OUTPUT,
        "forced",
        reasoning_efforts=_GLM53_EFFORTS,
        default_effort="max",
        description="GLM-5.3 text model; always thinks, effort only (low, high, max).",
    ),
    ModelInfo(
        "glm-5.2",
        1_000_000,
        _GLM5_OUTPUT,
        "toggle",
        # reasoning_effort values documented for GLM-5.2 (docs.bigmodel.cn guide/capabilities/
        # thinking, quoted by models.dev providers/zhipuai/models/glm-5.2.toml and
        # NousResearch/hermes-agent#50696) [doc]: none|minimal skip thinking, low|medium act
        # as high, xhigh as max.
        reasoning_efforts=("none", "minimal", "low", "medium", "high", "xhigh", "max"),
        default_effort="max",
        tool_stream="documented",
        description="GLM-5.2 text model; thinking toggle and reasoning_effort.",
    ),
    ModelInfo(
        "glm-5.1",
        200_000,
        _GLM5_OUTPUT,
        "toggle",
        tool_stream="documented",
        description="GLM-5.1 text model; thinking toggle, no reasoning_effort.",
    ),
    ModelInfo(
        "glm-5",
        # 200K context and 128K output, thinking forced when enabled (docs.bigmodel.cn
        # guide/start/migrate-to-glm-new) [doc]; tool_stream listed there and on the
        # stream-tool pages [doc].
        200_000,
        _GLM5_OUTPUT,
        "toggle",
        tool_stream="documented",
        description="GLM-5 text model; thinking toggle, no reasoning_effort.",
    ),
    ModelInfo("glm-5-turbo", 200_000, _GLM5_OUTPUT, "toggle"),
    ModelInfo(
        "glm-5v-turbo",
        200_000,
        _GLM5_OUTPUT,
        "toggle",
        vision=True,
        video=True,
        json_mode=False,
    ),
    # Current paid text models. tool_stream "documented": docs.z.ai guides/tools/stream-tool
    # ("limited to glm-4.6 glm-4.7 glm-5") and docs.bigmodel.cn guide/capabilities/stream-tool
    # (GLM-5.2, GLM-5.1, GLM-5, GLM-4.7) [doc].
    ModelInfo("glm-4.7", 200_000, 128_000, "toggle", tool_stream="documented"),
    ModelInfo("glm-4.7-flashx", 200_000, 128_000, "toggle"),
    ModelInfo("glm-4.6", 200_000, 128_000, "toggle", tool_stream="documented"),
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
    # Current paid vision models. The GLM-4.6V family shares glm-4.6v-flash's box markers.
    ModelInfo(
        "glm-4.6v",
        128_000,
        32 * _K,
        "toggle",
        vision=True,
        video=True,
        json_mode=False,
        markers=True,
    ),
    ModelInfo(
        "glm-4.6v-flashx",
        128_000,
        32 * _K,
        "toggle",
        vision=True,
        video=True,
        json_mode=False,
        markers=True,
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
        "glm-4v-plus-0111",
        16_000,
        1 * _K,
        "none",
        vision=True,
        tools=False,
        json_mode=False,
        tool_stream="unsupported",
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


# The embedding and rerank half of the catalog lives in ._retrieval_models, loaded on first use
# of one of its names here (PEP 562): a chat-only program never builds it, which is about a
# twentieth of ``import zhipu_flash``.
_RETRIEVAL_NAMES = frozenset(
    {
        "EMBEDDING_MODELS",
        "RERANK_MODELS",
        "EmbeddingModelInfo",
        "RerankModelInfo",
        "embedding_model_info",
        "rerank_model_info",
    }
)


def _load_retrieval() -> ModuleType:
    from . import _retrieval_models

    return _retrieval_models


__getattr__ = lazy_attributes(globals(), _RETRIEVAL_NAMES, _load_retrieval)
