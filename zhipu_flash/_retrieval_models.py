"""The embedding and rerank models with their limits: the second half of the catalog, which
:mod:`zhipu_flash.models` hands out (:data:`~zhipu_flash.models.EMBEDDING_MODELS`,
:data:`~zhipu_flash.models.RERANK_MODELS` and their lookups).

A module of its own so that chat-only programs never build it: ``zhipu_flash.models`` loads it
on first use of one of its names, and only the retrieval calls use them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ._exceptions import InvalidRequestInputError

logger = logging.getLogger("zhipu_flash")

__all__ = [
    "EMBEDDING_MODELS",
    "RERANK_MODELS",
    "EmbeddingModelInfo",
    "RerankModelInfo",
    "embedding_model_info",
    "rerank_model_info",
]

_K = 1024

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
        import difflib  # only for a name the catalog does not know (start-up)

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
