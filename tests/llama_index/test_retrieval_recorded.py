"""A GLM-only RAG in LlamaIndex, replayed from cassettes: ``ZhipuFlashEmbedding`` builds the
index, ``ZhipuFlashRerank`` reorders what the retriever found, ``ZhipuFlash`` streams the
answer.

The cassettes were recorded against the local GLM emulator
(``pytest tests/llama_index/test_retrieval_recorded.py --glm-emulator --record-mode=rewrite``):
they prove the protocol mapping (vectors in, the recorded rerank order and scores out, the
answer from the right document), not what real models would answer. Each recorded response
says so in its ``x-cassette-source`` header. The requests must match the recorded ones, body
included, so a change to what goes on the wire fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex

from llama_index_zhipu_flash import ZhipuFlash, ZhipuFlashEmbedding, ZhipuFlashRerank
from tests.llama_index._support import SYNTHESIZERS_STREAM_TOKENS

pytestmark = [pytest.mark.vcr, pytest.mark.usefixtures("close_default_loop")]

CASSETTES = Path(__file__).parents[1] / "cassettes" / "test_retrieval_recorded"
DOCS = [
    Document(text="Expenses must be filed within 30 days of purchase, with receipts."),
    Document(text="New employees get 15 days of paid annual leave per year."),
    Document(text="Office staff may work from home on Fridays and one other day."),
    Document(text="Annual leave requests go to your team lead two weeks ahead."),
]
QUESTION = "How many days of annual leave do new employees get?"


def _models() -> tuple[ZhipuFlashEmbedding, ZhipuFlashRerank, ZhipuFlash]:
    # No base_url and no key: ZHIPUAI_BASE_URL decides (the emulator when recording), and the
    # test key set by tests/conftest.py (redacted from the cassettes) is used.
    return (
        ZhipuFlashEmbedding(dimensions=256),
        ZhipuFlashRerank(top_n=2),
        ZhipuFlash(model="glm-4.7-flash"),
    )


def _recorded_rerank(cassette: Any) -> list[tuple[str, float]]:
    """(document, score) in the order of the rerank answer in the cassette (as recorded, or
    as just recorded when re-recording)."""
    for request, response in zip(cassette.requests, cassette.responses, strict=True):
        if request.uri.endswith("/rerank"):
            sent = json.loads(request.body)
            answer = json.loads(response["body"]["string"])
            return [
                (sent["documents"][r["index"]], r["relevance_score"]) for r in answer["results"]
            ]
    raise AssertionError("no rerank request in the cassette")


def _check(response: Any, text: str, cassette: Any) -> None:
    expected = _recorded_rerank(cassette)
    assert len(expected) == 2
    assert [(n.node.get_content(), n.score) for n in response.source_nodes] == expected
    assert expected[0][0] == DOCS[1].text  # the document that answers the question
    assert DOCS[1].text in text
    assert "I will answer from it." not in text  # the reasoning stays out of the answer


def test_rag_streams_the_answer_from_the_right_document(vcr: Any) -> None:
    emb, rerank, llm = _models()
    index = VectorStoreIndex.from_documents(DOCS, embed_model=emb)
    engine = index.as_query_engine(
        llm=llm, similarity_top_k=4, node_postprocessors=[rerank], streaming=True
    )
    response = engine.query(QUESTION)
    tokens = list(response.response_gen)
    assert len(tokens) > 3 or not SYNTHESIZERS_STREAM_TOKENS  # one piece before 0.14.25
    _check(response, "".join(tokens), vcr)


async def test_rag_streams_the_answer_from_the_right_document_async(vcr: Any) -> None:
    emb, rerank, llm = _models()
    index = VectorStoreIndex([], embed_model=emb)
    await index.ainsert_nodes(list(DOCS))  # embedded in this loop (a Document is a node)
    engine = index.as_query_engine(
        llm=llm, similarity_top_k=4, node_postprocessors=[rerank], streaming=True
    )
    response = await engine.aquery(QUESTION)
    tokens = [t async for t in response.async_response_gen()]
    assert len(tokens) > 3 or not SYNTHESIZERS_STREAM_TOKENS  # one piece before 0.14.25
    for model in (emb, rerank, llm):
        await model.aclose()
    _check(response, "".join(tokens), vcr)


def test_cassettes_say_where_they_came_from() -> None:
    texts = [p.read_text(encoding="utf-8") for p in sorted(CASSETTES.glob("*.yaml"))]
    assert len(texts) == 2
    assert all("x-cassette-source" in t and "not live" in t for t in texts)
    assert not any("replay-key" in t or "Bearer" in t for t in texts)
