"""The GLM model catalog: what each model can take and do; and, at the end, the embedding and
rerank models with their limits (:data:`EMBEDDING_MODELS`, :data:`RERANK_MODELS`).

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

import difflib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from ._exceptions import InvalidRequestInputError

logger = logging.getLogger("zhipu_flash")

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


# --- retrieval models ------------------------------------------------------------------------
#
# As for chat models, an unknown embedding or rerank name is sent as given (a third-party
# catalog lists a glm-rerank, for one): it gets a warning naming the nearest known model, and
# only the documented hard limits of known models are checked locally (docs/glm-api.md §10,
# §4.5). Batches for an unknown embedding model keep embedding-3's 64 inputs, the
# client's own split, never a refusal.

_EMBEDDINGS_DOC = "https://docs.bigmodel.cn/api-reference/模型-api/文本嵌入"
_RERANK_DOC = "https://docs.bigmodel.cn/api-reference/模型-api/文本重排序"


@dataclass(frozen=True)
class EmbeddingModelInfo:
    """Limits of one GLM embedding model, as its API reference states them (``source``)."""

    name: str
    #: The ``dimensions`` values the model takes.
    dimensions: tuple[int, ...]
    #: The vector length when no ``dimensions`` is sent (None: not known).
    default_dimensions: int | None
    #: Inputs per request (embedding-3: the documented 64; embedding-2 documents no count,
    #: only a token budget, so 64 is this client's own cap there).
    max_inputs_per_request: int
    #: Tokens per input; None: no documented limit (a model the catalog does not know).
    max_tokens_per_input: int | None
    #: Tokens per request, summed over its inputs; None: no documented budget.
    max_tokens_per_request: int | None
    source: str
    #: Whether ``dimensions`` goes on the wire. embedding-2 has one fixed size: asking for
    #: it is accepted and nothing is sent, as the API documents no choice there.
    configurable_dimensions: bool = True
    #: Embedding models are paid (about 0.5 yuan per million tokens); none is free.
    free: bool = False
    description: str = ""
    #: False for a name not in the catalog: sent as given, no dimensions or token checks.
    known: bool = True


@dataclass(frozen=True)
class RerankModelInfo:
    """Limits of one GLM rerank model, as its API reference states them (``source``)."""

    name: str
    #: Documents per request; None: no documented limit (a model the catalog does not know).
    max_documents: int | None
    #: Characters per document, and in the query; None: no documented limit.
    max_chars: int | None
    source: str
    free: bool = False
    description: str = ""
    #: False for a name not in the catalog: sent as given, nothing checked locally.
    known: bool = True


#: The embedding models, by name. Limits from the API reference (``source``).
EMBEDDING_MODELS: Mapping[str, EmbeddingModelInfo] = MappingProxyType(
    {
        "embedding-3": EmbeddingModelInfo(
            "embedding-3",
            dimensions=(256, 512, 1024, 2048),
            default_dimensions=2048,
            max_inputs_per_request=64,
            max_tokens_per_input=3072,
            max_tokens_per_request=None,
            source=_EMBEDDINGS_DOC,
            description="Text embeddings; 256, 512, 1024 or 2048 dimensions (default 2048).",
        ),
        "embedding-2": EmbeddingModelInfo(
            "embedding-2",
            dimensions=(1024,),
            default_dimensions=1024,
            max_inputs_per_request=64,
            max_tokens_per_input=512,
            max_tokens_per_request=8 * _K,
            source=_EMBEDDINGS_DOC,
            configurable_dimensions=False,
            description="Older text embeddings; 1024 dimensions.",
        ),
    }
)

#: The rerank models, by name. ``rerank`` is the only one the API reference names.
RERANK_MODELS: Mapping[str, RerankModelInfo] = MappingProxyType(
    {
        "rerank": RerankModelInfo(
            "rerank",
            max_documents=128,
            max_chars=4096,
            source=_RERANK_DOC,
            description="Scores (query, document) pairs; up to 128 documents per call.",
        ),
    }
)


def embedding_model_info(name: str, dimensions: int | None = None) -> EmbeddingModelInfo:
    """The catalog entry of embedding model ``name`` (any case), with ``dimensions`` checked
    against it; for a name the catalog does not know, an entry marked ``known=False`` that
    checks nothing (the name is sent as given, with a warning naming the nearest model).

    The one check behind ``ZhipuClient.embed`` and both adapters' embedding classes (which
    call it at construction, where the mistake is).

    Raises:
        InvalidRequestInputError: A name that is not a non-empty string, or ``dimensions``
            a known model does not take (listing those it takes).
    """
    info: EmbeddingModelInfo | None = _lookup("embedding", name, EMBEDDING_MODELS)
    if info is None:
        return EmbeddingModelInfo(
            name,
            dimensions=(),
            default_dimensions=None,
            max_inputs_per_request=_EMBEDDING_BATCH,
            max_tokens_per_input=None,
            max_tokens_per_request=None,
            source="",
            description="Not in the zhipu-flash catalog: sent as given, nothing checked.",
            known=False,
        )
    if dimensions is not None and (
        isinstance(dimensions, bool) or dimensions not in info.dimensions
    ):
        allowed = ", ".join(str(d) for d in info.dimensions)
        raise InvalidRequestInputError(
            f"dimensions={dimensions!r} is not available on {info.name}: it takes {allowed} "
            f"(default {info.default_dimensions})."
        )
    return info


def rerank_model_info(name: str) -> RerankModelInfo:
    """The catalog entry of rerank model ``name`` (any case); for a name the catalog does not
    know (``glm-rerank``), an entry marked ``known=False`` without limits: sent as given, with
    a warning naming the nearest model.

    Raises:
        InvalidRequestInputError: A name that is not a non-empty string.
    """
    info: RerankModelInfo | None = _lookup("rerank", name, RERANK_MODELS)
    if info is None:
        return RerankModelInfo(
            name,
            max_documents=None,
            max_chars=None,
            source="",
            description="Not in the zhipu-flash catalog: sent as given, nothing checked.",
            known=False,
        )
    return info


#: Inputs per request for an embedding model the catalog does not know: embedding-3's
#: documented count, as the client's own split (GLM judges the rest).
_EMBEDDING_BATCH = 64
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def _lookup(kind: str, name: Any, known: Mapping[str, Any]) -> Any:
    """The entry for ``name`` (any case), or None for a name the catalog does not know, which
    is logged at WARNING once per process per name (the check runs per request)."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequestInputError(
            f"The {kind} model must be a non-empty string, e.g. {next(iter(known))!r}; got "
            f"{name!r}."
        )
    info = known.get(name.strip().lower())
    if info is not None:
        return info
    with _warned_lock:
        first = (kind, name) not in _warned
        _warned.add((kind, name))
    if first:
        close = difflib.get_close_matches(name.strip().lower(), list(known), n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        names = ", ".join(repr(n) for n in known)
        logger.warning(
            "%r is not among the zhipu-flash catalog's %s models (%s); it is sent as given "
            "and GLM decides, with no local limits checked.%s",
            name,
            kind,
            names,
            hint,
        )
    return None
