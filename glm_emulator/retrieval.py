"""The emulator's retrieval endpoints: ``POST {base}/embeddings`` and ``POST {base}/rerank``.

Answers are in GLM's documented shapes (docs/glm-api.md §10) and are **not** real model
output. A vector is built from hashed features of the text (lower-cased words, the character
trigrams of each word, and pairs of neighbouring Han/kana/hangul characters), signed by the
hash, and scaled to unit length: deterministic, of the asked dimension, and close for texts
that share words, so a retrieval demo over a few documents finds the one that talks about the
query. A rerank score in [0, 1] weighs mostly how many of the query's terms (words cut to
five letters, Han character pairs) a document contains, and a little the cosine of their
vectors: like a real cross-encoder it can order documents differently from the vector search
that found them, which is what a reranker is for (and what tests of one need to see).

Bad input gets GLM's error body (``{"error": {"code", "message"}}``, HTTP 400): 1211 for an
unknown model, 1210 for everything else the docs forbid (too many inputs, an input over the
per-input token limit counted as the chat answers count a prompt, a dimension the model does
not take, more than 128 documents, a text over 4,096 characters). The codes and messages of
those refusals are not captured from the live API: they are the closest documented ones.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from . import _prompt
from .logic import EMULATOR_HEADER, EmulatedResponse, error_response, json_object

__all__ = ["embed_text", "respond_embeddings", "respond_rerank", "respond_retrieval_bytes"]

#: Models and limits as documented (docs/glm-api.md §10).
_EMBEDDING_DIMENSIONS = {"embedding-3": (256, 512, 1024, 2048), "embedding-2": (1024,)}
_EMBEDDING_DEFAULT = {"embedding-3": 2048, "embedding-2": 1024}
_MAX_INPUTS = {"embedding-3": 64}
_MAX_TOKENS_PER_INPUT = {"embedding-3": 3072, "embedding-2": 512}
_MAX_TOKENS_PER_REQUEST = {"embedding-2": 8 * 1024}
_RERANK_MODELS = frozenset({"rerank"})
_MAX_DOCUMENTS = 128
_MAX_CHARS = 4096
#: The vector size rerank scores are computed on (any fixed size would do).
_SCORE_DIMENSIONS = 512
#: The share of a rerank score that comes from the query's terms found in the document.
_COVERAGE_WEIGHT = 0.7
#: Decimals kept in vectors and scores: recordings stay readable and a tenth the size.
_DECIMALS = 6

_MSG_1210 = "API 调用参数有误，请检查文档。"
_MSG_1211 = "模型不存在，请检查模型代码。"
_JSON_TYPE = "application/json; charset=utf-8"
_EPOCH = 1_767_225_600
_YEAR = 365 * 24 * 3600
_CHINA = timezone(timedelta(hours=8))

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
# Words too common to say what a text is about; without them two unrelated English sentences
# would look alike through "the" and "is".
_STOPWORDS = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "by", "do", "does", "for", "from"),
        *("has", "have", "how", "in", "is", "it", "its", "of", "on", "or", "that", "the"),
        *("this", "to", "was", "were", "what", "when", "where", "which", "who", "why"),
        *("will", "with"),
    }
)


class _Rejected(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _features(text: str) -> Iterator[tuple[str, float]]:
    lowered = text.lower()
    for word in _WORD.findall(lowered):
        cjk = [c for c in word if _CJK.match(c)]
        if cjk:
            # Han text has no spaces: single characters and neighbouring pairs stand in for
            # words.
            for c in cjk:
                yield "c:" + c, 0.5
            for a, b in itertools.pairwise(cjk):
                yield "b:" + a + b, 1.0
            word = "".join(c for c in word if not _CJK.match(c))
            if not word:
                continue
        if word in _STOPWORDS:
            continue
        yield "w:" + word, 1.0
        padded = f"<{word}>"
        for i in range(len(padded) - 2):
            yield "t:" + padded[i : i + 3], 0.3


def embed_text(text: str, dimensions: int) -> list[float]:
    """The emulator's unit vector for ``text`` (see the module docstring)."""
    vector = [0.0] * dimensions
    found = False
    for feature, weight in _features(text):
        found = True
        digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
        vector[digest % dimensions] += weight if (digest >> 40) & 1 else -weight
    if not found:  # punctuation only: still a unit vector, the text's own
        digest = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
        vector[digest % dimensions] = 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [round(x / norm, _DECIMALS) for x in vector]


def _tokens(text: str) -> int:
    return max(1, _prompt.count_tokens(text))


def _headers() -> dict[str, str]:
    return {"Content-Type": _JSON_TYPE, EMULATOR_HEADER[0]: EMULATOR_HEADER[1]}


def _bad(message: str) -> _Rejected:
    return _Rejected(400, "1210", _MSG_1210 + message)


def _terms(text: str) -> set[str]:
    """The rerank score's terms: words cut to five letters (a crude stem: "hunts" and
    "hunting" meet), stopwords left out, and neighbouring Han/kana/hangul pairs."""
    terms: set[str] = set()
    for feature, _ in _features(text):
        kind, _, value = feature.partition(":")
        if kind == "w":
            terms.add(value[:5])
        elif kind == "b":
            terms.add(value)
    return terms


def respond_embeddings(body: dict[str, Any]) -> EmulatedResponse:
    """What ``POST {base}/embeddings`` answers for the parsed JSON ``body``."""
    try:
        model, texts, dimensions = _check_embeddings(body)
    except _Rejected as rejected:
        return error_response(rejected.status, rejected.code, rejected.message)
    data = [
        {"embedding": embed_text(text, dimensions), "index": i, "object": "embedding"}
        for i, text in enumerate(texts)
    ]
    tokens = sum(_tokens(t) for t in texts)
    result = {
        "data": data,
        "model": model,
        "object": "list",
        "usage": {"completion_tokens": 0, "prompt_tokens": tokens, "total_tokens": tokens},
    }
    return EmulatedResponse(200, _headers(), body=result)


def _check_embeddings(body: dict[str, Any]) -> tuple[str, list[str], int]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("model must be a non-empty string.")
    if model not in _EMBEDDING_DIMENSIONS:
        raise _Rejected(400, "1211", _MSG_1211)
    raw = body.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts:
        raise _bad("input must be a non-empty string or array of strings.")
    limit = _MAX_INPUTS.get(model)
    if limit is not None and len(texts) > limit:
        raise _bad(f"input has {len(texts)} items; {model} takes at most {limit}.")
    per_input = _MAX_TOKENS_PER_INPUT[model]
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise _bad(f"input[{i}] must be a non-empty string.")
        if _tokens(text) > per_input:
            raise _bad(f"input[{i}] is over {per_input} tokens.")
    budget = _MAX_TOKENS_PER_REQUEST.get(model)
    if budget is not None and sum(_tokens(t) for t in texts) > budget:
        raise _bad(f"input is over {budget} tokens in total.")
    dimensions = body.get("dimensions", _EMBEDDING_DEFAULT[model])
    if isinstance(dimensions, bool) or dimensions not in _EMBEDDING_DIMENSIONS[model]:
        raise _bad(f"dimensions {dimensions!r} is not supported by {model}.")
    return model, texts, dimensions


def respond_rerank(body: dict[str, Any]) -> EmulatedResponse:
    """What ``POST {base}/rerank`` answers for the parsed JSON ``body``."""
    try:
        query, documents, top_n = _check_rerank(body)
    except _Rejected as rejected:
        return error_response(rejected.status, rejected.code, rejected.message)
    q = embed_text(query, _SCORE_DIMENSIONS)
    wanted = _terms(query)
    scored = []
    for i, doc in enumerate(documents):
        d = embed_text(doc, _SCORE_DIMENSIONS)
        cosine = sum(a * b for a, b in zip(q, d, strict=True))
        coverage = len(wanted & _terms(doc)) / len(wanted) if wanted else 0.0
        score = _COVERAGE_WEIGHT * coverage + (1 - _COVERAGE_WEIGHT) * (1 + cosine) / 2
        scored.append((round(score, _DECIMALS), i))
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    results = []
    for score, i in scored[: top_n or None]:
        result: dict[str, Any] = {"index": i, "relevance_score": score}
        if body.get("return_documents") is True:
            result = {"document": documents[i], **result}
        results.append(result)
    digest = hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    created = _EPOCH + int(digest[16:24], 16) % _YEAR
    response_id = datetime.fromtimestamp(created, _CHINA).strftime("%Y%m%d%H%M%S") + digest[:16]
    request_id = body.get("request_id")
    tokens = _tokens(query) + sum(_tokens(doc) for doc in documents)
    answer = {
        "created": created,
        "id": response_id,
        "request_id": request_id if isinstance(request_id, str) else response_id,
        "results": results,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return EmulatedResponse(200, _headers(), body=answer)


def _check_rerank(body: dict[str, Any]) -> tuple[str, list[str], int]:
    model = body.get("model", "rerank")
    if model not in _RERANK_MODELS:
        raise _Rejected(400, "1211", _MSG_1211)
    query = body.get("query")
    if not isinstance(query, str) or not query:
        raise _bad("query must be a non-empty string.")
    if len(query) > _MAX_CHARS:
        raise _bad(f"query is over {_MAX_CHARS} characters.")
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        raise _bad("documents must be a non-empty array of strings.")
    if len(documents) > _MAX_DOCUMENTS:
        raise _bad(f"documents has {len(documents)} items; at most {_MAX_DOCUMENTS}.")
    for i, doc in enumerate(documents):
        if not isinstance(doc, str):
            raise _bad(f"documents[{i}] must be a string.")
        if len(doc) > _MAX_CHARS:
            raise _bad(f"documents[{i}] is over {_MAX_CHARS} characters.")
    top_n = body.get("top_n", 0)
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 0:
        raise _bad("top_n must be a non-negative integer.")
    return query, documents, top_n


def respond_retrieval_bytes(raw: bytes, endpoint: str) -> EmulatedResponse:
    """:func:`respond_embeddings` (``endpoint="embeddings"``) or :func:`respond_rerank`
    (``"rerank"``) for a raw request body; a body that is not a JSON object gets 1210."""
    body = json_object(raw)
    if isinstance(body, EmulatedResponse):
        return body
    return respond_embeddings(body) if endpoint == "embeddings" else respond_rerank(body)
