"""Retrieval with GLM alone inside LlamaIndex, end to end and offline.

``VectorStoreIndex`` built with ``ZhipuFlashEmbedding`` (directly, through
``Settings.embed_model``, with ``use_async``), ``IngestionPipeline`` with the embedding as a
transformation, query and chat engines with ``ZhipuFlashRerank`` as a node postprocessor and
``ZhipuFlash`` answering, streamed and not, sync and async. Requests go to the GLM emulator on
loopback: GLM's wire shapes, answers that are not model output (its vectors are hashed word
features, close for texts that share words; it answers a question over context with the
context sentence that shares most words with it). What is checked is that the right document
is retrieved, reranked and answered from, and what went on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import MetadataMode

from glm_emulator.retrieval import embed_text, respond_rerank
from glm_emulator.server import EmulatorHTTPServer
from llama_index_zhipu_flash import ZhipuFlash, ZhipuFlashEmbedding, ZhipuFlashRerank
from tests.llama_index._support import SYNTHESIZERS_STREAM_TOKENS

KEY = "test-id.test-secret"
DOCS = [
    Document(
        text="Expenses must be filed within 30 days of purchase, with receipts.", id_="expenses"
    ),
    Document(text="New employees get 15 days of paid annual leave per year.", id_="annual_leave"),
    Document(text="Office staff may work from home on Fridays.", id_="remote_work"),
]
QUESTION = "How many days of annual leave do new employees get?"
RIGHT = DOCS[1]
# The emulator's reasoning over a question with context ends with this sentence.
REASONING_MARK = "I will answer from it."

pytestmark = pytest.mark.usefixtures("close_default_loop")


@pytest.fixture
def llm(emulator: EmulatorHTTPServer) -> ZhipuFlash:
    return ZhipuFlash(model="glm-4.7-flash", base_url=emulator.base_url, api_key=KEY)


@pytest.fixture
def emb(emulator: EmulatorHTTPServer) -> ZhipuFlashEmbedding:
    return ZhipuFlashEmbedding(dimensions=256, base_url=emulator.base_url, api_key=KEY)


@pytest.fixture
def rerank(emulator: EmulatorHTTPServer) -> ZhipuFlashRerank:
    return ZhipuFlashRerank(top_n=2, base_url=emulator.base_url, api_key=KEY)


@pytest.fixture
def settings_embed_model() -> Iterator[None]:
    previous = Settings._embed_model
    try:
        yield
    finally:
        Settings._embed_model = previous


def _texts(response: Any) -> str:
    if isinstance(response, StreamingResponse):
        tokens = list(response.response_gen)
        # streamed, not handed over in one piece (llama-index-core >= 0.14.25 streams a
        # compact answer token by token; before, in one piece)
        assert len(tokens) > 3 or not SYNTHESIZERS_STREAM_TOKENS
        return "".join(tokens)
    assert isinstance(response, Response)
    return str(response)


async def _atext(response: Any) -> str:
    # AsyncStreamingResponse on newer llama-index-core, StreamingResponse before.
    if isinstance(response, Response):
        return str(response)
    tokens = [t async for t in response.async_response_gen()]
    assert len(tokens) > 3 or not SYNTHESIZERS_STREAM_TOKENS  # one piece before 0.14.25
    return "".join(tokens)


def _prompt(emulator: EmulatorHTTPServer) -> str:
    (body,) = emulator.bodies("chat/completions")
    assert body["stream"] is True
    return "\n".join(str(m["content"]) for m in body["messages"])


def _check_answer(text: str, emulator: EmulatorHTTPServer, context: list[Document]) -> None:
    assert RIGHT.text in text
    assert REASONING_MARK not in text  # the reasoning stays out of the answer
    prompt = _prompt(emulator)
    for doc in DOCS:
        assert (doc.text in prompt) is (doc in context)


def _embedded(emulator: EmulatorHTTPServer) -> list[list[str]]:
    bodies = emulator.bodies("embeddings")
    assert all(b["model"] == "embedding-3" and b["dimensions"] == 256 for b in bodies)
    return [b["input"] for b in bodies]


# -- VectorStoreIndex + query engine ----------------------------------------------------------


async def _aindex(emb: ZhipuFlashEmbedding) -> VectorStoreIndex:
    """An index embedded in the running loop. (``from_documents(use_async=True)`` inside a
    running loop would run LlamaIndex's ``asyncio_run`` on a private loop that it closes
    without ``shutdown_asyncgens``, leaving that loop's connections to the garbage collector.)"""
    index = VectorStoreIndex([], embed_model=emb)
    await index.ainsert_nodes(SentenceSplitter().get_nodes_from_documents(DOCS))
    return index


@pytest.mark.parametrize("use_async", [False, True], ids=["sync-embed", "async-embed"])
@pytest.mark.parametrize("streaming", [False, True], ids=["query", "streaming"])
def test_vector_index_answers_from_the_right_document(
    emulator: EmulatorHTTPServer,
    llm: ZhipuFlash,
    emb: ZhipuFlashEmbedding,
    streaming: bool,
    use_async: bool,
) -> None:
    index = VectorStoreIndex.from_documents(DOCS, embed_model=emb, use_async=use_async)
    engine = index.as_query_engine(llm=llm, similarity_top_k=1, streaming=streaming)
    response = engine.query(QUESTION)
    _check_answer(_texts(response), emulator, [RIGHT])
    assert [n.node.ref_doc_id for n in response.source_nodes] == ["annual_leave"]
    # One request for the three documents (one LlamaIndex batch), one for the question.
    assert _embedded(emulator) == [[d.text for d in DOCS], [QUESTION]]


@pytest.mark.parametrize("streaming", [False, True], ids=["query", "streaming"])
async def test_vector_index_answers_from_the_right_document_async(
    emulator: EmulatorHTTPServer, llm: ZhipuFlash, emb: ZhipuFlashEmbedding, streaming: bool
) -> None:
    index = await _aindex(emb)
    engine = index.as_query_engine(llm=llm, similarity_top_k=1, streaming=streaming)
    response = await engine.aquery(QUESTION)
    _check_answer(await _atext(response), emulator, [RIGHT])
    assert [n.node.ref_doc_id for n in response.source_nodes] == ["annual_leave"]
    assert _embedded(emulator) == [[d.text for d in DOCS], [QUESTION]]
    await asyncio.gather(llm.aclose(), emb.aclose())


def test_the_stored_vectors_are_glms(
    emulator: EmulatorHTTPServer, emb: ZhipuFlashEmbedding
) -> None:
    index = VectorStoreIndex.from_documents(DOCS, embed_model=emb)
    stored = index.vector_store.to_dict()["embedding_dict"]
    nodes = index.docstore.docs
    assert {
        nodes[node_id].get_content(metadata_mode=MetadataMode.EMBED): vector
        for node_id, vector in stored.items()
    } == {d.text: embed_text(d.text, 256) for d in DOCS}


def test_settings_embed_model(
    emulator: EmulatorHTTPServer, llm: ZhipuFlash, settings_embed_model: None
) -> None:
    Settings.embed_model = ZhipuFlashEmbedding(
        dimensions=256, base_url=emulator.base_url, api_key=KEY
    )
    index = VectorStoreIndex.from_documents(DOCS)  # no embed_model: Settings' is used
    nodes = index.as_retriever(similarity_top_k=1).retrieve(QUESTION)
    assert [n.node.ref_doc_id for n in nodes] == ["annual_leave"]
    assert _embedded(emulator) == [[d.text for d in DOCS], [QUESTION]]


# -- IngestionPipeline -------------------------------------------------------------------------


def _pipeline(emb: ZhipuFlashEmbedding) -> IngestionPipeline:
    return IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=0), emb]
    )


def _check_ingested(nodes: Any, emulator: EmulatorHTTPServer) -> None:
    assert len(nodes) == 3
    for node in nodes:
        assert node.embedding == embed_text(node.get_content(metadata_mode=MetadataMode.EMBED), 256)
    (inputs,) = _embedded(emulator)
    assert inputs == [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]


def test_ingestion_pipeline(emulator: EmulatorHTTPServer, emb: ZhipuFlashEmbedding) -> None:
    _check_ingested(_pipeline(emb).run(documents=DOCS), emulator)


async def test_ingestion_pipeline_async(
    emulator: EmulatorHTTPServer, emb: ZhipuFlashEmbedding
) -> None:
    _check_ingested(await _pipeline(emb).arun(documents=DOCS), emulator)
    await emb.aclose()


def test_an_index_over_ingested_nodes(
    emulator: EmulatorHTTPServer, llm: ZhipuFlash, emb: ZhipuFlashEmbedding
) -> None:
    nodes = _pipeline(emb).run(documents=DOCS)
    index = VectorStoreIndex(nodes, embed_model=emb)  # the nodes carry their vectors already
    response = index.as_query_engine(llm=llm, similarity_top_k=1).query(QUESTION)
    _check_answer(str(response), emulator, [RIGHT])
    assert _embedded(emulator) == [[d.text for d in DOCS], [QUESTION]]


# -- the reranker in engines ---------------------------------------------------------------


def _reranked(emulator: EmulatorHTTPServer) -> list[tuple[str, float]]:
    """(text, score) of the two best documents, from the emulator's answer to the rerank
    request that was sent: the order the scores say."""
    (body,) = emulator.bodies("rerank")
    assert (body["model"], body["query"], body["top_n"]) == ("rerank", QUESTION, 2)
    assert sorted(body["documents"]) == sorted(d.text for d in DOCS)
    answer = respond_rerank(body).body
    assert isinstance(answer, dict)
    return [(body["documents"][r["index"]], r["relevance_score"]) for r in answer["results"]]


@pytest.mark.parametrize("streaming", [False, True], ids=["query", "streaming"])
def test_reranked_query_engine(
    emulator: EmulatorHTTPServer,
    llm: ZhipuFlash,
    emb: ZhipuFlashEmbedding,
    rerank: ZhipuFlashRerank,
    streaming: bool,
) -> None:
    index = VectorStoreIndex.from_documents(DOCS, embed_model=emb)
    engine = index.as_query_engine(
        llm=llm, similarity_top_k=3, node_postprocessors=[rerank], streaming=streaming
    )
    response = engine.query(QUESTION)
    text = _texts(response)
    expected = _reranked(emulator)
    assert [(n.node.get_content(), n.score) for n in response.source_nodes] == expected
    assert expected[0][0] == RIGHT.text
    _check_answer(text, emulator, [d for d in DOCS if d.text in dict(expected)])


@pytest.mark.parametrize("streaming", [False, True], ids=["query", "streaming"])
async def test_reranked_query_engine_async(
    emulator: EmulatorHTTPServer,
    llm: ZhipuFlash,
    emb: ZhipuFlashEmbedding,
    rerank: ZhipuFlashRerank,
    streaming: bool,
) -> None:
    index = await _aindex(emb)
    engine = index.as_query_engine(
        llm=llm, similarity_top_k=3, node_postprocessors=[rerank], streaming=streaming
    )
    response = await engine.aquery(QUESTION)
    text = await _atext(response)
    expected = _reranked(emulator)
    assert [(n.node.get_content(), n.score) for n in response.source_nodes] == expected
    _check_answer(text, emulator, [d for d in DOCS if d.text in dict(expected)])
    await asyncio.gather(llm.aclose(), emb.aclose(), rerank.aclose())


def test_reranked_context_chat_engine(
    emulator: EmulatorHTTPServer,
    llm: ZhipuFlash,
    emb: ZhipuFlashEmbedding,
    rerank: ZhipuFlashRerank,
) -> None:
    index = VectorStoreIndex.from_documents(DOCS, embed_model=emb)
    chat = index.as_chat_engine(
        chat_mode="context",
        llm=llm,
        similarity_top_k=3,
        node_postprocessors=[rerank],
        # The default Memory keeps an aiosqlite database that LlamaIndex never closes.
        memory=ChatMemoryBuffer.from_defaults(token_limit=4000),
    )
    response = chat.stream_chat(QUESTION)
    text = "".join(response.response_gen)
    expected = _reranked(emulator)
    assert [(n.node.get_content(), n.score) for n in response.source_nodes] == expected
    assert RIGHT.text in text
