"""The emulator's /embeddings and /rerank: GLM's documented shapes and refusals, vectors that
are deterministic unit vectors of the asked size and close for related texts, and the label
that says none of it is real model output."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest

from glm_emulator.logic import EMULATOR_HEADER
from glm_emulator.retrieval import (
    embed_text,
    respond_embeddings,
    respond_rerank,
    respond_retrieval_bytes,
)
from glm_emulator.server import serving_emulator


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_embeddings_answer_in_glms_shape() -> None:
    response = respond_embeddings({"model": "embedding-3", "input": ["a cat", "a dog"]})
    assert response.status == 200
    assert response.headers[EMULATOR_HEADER[0]] == EMULATOR_HEADER[1]
    body = response.body
    assert body is not None
    assert list(body) == ["data", "model", "object", "usage"]
    assert body["model"] == "embedding-3" and body["object"] == "list"
    assert [(d["index"], d["object"]) for d in body["data"]] == [(0, "embedding"), (1, "embedding")]
    assert all(len(d["embedding"]) == 2048 for d in body["data"])
    usage = body["usage"]
    assert usage["completion_tokens"] == 0
    assert usage["prompt_tokens"] == usage["total_tokens"] > 0


@pytest.mark.parametrize(("model", "dimensions"), [("embedding-3", 256), ("embedding-2", 1024)])
def test_vectors_are_unit_length_of_the_asked_size_and_deterministic(
    model: str, dimensions: int
) -> None:
    body = {"model": model, "input": "Hello, world", "dimensions": dimensions}
    first = respond_embeddings(body).payload()
    assert first == respond_embeddings(body).payload()
    vector = json.loads(first)["data"][0]["embedding"]
    assert len(vector) == dimensions
    assert math.isclose(math.sqrt(sum(x * x for x in vector)), 1.0, abs_tol=1e-4)


def test_related_texts_are_closer_than_unrelated_ones() -> None:
    query = embed_text("How long do cats sleep?", 512)
    cats = embed_text("Cats sleep about sixteen hours a day.", 512)
    market = embed_text("The stock market fell on Monday.", 512)
    assert cosine(query, cats) > cosine(query, market) + 0.2
    chinese = embed_text("猫每天睡很久", 512)
    assert cosine(chinese, embed_text("猫睡觉的时间很长", 512)) > cosine(
        chinese, embed_text("股票市场下跌", 512)
    )
    # Punctuation alone still gets a unit vector.
    assert math.isclose(sum(x * x for x in embed_text("!!!", 256)), 1.0, abs_tol=1e-4)


@pytest.mark.parametrize(
    ("body", "code", "phrase"),
    [
        ({"model": "embedding-9", "input": "x"}, "1211", "模型不存在"),
        ({"model": "embedding-3", "input": ["x"] * 65}, "1210", "at most 64"),
        ({"model": "embedding-3", "input": []}, "1210", "non-empty"),
        ({"model": "embedding-3", "input": ["ok", ""]}, "1210", "input[1]"),
        ({"model": "embedding-3", "input": "x", "dimensions": 300}, "1210", "dimensions"),
        ({"model": "embedding-2", "input": "x", "dimensions": 256}, "1210", "dimensions"),
        ({"model": "embedding-2", "input": "word " * 600}, "1210", "over 512 tokens"),
        ({"model": "embedding-2", "input": ["word " * 500] * 20}, "1210", "8192 tokens in total"),
    ],
)
def test_embedding_refusals_are_glm_error_bodies(
    body: dict[str, Any], code: str, phrase: str
) -> None:
    response = respond_embeddings(body)
    assert response.status == 400
    assert response.body is not None
    assert response.body["error"]["code"] == code
    assert phrase in response.body["error"]["message"]


def test_rerank_scores_sorted_with_top_n_and_documents() -> None:
    documents = ["stock prices fell", "cats hunt mice at night", "tomato soup recipe"]
    body = {"model": "rerank", "query": "what do cats hunt", "documents": documents}
    full = respond_rerank(body).body
    assert full is not None
    assert list(full) == ["created", "id", "request_id", "results", "usage"]
    assert full["results"][0]["index"] == 1
    scores = [r["relevance_score"] for r in full["results"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert sorted(r["index"] for r in full["results"]) == [0, 1, 2]
    assert all("document" not in r for r in full["results"])
    top = respond_rerank({**body, "top_n": 1, "return_documents": True}).body
    assert top is not None
    assert top["results"] == [{"document": documents[1], **full["results"][0]}]
    assert top["usage"]["prompt_tokens"] == top["usage"]["total_tokens"] > 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"model": "rerank-9", "query": "q", "documents": ["d"]}, "1211"),
        ({"query": "", "documents": ["d"]}, "1210"),
        ({"query": "q", "documents": []}, "1210"),
        ({"query": "q", "documents": ["d"] * 129}, "1210"),
        ({"query": "q" * 4097, "documents": ["d"]}, "1210"),
        ({"query": "q", "documents": ["d" * 4097]}, "1210"),
        ({"query": "q", "documents": [1]}, "1210"),
        ({"query": "q", "documents": ["d"], "top_n": -1}, "1210"),
    ],
)
def test_rerank_refusals_are_glm_error_bodies(body: dict[str, Any], code: str) -> None:
    response = respond_rerank(body)
    assert response.status == 400
    assert response.body is not None and response.body["error"]["code"] == code


def test_a_body_that_is_not_a_json_object_is_1210() -> None:
    for raw in (b"{", b"[]"):
        for endpoint in ("embeddings", "rerank"):
            response = respond_retrieval_bytes(raw, endpoint)
            assert response.status == 400
            assert response.body is not None and response.body["error"]["code"] == "1210"


def test_the_server_routes_both_endpoints_and_labels_them() -> None:
    with serving_emulator() as server:
        headers = {"Authorization": "Bearer k"}
        embedded = httpx.post(
            f"{server.base_url}/embeddings",
            json={"model": "embedding-3", "input": "hi", "dimensions": 256},
            headers=headers,
        )
        ranked = httpx.post(
            f"{server.base_url}/rerank", json={"query": "q", "documents": ["d"]}, headers=headers
        )
        denied = httpx.post(f"{server.base_url}/rerank", json={"query": "q", "documents": ["d"]})
        assert server.bodies("embeddings") == [
            {"model": "embedding-3", "input": "hi", "dimensions": 256}
        ]
        assert len(server.bodies("rerank")) == 2
    assert embedded.status_code == ranked.status_code == 200
    assert embedded.headers[EMULATOR_HEADER[0]] == EMULATOR_HEADER[1]
    assert ranked.headers[EMULATOR_HEADER[0]] == EMULATOR_HEADER[1]
    assert len(embedded.json()["data"][0]["embedding"]) == 256
    assert denied.status_code == 401
