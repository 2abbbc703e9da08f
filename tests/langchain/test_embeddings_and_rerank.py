"""ZhipuFlashEmbeddings and ZhipuFlashRerank: configuration, batching, errors, secrets, sync
and async, against the emulator; and a ContextualCompressionRetriever over an
InMemoryVectorStore replayed from cassettes (tests/cassettes/test_embeddings_and_rerank/,
recorded against the emulator with ``--glm-emulator --record-mode=rewrite``: the scores are
the emulator's, not GLM's; the test proves the mapping and the order, not the quality)."""

from __future__ import annotations

import asyncio
import copy
import json
import pickle
from typing import Any

import httpx
import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.exceptions import ModelInvalidRequestError, ModelRateLimitError
from langchain_core.vectorstores import InMemoryVectorStore

import zhipu_flash as zf
from glm_emulator.server import serving_emulator
from langchain_zhipu_flash import (
    ZhipuFlashEmbeddings,
    ZhipuFlashInvalidInputError,
    ZhipuFlashRateLimitError,
    ZhipuFlashRerank,
)
from tests.langchain._helpers import SECRET

DOCUMENTS = [
    Document("Cats sleep for most of the day and hunt small animals at night.", id="cats"),
    # Close to the query by its vector (cats, cats, cats) but not about hunting: the vector
    # search ranks it above "owls", the reranker below (see _check_order).
    Document("Cats, cats, cats: the cat cafe has cats.", id="cafe"),
    Document("Owls hunt prey animals in the dark forest.", id="owls"),
    Document("The Eiffel Tower in Paris was finished in 1889.", id="paris"),
    Document("Tomato soup needs tomatoes, onions, garlic and basil.", id="soup"),
    Document("Dogs are loyal animals and love long walks.", id="dogs", metadata={"n": 4}),
    Document("GLM embedding-3 turns text into vectors for retrieval.", id="glm"),
    Document("The stock market fell sharply on Monday morning.", id="stocks"),
]
QUERY = "When do cats hunt animals?"


# --- ZhipuFlashEmbeddings ------------------------------------------------------------------


def test_embeddings_fields_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIPUAI_API_KEY", SECRET)
    embeddings = ZhipuFlashEmbeddings(request_timeout=5, max_concurrency=2)
    assert embeddings.model == "embedding-3"
    assert embeddings.dimensions is None
    assert embeddings.timeout == 5
    assert embeddings.max_retries == 2
    assert embeddings.max_concurrency == 2
    assert embeddings.api_key is not None
    assert embeddings.api_key.get_secret_value() == SECRET
    assert SECRET not in repr(embeddings) and SECRET not in str(embeddings.model_dump())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dimensions": 300}, "takes 256, 512, 1024, 2048"),
        ({"model": "embedding-2", "dimensions": 256}, "takes 1024"),
        ({"dimension": 256}, "'dimension' \\(did you mean 'dimensions'\\?\\)"),
        ({"max_concurrency": 0}, "greater than or equal to 1"),
    ],
)
def test_embeddings_refuse_bad_settings_at_construction(kwargs: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ZhipuFlashEmbeddings(**kwargs)


def test_embed_documents_batches_and_keeps_order_sync_and_async() -> None:
    texts = [f"text about topic {i}" for i in range(65)]
    with serving_emulator() as server:
        embeddings = ZhipuFlashEmbeddings(base_url=server.base_url, dimensions=256)
        vectors = embeddings.embed_documents(texts)
        avectors = asyncio.run(embeddings.aembed_documents(texts))
        query = embeddings.embed_query(texts[64])
        aquery = asyncio.run(embeddings.aembed_query(texts[64]))
        bodies = server.bodies("embeddings")
        embeddings.close()
    sizes = [len(b["input"]) for b in bodies]
    # Sync batches go in order; the async two run at once and may arrive either way round.
    assert sizes[:2] == [64, 1] and sorted(sizes[2:4]) == [1, 64] and sizes[4:] == [1, 1]
    assert all(b == {**b, "model": "embedding-3", "dimensions": 256} for b in bodies)
    assert vectors == avectors
    assert len(vectors) == 65 and all(len(v) == 256 for v in vectors)
    assert query == aquery == vectors[64]
    assert vectors[0] != vectors[1]


def test_an_empty_list_sends_nothing() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    embeddings = ZhipuFlashEmbeddings(
        http_client=httpx.Client(transport=httpx.MockTransport(fail)),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(fail)),
    )
    assert embeddings.embed_documents([]) == []
    assert asyncio.run(embeddings.aembed_documents([])) == []


def test_bad_texts_are_refused_before_sending_as_langchain_errors() -> None:
    with serving_emulator() as server:
        embeddings = ZhipuFlashEmbeddings(base_url=server.base_url)
        with pytest.raises(ZhipuFlashInvalidInputError, match=r"input\[1\] is empty") as caught:
            embeddings.embed_documents(["fine", " "])
        assert isinstance(caught.value, ModelInvalidRequestError)
        assert isinstance(caught.value, zf.InvalidRequestInputError)
        with pytest.raises(ZhipuFlashInvalidInputError, match=r"input\[0\] is empty"):
            asyncio.run(embeddings.aembed_query(""))
        assert server.bodies("embeddings") == []


def test_api_errors_are_translated_and_retried_by_code() -> None:
    answers = iter(
        [
            httpx.Response(429, json={"error": {"code": "1302", "message": "busy"}}),
            httpx.Response(429, json={"error": {"code": "1302", "message": "busy"}}),
        ]
    )
    seen: list[str | None] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return next(answers)

    embeddings = ZhipuFlashEmbeddings(
        api_key=SECRET,
        max_retries=1,
        http_client=httpx.Client(transport=httpx.MockTransport(respond)),
    )
    embeddings._sync_client()._sleep = lambda s: None  # type: ignore[method-assign]
    with pytest.raises(ZhipuFlashRateLimitError) as caught:
        embeddings.embed_query("hi")
    assert isinstance(caught.value, ModelRateLimitError)
    assert caught.value.code == "1302"
    assert "inputs 0 to 0 of the 1 given" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert seen == [f"Bearer {SECRET}"] * 2


def test_async_batches_respect_max_concurrency() -> None:
    texts = [f"t {i}" for i in range(64 * 5)]
    with serving_emulator(hold=5, hold_timeout=0.5) as server:
        embeddings = ZhipuFlashEmbeddings(
            base_url=server.base_url, dimensions=256, max_concurrency=2
        )
        vectors = asyncio.run(embeddings.aembed_documents(texts))
        peak = server.peak_in_flight
    assert peak == 2
    assert len(vectors) == len(texts)


def test_copies_and_pickles_carry_no_clients_and_use_new_settings() -> None:
    with serving_emulator() as old, serving_emulator() as new:
        embeddings = ZhipuFlashEmbeddings(base_url=old.base_url, dimensions=256)
        embeddings.embed_query("a")
        moved = embeddings.model_copy(update={"base_url": new.base_url})
        moved.embed_query("b")
        clones = [copy.deepcopy(embeddings), pickle.loads(pickle.dumps(embeddings))]  # noqa: S301
        for clone in clones:
            assert clone.embed_query("c") == embeddings.embed_query("c")
        assert len(old.bodies("embeddings")) == 5
        assert len(new.bodies("embeddings")) == 1
        for model in (embeddings, moved):
            model.close()


def test_deep_copies_share_injected_http_clients() -> None:
    # A pool (its locks and sockets) is not configuration: a deep copy (LangChain makes them,
    # e.g. with_config on some paths) uses the caller's clients, as ChatZhipuFlash does.
    with serving_emulator() as server, httpx.Client() as sync_http:
        async_http = httpx.AsyncClient()
        embeddings = ZhipuFlashEmbeddings(
            base_url=server.base_url,
            dimensions=256,
            http_client=sync_http,
            async_http_client=async_http,
        )
        clone = copy.deepcopy(embeddings)
        assert clone.http_client is sync_http
        assert clone.async_http_client is async_http
        assert clone.embed_query("c") == embeddings.embed_query("c")
        asyncio.run(async_http.aclose())


# --- ZhipuFlashRerank ----------------------------------------------------------------------


def test_rerank_keeps_top_n_with_scores_and_leaves_the_originals_alone() -> None:
    with serving_emulator() as server:
        reranker = ZhipuFlashRerank(base_url=server.base_url, top_n=2)
        ranked = reranker.compress_documents(DOCUMENTS, QUERY)
        aranked = asyncio.run(reranker.acompress_documents(DOCUMENTS, QUERY))
        sent = server.bodies("rerank")
        reranker.close()
    assert sent[0] == {
        "model": "rerank",
        "query": QUERY,
        "documents": [d.page_content for d in DOCUMENTS],
        "top_n": 2,
    }
    assert sent[1] == sent[0]
    assert [d.id for d in ranked] == [d.id for d in aranked]
    assert ranked[0].id == "cats"
    scores = [d.metadata["relevance_score"] for d in ranked]
    assert len(ranked) == 2 and scores == sorted(scores, reverse=True)
    assert all("relevance_score" not in d.metadata for d in DOCUMENTS)


def test_rerank_top_n_none_keeps_all_and_fewer_documents_than_top_n_are_fine() -> None:
    with serving_emulator() as server:
        everything = ZhipuFlashRerank(base_url=server.base_url, top_n=None)
        assert len(everything.compress_documents(DOCUMENTS, QUERY)) == len(DOCUMENTS)
        three = ZhipuFlashRerank(base_url=server.base_url)
        kept = three.compress_documents(DOCUMENTS[:2], QUERY)
        assert [d.id for d in kept] == ["cats", "cafe"]
        assert kept[1].metadata == {"relevance_score": kept[1].metadata["relevance_score"]}
        assert three.compress_documents([], QUERY) == []
        assert asyncio.run(three.acompress_documents([], QUERY)) == []
        bodies = server.bodies("rerank")
        everything.close()
        three.close()
    assert "top_n" not in bodies[0]
    assert bodies[1]["top_n"] == 2


def test_rerank_refuses_bad_input_with_langchain_errors() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        ZhipuFlashRerank(top_n=0)
    reranker = ZhipuFlashRerank(api_key=SECRET)
    too_many = [Document(f"doc {i}") for i in range(129)]
    with pytest.raises(ZhipuFlashInvalidInputError, match="129 documents given") as caught:
        reranker.compress_documents(too_many, QUERY)
    assert isinstance(caught.value, ModelInvalidRequestError)
    with pytest.raises(ZhipuFlashInvalidInputError, match="query must be a non-empty"):
        asyncio.run(reranker.acompress_documents(DOCUMENTS, ""))


# --- the retriever, on recordings ----------------------------------------------------------


def _store(embeddings: ZhipuFlashEmbeddings) -> InMemoryVectorStore:
    store = InMemoryVectorStore(embeddings)
    store.add_documents(DOCUMENTS)
    return store


def _recorded_rerank(cassette: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """The documents sent to /rerank and the results answered, as the cassette holds them
    (loaded from its file on replay, just captured when recording)."""
    for request, response in cassette.data:
        if request.uri.endswith("/rerank"):
            answer = json.loads(response["body"]["string"])
            return json.loads(request.body)["documents"], answer["results"]
    raise AssertionError("no rerank request in the cassette")


def _check_order(docs: list[Document], found: list[Document], cassette: Any) -> None:
    sent, results = _recorded_rerank(cassette)
    # The reranker was given what the vector search found, in its order, and reordered it:
    # a compressor that kept the search's order would fail here.
    assert sent == [d.page_content for d in found]
    assert [d.id for d in found[:3]] == ["cats", "cafe", "owls"]
    assert [d.id for d in docs] == ["cats", "owls", "cafe"]
    # The retriever's answer is exactly the recorded ranking: documents and scores.
    assert [d.page_content for d in docs] == [sent[r["index"]] for r in results]
    assert [d.metadata["relevance_score"] for d in docs] == [r["relevance_score"] for r in results]


@pytest.mark.vcr
def test_contextual_compression_retriever_returns_the_recorded_order(vcr: Any) -> None:
    embeddings = ZhipuFlashEmbeddings(dimensions=256, max_retries=0)
    base = _store(embeddings).as_retriever(search_kwargs={"k": 5})
    retriever = ContextualCompressionRetriever(
        base_compressor=ZhipuFlashRerank(top_n=3, max_retries=0), base_retriever=base
    )
    docs = retriever.invoke(QUERY)
    _check_order(list(docs), base.invoke(QUERY), vcr)


@pytest.mark.vcr
async def test_contextual_compression_retriever_async(vcr: Any) -> None:
    embeddings = ZhipuFlashEmbeddings(dimensions=256, max_retries=0)
    store = InMemoryVectorStore(embeddings)
    await store.aadd_documents(DOCUMENTS)
    base = store.as_retriever(search_kwargs={"k": 5})
    retriever = ContextualCompressionRetriever(
        base_compressor=ZhipuFlashRerank(top_n=3, max_retries=0), base_retriever=base
    )
    docs = await retriever.ainvoke(QUERY)
    _check_order(list(docs), await base.ainvoke(QUERY), vcr)


def test_unknown_model_names_are_sent_as_given_and_glm_decides() -> None:
    # Issue 23: a name the catalog does not know (a third-party catalog lists glm-rerank) is
    # not refused locally; GLM (here the emulator, which knows the documented models only)
    # answers, and its typed error comes back.
    with serving_emulator() as server:
        embeddings = ZhipuFlashEmbeddings(model="glm-embedding-x", base_url=server.base_url)
        with pytest.raises(zf.NotFoundError):
            embeddings.embed_documents(["a"])
        reranker = ZhipuFlashRerank(model="glm-rerank", base_url=server.base_url)
        with pytest.raises(zf.NotFoundError):
            reranker.compress_documents(DOCUMENTS, QUERY)
        assert [b["model"] for b in server.bodies("embeddings")] == ["glm-embedding-x"]
        assert [b["model"] for b in server.bodies("rerank")] == ["glm-rerank"]
