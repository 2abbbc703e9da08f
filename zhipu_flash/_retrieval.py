"""Embeddings and rerank without I/O: input checks, request bodies, batches, answers.

The clients (:mod:`zhipu_flash._client`) only send what this module builds and hand back what
it parses, so the sync and async twins cannot drift apart. docs/glm-api.md §10 describes the
two endpoints and where each limit comes from.

Token limits are checked without GLM's tokenizer, which does not ship with the package, so
only certain violations are refused (docs/glm-api.md §10.1):

- An input is refused when even a *lower bound* of its token count is over the model's
  per-input limit. GLM's tokenizers are byte-level BPE; the bound assumes that no token holds
  more than :data:`MAX_TOKEN_BYTES` UTF-8 bytes, far above the longest tokens of such
  vocabularies (runs of spaces or punctuation), so an input that may fit is never refused and
  the server stays the judge of the rest.
- Inputs are packed under a per-request token budget (embedding-2) by an *upper bound*: a
  byte-level BPE token is at least one byte, plus :data:`SPECIAL_TOKENS_PER_INPUT` for markers
  a server may add. Batches are therefore never over the budget, at the price of more
  requests than an exact count would need.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ._exceptions import APIConnectionError, InvalidRequestInputError, ZhipuError, error_from_body
from ._retrieval_models import (
    EmbeddingModelInfo,
    RerankModelInfo,
    embedding_model_info,
    rerank_model_info,
)
from .types.response import Usage
from .types.retrieval import Embedding, EmbeddingsResponse, RerankResponse

__all__ = [
    "MAX_TOKEN_BYTES",
    "SPECIAL_TOKENS_PER_INPUT",
    "EmbeddingBatch",
    "EmbeddingPlan",
    "EmbeddingsPart",
    "merge_embeddings",
    "parse_rerank",
    "plan_embeddings",
    "rerank_request",
]

#: The most UTF-8 bytes one token is assumed to hold, for the lower bound on an input's
#: token count (module docstring). Generous on purpose: a refusal must be certain.
MAX_TOKEN_BYTES = 128
#: Tokens a server may add to each input (begin/end markers), for the upper bound.
SPECIAL_TOKENS_PER_INPUT = 2


def min_tokens(text: str) -> int:
    """A lower bound on GLM's token count of ``text`` (see the module docstring)."""
    return math.ceil(len(text.encode("utf-8")) / MAX_TOKEN_BYTES)


def max_tokens(text: str) -> int:
    """An upper bound on GLM's token count of ``text`` (see the module docstring)."""
    return len(text.encode("utf-8")) + SPECIAL_TOKENS_PER_INPUT


def _dumps(body: Mapping[str, Any]) -> bytes:
    # Compact, deterministic bytes, as for chat: cassettes match on the body.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _check_user_id(user_id: str | None) -> None:
    if user_id is not None and (not isinstance(user_id, str) or not 6 <= len(user_id) <= 128):
        raise InvalidRequestInputError("user_id must be a string of 6 to 128 characters.")


def _texts(input: Any) -> list[str]:
    """The caller's input as a checked list of texts (a str is one input)."""
    if isinstance(input, str):
        texts: list[Any] = [input]
    elif isinstance(input, Sequence) and not isinstance(input, (bytes, bytearray)):
        texts = list(input)
    else:
        raise InvalidRequestInputError(
            f"input must be a str or a sequence of str, got {type(input).__name__}."
        )
    if not texts:
        raise InvalidRequestInputError("input is empty: pass at least one text to embed.")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidRequestInputError(
                f"input[{i}] is {type(text).__name__}, not str: every input must be a text."
            )
        if not text.strip():
            raise InvalidRequestInputError(
                f"input[{i}] is empty or whitespace only: GLM refuses empty inputs; drop it "
                "or replace it before embedding."
            )
    return texts


@dataclass(frozen=True)
class EmbeddingBatch:
    """One request of an embedding call: inputs ``[start, stop)`` of the caller's input."""

    start: int
    stop: int
    content: bytes


@dataclass(frozen=True)
class EmbeddingsPart:
    """One batch's answer, its indices already shifted to the caller's input."""

    model: str
    data: list[Embedding]
    usage: Usage | None


@dataclass(frozen=True)
class EmbeddingPlan:
    """The checked input of one embedding call and the requests that carry it."""

    info: EmbeddingModelInfo
    total: int
    batches: tuple[EmbeddingBatch, ...]

    def failed(self, error: ZhipuError, batch: EmbeddingBatch) -> ZhipuError:
        """``error`` (of the same class, code and request id) saying which inputs the
        failed request carried."""
        where = f"inputs {batch.start} to {batch.stop - 1} of the {self.total} given"
        return type(error)(
            f"{error.message} (embedding request with {where})",
            status_code=error.status_code,
            code=error.code,
            request_id=error.request_id,
            body=error.body,
        )

    def parse(self, batch: EmbeddingBatch, status_code: int, content: bytes) -> EmbeddingsPart:
        """The answer to ``batch``: vectors in input order, indices in the caller's input."""
        body = _json_body("embeddings", status_code, content)
        size = batch.stop - batch.start
        try:
            data = sorted(
                (Embedding.model_validate(item) for item in body.get("data") or ()),
                key=lambda item: item.index,
            )
            usage = Usage.model_validate(body["usage"]) if body.get("usage") else None
        except (ValidationError, TypeError) as exc:
            raise APIConnectionError(
                f"The embeddings endpoint answered HTTP {status_code} with a body of an "
                f"unexpected shape ({type(exc).__name__})."
            ) from exc
        if [item.index for item in data] != list(range(size)):
            raise APIConnectionError(
                f"The embeddings endpoint answered {len(data)} vectors for {size} inputs "
                f"(inputs {batch.start} to {batch.stop - 1}), not one per input."
            )
        for item in data:
            item.index += batch.start
        model = body.get("model")
        return EmbeddingsPart(model if isinstance(model, str) else self.info.name, data, usage)


def plan_embeddings(
    input: str | Sequence[str],
    *,
    model: str,
    dimensions: int | None,
    user_id: str | None,
) -> EmbeddingPlan:
    """Check an embedding call and split it into requests; raises
    :class:`~zhipu_flash.InvalidRequestInputError` for input GLM would refuse."""
    info = embedding_model_info(model, dimensions)
    _check_user_id(user_id)
    texts = _texts(input)
    limit = info.max_tokens_per_input
    for i, text in enumerate(texts):
        if limit is not None and min_tokens(text) > limit:
            raise InvalidRequestInputError(
                f"input[{i}] is over {info.name}'s limit of {limit} tokens "
                f"per input ({len(text)} characters, at least {min_tokens(text)} tokens): split "
                "it into smaller chunks first."
            )
    extra: dict[str, Any] = {}
    if dimensions is not None and info.configurable_dimensions:
        extra["dimensions"] = dimensions
    if user_id is not None:
        extra["user_id"] = user_id
    batches = tuple(
        EmbeddingBatch(
            start, stop, _dumps({"model": info.name, "input": texts[start:stop], **extra})
        )
        for start, stop in _spans(texts, info)
    )
    return EmbeddingPlan(info, len(texts), batches)


def _spans(texts: list[str], info: EmbeddingModelInfo) -> list[tuple[int, int]]:
    """``[start, stop)`` spans of at most ``max_inputs_per_request`` inputs whose token upper
    bounds stay within ``max_tokens_per_request`` (an input alone over it goes alone)."""
    spans: list[tuple[int, int]] = []
    budget = info.max_tokens_per_request
    start, used = 0, 0
    for i, text in enumerate(texts):
        cost = max_tokens(text) if budget is not None else 0
        full = i - start >= info.max_inputs_per_request
        over = budget is not None and i > start and used + cost > budget
        if full or over:
            spans.append((start, i))
            start, used = i, 0
        used += cost
    spans.append((start, len(texts)))
    return spans


def merge_embeddings(parts: Sequence[EmbeddingsPart]) -> EmbeddingsResponse:
    """The batches' answers as one response over the caller's whole input."""
    usages = [part.usage for part in parts]
    usage: Usage | None = None
    if all(u is not None for u in usages):
        counted = [u for u in usages if u is not None]
        usage = Usage(
            prompt_tokens=sum(u.prompt_tokens for u in counted),
            completion_tokens=sum(u.completion_tokens for u in counted),
            total_tokens=sum(u.total_tokens for u in counted),
        )
    data = [item for part in parts for item in part.data]
    return EmbeddingsResponse(model=parts[0].model, data=data, usage=usage)


def rerank_request(
    query: str,
    documents: Sequence[str],
    *,
    model: str,
    top_n: int | None,
    return_documents: bool,
    user_id: str | None,
) -> tuple[RerankModelInfo, bytes]:
    """The checked body of a rerank call; raises
    :class:`~zhipu_flash.InvalidRequestInputError` for input GLM would refuse.

    More documents than the model takes are refused rather than split over several calls: the
    docs do not say that a score is independent of the other documents in the call (the
    default scores are normalised, ``return_raw_scores`` exists), so scores from separate
    calls could not be ranked together (docs/glm-api.md §10.2).
    """
    info = rerank_model_info(model)
    if not isinstance(query, str) or not query.strip():
        raise InvalidRequestInputError("query must be a non-empty string.")
    if info.max_chars is not None and len(query) > info.max_chars:
        raise InvalidRequestInputError(
            f"query is {len(query)} characters; {info.name} takes at most {info.max_chars}."
        )
    if isinstance(documents, (str, bytes)) or not isinstance(documents, Sequence):
        raise InvalidRequestInputError(
            f"documents must be a sequence of str, got {type(documents).__name__}."
        )
    docs = list(documents)
    if not docs:
        raise InvalidRequestInputError("documents is empty: pass at least one document.")
    if info.max_documents is not None and len(docs) > info.max_documents:
        raise InvalidRequestInputError(
            f"{len(docs)} documents given; {info.name} takes at most {info.max_documents} per "
            "call, and scores from separate calls are not comparable, so they are not split: "
            "narrow the candidates first (e.g. a vector search's top results)."
        )
    for i, doc in enumerate(docs):
        if not isinstance(doc, str):
            raise InvalidRequestInputError(
                f"documents[{i}] is {type(doc).__name__}, not str: every document is a text."
            )
        if info.max_chars is not None and len(doc) > info.max_chars:
            raise InvalidRequestInputError(
                f"documents[{i}] is {len(doc)} characters; {info.name} takes at most "
                f"{info.max_chars}: split or shorten it."
            )
    if top_n is not None and (
        isinstance(top_n, bool) or not isinstance(top_n, int) or not 1 <= top_n <= len(docs)
    ):
        raise InvalidRequestInputError(
            f"top_n must be an integer from 1 to the number of documents ({len(docs)}), "
            f"got {top_n!r}; None returns all."
        )
    _check_user_id(user_id)
    body: dict[str, Any] = {"model": info.name, "query": query, "documents": docs}
    if top_n is not None:
        body["top_n"] = top_n
    if return_documents:
        body["return_documents"] = True
    if user_id is not None:
        body["user_id"] = user_id
    return info, _dumps(body)


def parse_rerank(status_code: int, content: bytes, documents: int) -> RerankResponse:
    """The answer of a rerank call over ``documents`` documents."""
    body = _json_body("rerank", status_code, content)
    try:
        response = RerankResponse.model_validate(body)
    except ValidationError as exc:
        raise APIConnectionError(
            f"The rerank endpoint answered HTTP {status_code} with a body of an unexpected shape."
        ) from exc
    bad = [r.index for r in response.results if not 0 <= r.index < documents]
    if bad:
        raise APIConnectionError(
            f"The rerank endpoint answered indices {bad} for {documents} documents."
        )
    return response


def _json_body(endpoint: str, status_code: int, content: bytes) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except ValueError as exc:
        raise APIConnectionError(
            f"The {endpoint} endpoint answered HTTP {status_code} with a body that is not JSON."
        ) from exc
    if isinstance(body, dict) and body.get("error"):
        raise error_from_body(body, status_code=status_code)
    if not isinstance(body, dict):
        raise APIConnectionError(
            f"The {endpoint} endpoint answered HTTP {status_code} with JSON that is not an object."
        )
    return body
