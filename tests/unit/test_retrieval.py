"""``embed`` and ``rerank`` on both clients: the checks before sending, batching and order,
errors and retries by business code, the concurrency cap, against MockTransport and the
emulator. Every behaviour runs sync and async (the ``mode`` fixture)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest

import zhipu_flash as zf
from glm_emulator.server import serving_emulator
from tests.unit._helpers import Server, error, make_client
from zhipu_flash.models import (
    EMBEDDING_MODELS,
    RERANK_MODELS,
    embedding_model_info,
    rerank_model_info,
)
from zhipu_flash.types import EmbeddingsResponse, RerankResponse

KEY = "test-key.secret"


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def vectors_for(request: httpx.Request, *, reverse: bool = False) -> httpx.Response:
    """An embeddings answer: input i gets the vector [batch's first text's number, i]; the
    data in reverse order when asked (GLM's order is not promised)."""
    body = json.loads(request.content)
    data = [
        {"index": i, "object": "embedding", "embedding": [float(len(text)), float(i)]}
        for i, text in enumerate(body["input"])
    ]
    usage = {"prompt_tokens": len(data), "completion_tokens": 0, "total_tokens": len(data)}
    if reverse:
        data.reverse()
    return httpx.Response(
        200, json={"model": body["model"], "object": "list", "data": data, "usage": usage}
    )


def embed(mode: str, server: Server, input: Any, client_kwargs: Any = None, **kw: Any) -> Any:
    client = make_client(mode, server, **(client_kwargs or {}))
    if mode == "sync":
        return client.embed(input, **kw)
    return asyncio.run(client.embed(input, **kw))


def rerank(mode: str, server: Server, query: Any, documents: Any, **kw: Any) -> Any:
    client = make_client(mode, server)
    if mode == "sync":
        return client.rerank(query, documents, **kw)
    return asyncio.run(client.rerank(query, documents, **kw))


def numbered(n: int) -> list[str]:
    # Lengths differ by input, so each vector says which text it belongs to.
    return ["x" * (i + 1) for i in range(n)]


# --- embeddings: the request ---------------------------------------------------------------


def test_a_str_is_one_input_posted_to_embeddings(mode: str) -> None:
    server = Server([vectors_for])
    result = embed(mode, server, "hello", dimensions=256, user_id="user-123")
    assert isinstance(result, EmbeddingsResponse)
    request = server.requests[0]
    assert request.url == "https://open.bigmodel.cn/api/paas/v4/embeddings"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "application/json"
    assert server.sent == [
        {"model": "embedding-3", "input": ["hello"], "dimensions": 256, "user_id": "user-123"}
    ]
    assert result.vectors == [[5.0, 0.0]]
    assert result.data[0].index == 0
    assert result.model == "embedding-3"


def test_65_inputs_go_in_two_requests_and_come_back_in_order(mode: str) -> None:
    server = Server([lambda r: vectors_for(r, reverse=True)])
    texts = numbered(65)
    result = embed(mode, server, texts)
    assert [len(body["input"]) for body in server.sent] == [64, 1]
    assert [body["input"] for body in server.sent] == [texts[:64], texts[64:]]
    assert [item.index for item in result.data] == list(range(65))
    # Each vector is its own text's, though each batch answered in reverse order.
    assert [v[0] for v in result.vectors] == [float(len(t)) for t in texts]
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (65, 65)


def test_exactly_64_inputs_is_one_request(mode: str) -> None:
    server = Server([vectors_for])
    embed(mode, server, numbered(64))
    assert len(server.requests) == 1


def test_usage_is_none_when_a_batch_reports_none(mode: str) -> None:
    def no_usage(request: httpx.Request) -> httpx.Response:
        response = vectors_for(request)
        body = json.loads(response.content)
        del body["usage"]
        return httpx.Response(200, json=body)

    server = Server([vectors_for, no_usage])
    assert embed(mode, server, numbered(65)).usage is None


def test_embedding_2_takes_its_fixed_size_and_packs_by_the_token_budget(mode: str) -> None:
    server = Server([vectors_for])
    # 3,000 bytes each: an upper bound of 3,002 tokens, so two fit in the 8K budget.
    texts = ["y" * 3000] * 5
    embed(mode, server, texts, model="embedding-2", dimensions=1024)
    assert [len(body["input"]) for body in server.sent] == [2, 2, 1]
    assert all("dimensions" not in body for body in server.sent)
    assert all(body["model"] == "embedding-2" for body in server.sent)


def test_model_names_are_matched_case_insensitively(mode: str) -> None:
    server = Server([vectors_for])
    embed(mode, server, "hi", model=" Embedding-3 ")
    assert server.sent[0]["model"] == "embedding-3"


# --- embeddings: refused before sending ----------------------------------------------------


@pytest.mark.parametrize(
    ("input", "kwargs", "match"),
    [
        ([], {}, "input is empty"),
        (["ok", "   "], {}, r"input\[1\] is empty or whitespace"),
        ("", {}, r"input\[0\] is empty"),
        (["ok", 3], {}, r"input\[1\] is int, not str"),
        (b"bytes", {}, "must be a str or a sequence of str, got bytes"),
        (None, {}, "got NoneType"),
        (["ok"], {"dimensions": 300}, "takes 256, 512, 1024, 2048"),
        (["ok"], {"dimensions": True}, "dimensions=True"),
        (["ok"], {"model": "embedding-2", "dimensions": 256}, "takes 1024"),
        (["ok"], {"user_id": "abc"}, "user_id"),
        (["ok", "z" * (3072 * 128 + 1)], {}, r"input\[1\] is over embedding-3's limit of 3072"),
        (["z" * (512 * 128 + 1)], {"model": "embedding-2"}, r"input\[0\].*limit of 512"),
    ],
)
def test_bad_input_is_refused_before_any_request(
    mode: str, input: Any, kwargs: dict[str, Any], match: str
) -> None:
    server = Server([vectors_for])
    with pytest.raises(zf.InvalidRequestInputError, match=match):
        embed(mode, server, input, **kwargs)
    assert server.requests == []


def test_an_input_that_may_fit_is_never_refused(mode: str) -> None:
    # 3072 * 128 bytes could be 3,072 tokens if every token were 128 bytes long: sent.
    server = Server([vectors_for])
    embed(mode, server, ["z" * (3072 * 128)])
    assert len(server.requests) == 1


def test_a_missing_key_is_said_before_any_request(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in zf.API_KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    server = Server([vectors_for])
    transport = httpx.MockTransport(server)
    if mode == "sync":
        client: Any = zf.ZhipuClient(http_client=httpx.Client(transport=transport))
        with pytest.raises(zf.MissingAPIKeyError):
            client.embed("hi")
        with pytest.raises(zf.MissingAPIKeyError):
            client.rerank("q", ["d"])
    else:
        aclient = zf.AsyncZhipuClient(http_client=httpx.AsyncClient(transport=transport))
        with pytest.raises(zf.MissingAPIKeyError):
            asyncio.run(aclient.embed("hi"))
        with pytest.raises(zf.MissingAPIKeyError):
            asyncio.run(aclient.rerank("q", ["d"]))
    assert server.requests == []


# --- embeddings: errors and retries --------------------------------------------------------


def fail_batch(first_text: str, status: int, code: str, times: int = 1_000) -> Any:
    """Answer GLM's error for the batch that starts with ``first_text`` (``times`` times)."""
    left = [times]

    def respond(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["input"][0] == first_text and left[0] > 0:
            left[0] -= 1
            return error(status, {"error": {"code": code, "message": "refused"}})(request)
        return vectors_for(request)

    return respond


def test_a_refused_batch_raises_its_typed_error_naming_its_inputs(mode: str) -> None:
    texts = numbered(130)
    server = Server([fail_batch(texts[64], 400, "1214")])
    with pytest.raises(zf.BadRequestError) as caught:
        embed(mode, server, texts)
    assert caught.value.code == "1214"
    assert caught.value.status_code == 400
    assert "inputs 64 to 127 of the 130 given" in str(caught.value)
    assert KEY not in str(caught.value)


def test_a_rate_limited_batch_is_retried_by_its_code(mode: str) -> None:
    texts = numbered(65)
    server = Server([fail_batch(texts[64], 429, "1302", times=1)])
    result = embed(mode, server, texts)
    assert len(server.requests) == 3
    assert [item.index for item in result.data] == list(range(65))


def test_a_quota_error_is_not_retried(mode: str) -> None:
    texts = numbered(65)
    server = Server([fail_batch(texts[64], 429, "1113")])
    with pytest.raises(zf.QuotaExceededError, match="inputs 64 to 64 of the 65 given"):
        embed(mode, server, texts, client_kwargs={"max_concurrency": 1})
    assert len(server.requests) == 2


def test_a_timeout_is_retried_then_raised_naming_the_inputs(mode: str) -> None:
    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("stalled", request=request)

    server = Server([stall])
    with pytest.raises(zf.APITimeoutError, match="inputs 0 to 1 of the 2 given"):
        embed(mode, server, ["a", "b"], client_kwargs={"max_retries": 2})
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"<html>", "not JSON"),
        (b'{"data": [{"index": 0, "embedding": [1.0]}]}', "1 vectors for 2 inputs"),
        (b'{"data": [{"index": 0}, {"index": 1}]}', "unexpected shape"),
        (b"[1, 2]", "not an object"),
    ],
)
def test_an_answer_of_the_wrong_shape_is_a_typed_error(
    mode: str, content: bytes, match: str
) -> None:
    server = Server([lambda r: httpx.Response(200, content=content)])
    with pytest.raises(zf.APIConnectionError, match=match):
        embed(mode, server, ["a", "b"], client_kwargs={"max_retries": 0})


def test_an_error_body_with_http_200_is_raised(mode: str) -> None:
    body = {"error": {"code": "1301", "message": "unsafe"}}
    server = Server([lambda r: httpx.Response(200, json=body)])
    with pytest.raises(zf.ContentFilterError, match="inputs 0 to 0 of the 1 given"):
        embed(mode, server, "a")


# --- embeddings: concurrency, against the emulator -----------------------------------------


def test_emulator_batches_sync_and_async_give_the_same_vectors() -> None:
    texts = [f"document number {i} about topic {i % 7}" for i in range(150)]
    with serving_emulator() as server:
        client = zf.ZhipuClient(api_key="k", base_url=server.base_url)
        sync = client.embed(texts, dimensions=256)
        client.close()

        async def go() -> EmbeddingsResponse:
            async with zf.AsyncZhipuClient(api_key="k", base_url=server.base_url) as aclient:
                return await aclient.embed(texts, dimensions=256)

        result = asyncio.run(go())
        bodies = server.bodies("embeddings")
    sizes = [len(b["input"]) for b in bodies]
    # Sync batches go in order; async ones run at once and may arrive in any order.
    assert sizes[:3] == [64, 64, 22] and sorted(sizes[3:]) == [22, 64, 64]
    assert result.vectors == sync.vectors
    assert [item.index for item in result.data] == list(range(150))
    assert all(len(v) == 256 for v in result.vectors)
    # One batch alone gives the same vectors: batching changes nothing.
    with serving_emulator() as server, zf.ZhipuClient(api_key="k", base_url=server.base_url) as c:
        alone = c.embed(texts[100], dimensions=256)
    assert alone.vectors[0] == result.vectors[100]


@pytest.mark.parametrize(
    ("max_concurrency", "expected_peak"),
    [(None, 4), (2, 2), (6, 6)],
)
def test_async_batches_run_concurrently_within_the_cap(
    max_concurrency: int | None, expected_peak: int
) -> None:
    texts = [f"text {i}" for i in range(64 * 8)]  # eight batches

    async def go(base_url: str) -> EmbeddingsResponse:
        async with zf.AsyncZhipuClient(
            api_key="k", base_url=base_url, max_concurrency=max_concurrency
        ) as client:
            return await client.embed(texts, dimensions=256)

    # hold: each request waits until this many are open (or 0.3 s), so a client that would
    # ever have more in flight is caught doing it.
    with serving_emulator(hold=8, hold_timeout=0.5) as server:
        result = asyncio.run(go(server.base_url))
        peak = server.peak_in_flight
    assert peak == expected_peak
    assert [item.index for item in result.data] == list(range(len(texts)))


def test_sync_batches_go_one_at_a_time() -> None:
    with (
        serving_emulator(hold=2, hold_timeout=0.2) as server,
        zf.ZhipuClient(api_key="k", base_url=server.base_url) as client,
    ):
        client.embed([f"t {i}" for i in range(130)], dimensions=256)
        assert server.peak_in_flight == 1
        assert len(server.bodies("embeddings")) == 3


def test_a_shared_limit_counts_embedding_batches_per_model() -> None:
    limit = zf.ConcurrencyLimit(3)

    async def go(base_url: str) -> None:
        async with zf.AsyncZhipuClient(api_key="k", base_url=base_url, max_concurrency=limit) as c:
            await c.embed([f"t {i}" for i in range(64 * 5)], dimensions=256)
        assert limit.in_flight("embedding-3") == 0

    with serving_emulator(hold=5, hold_timeout=0.5) as server:
        asyncio.run(go(server.base_url))
        assert server.peak_in_flight == 3


def test_async_failure_cancels_the_other_batches() -> None:
    texts = [f"t {i}" for i in range(64 * 6)]
    started: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        first = json.loads(request.content)["input"][0]
        started.append(first)
        if first == texts[0]:
            return error(400, {"error": {"code": "1210", "message": "bad"}})(request)
        await asyncio.sleep(5)  # the others would take long: they must be cancelled
        return vectors_for(request)

    async def go() -> None:
        transport = httpx.MockTransport(handler)
        async with zf.AsyncZhipuClient(
            api_key="k", http_client=httpx.AsyncClient(transport=transport), max_concurrency=6
        ) as client:
            loop = asyncio.get_running_loop()
            began = loop.time()
            with pytest.raises(zf.BadRequestError, match="inputs 0 to 63"):
                await client.embed(texts)
            assert loop.time() - began < 4
            assert client.limit is not None and client.limit.in_flight("embedding-3") == 0

    asyncio.run(go())
    assert len(started) == 6


# --- rerank --------------------------------------------------------------------------------

RANKED = {
    "created": 1733000000,
    "id": "r-1",
    "request_id": "req-1",
    "results": [
        {"index": 2, "relevance_score": 0.91, "document": "c"},
        {"index": 0, "relevance_score": 0.12, "document": {"text": "a"}},
    ],
    "usage": {"prompt_tokens": 12, "total_tokens": 12},
}


def test_rerank_posts_the_documented_body_and_maps_the_results(mode: str) -> None:
    server = Server([lambda r: httpx.Response(200, json=RANKED)])
    result = rerank(mode, server, "q", ["a", "b", "c"], top_n=2, return_documents=True)
    assert isinstance(result, RerankResponse)
    assert server.requests[0].url == "https://open.bigmodel.cn/api/paas/v4/rerank"
    assert server.sent == [
        {
            "model": "rerank",
            "query": "q",
            "documents": ["a", "b", "c"],
            "top_n": 2,
            "return_documents": True,
        }
    ]
    assert [(r.index, r.relevance_score, r.document) for r in result.results] == [
        (2, 0.91, "c"),
        (0, 0.12, "a"),
    ]
    assert (result.id, result.request_id, result.created) == ("r-1", "req-1", 1733000000)
    assert result.usage is not None and result.usage.prompt_tokens == 12


def test_rerank_sends_only_what_is_asked(mode: str) -> None:
    server = Server([lambda r: httpx.Response(200, json=RANKED)])
    rerank(mode, server, "q", ("a", "b", "c"))
    assert server.sent == [{"model": "rerank", "query": "q", "documents": ["a", "b", "c"]}]


@pytest.mark.parametrize(
    ("query", "documents", "kwargs", "match"),
    [
        ("", ["a"], {}, "query must be a non-empty string"),
        ("  ", ["a"], {}, "query must be a non-empty string"),
        ("q", [], {}, "documents is empty"),
        ("q", "abc", {}, "sequence of str, got str"),
        ("q", ["a"] * 129, {}, "129 documents given; rerank takes at most 128"),
        ("q" * 4097, ["a"], {}, "query is 4097 characters"),
        ("q", ["a", "b" * 4097], {}, r"documents\[1\] is 4097 characters"),
        ("q", ["a", None], {}, r"documents\[1\] is NoneType"),
        ("q", ["a", "b"], {"top_n": 0}, "top_n must be an integer from 1 to the number"),
        ("q", ["a", "b"], {"top_n": 3}, r"\(2\), got 3"),
        ("q", ["a", "b"], {"top_n": True}, "got True"),
        ("q", ["a"], {"user_id": "x"}, "user_id"),
    ],
)
def test_bad_rerank_input_is_refused_before_any_request(
    mode: str, query: Any, documents: Any, kwargs: dict[str, Any], match: str
) -> None:
    server = Server([lambda r: httpx.Response(200, json=RANKED)])
    with pytest.raises(zf.InvalidRequestInputError, match=match):
        rerank(mode, server, query, documents, **kwargs)
    assert server.requests == []


def test_the_limits_are_the_catalogs() -> None:
    assert RERANK_MODELS["rerank"].max_documents == 128
    assert RERANK_MODELS["rerank"].max_chars == 4096
    assert EMBEDDING_MODELS["embedding-3"].max_inputs_per_request == 64
    assert EMBEDDING_MODELS["embedding-3"].dimensions == (256, 512, 1024, 2048)
    assert EMBEDDING_MODELS["embedding-2"].max_tokens_per_request == 8192
    assert not any(m.free for m in EMBEDDING_MODELS.values())


def test_rerank_accepts_128_documents_of_4096_characters(mode: str) -> None:
    server = Server([lambda r: httpx.Response(200, json=RANKED)])
    rerank(mode, server, "q" * 4096, ["d" * 4096] * 128)
    assert len(server.requests) == 1


def test_rerank_index_out_of_range_is_a_typed_error(mode: str) -> None:
    server = Server([lambda r: httpx.Response(200, json=RANKED)])
    with pytest.raises(zf.APIConnectionError, match=r"indices \[2\] for 2 documents"):
        rerank(mode, server, "q", ["a", "b"])


def test_rerank_errors_and_retries_are_chats(mode: str) -> None:
    rate_limited = error(429, {"error": {"code": "1302", "message": "busy"}})
    server = Server([rate_limited, lambda r: httpx.Response(200, json=RANKED)])
    assert rerank(mode, server, "q", ["a", "b", "c"]).results[0].index == 2
    assert len(server.requests) == 2
    server = Server([error(401, {"error": {"code": "1002", "message": "bad key"}})])
    with pytest.raises(zf.AuthenticationError) as caught:
        rerank(mode, server, "q", ["a"])
    assert KEY not in str(caught.value)
    assert len(server.requests) == 1


def test_rerank_against_the_emulator(mode: str) -> None:
    documents = [
        "The stock market fell sharply on Monday.",
        "Cats sleep for most of the day and hunt at night.",
        "A recipe for tomato soup with basil.",
    ]
    with serving_emulator() as server:
        if mode == "sync":
            with zf.ZhipuClient(api_key="k", base_url=server.base_url) as client:
                result = client.rerank("When do cats hunt?", documents, top_n=2)
        else:

            async def go() -> RerankResponse:
                async with zf.AsyncZhipuClient(api_key="k", base_url=server.base_url) as c:
                    return await c.rerank("When do cats hunt?", documents, top_n=2)

            result = asyncio.run(go())
    assert len(result.results) == 2
    assert result.results[0].index == 1
    scores = [r.relevance_score for r in result.results]
    assert scores == sorted(scores, reverse=True)


def test_rerank_takes_a_concurrency_slot_for_its_model() -> None:
    seen: list[int] = []
    limit = zf.ConcurrencyLimit(1)

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(limit.in_flight("rerank"))
        return httpx.Response(200, json=RANKED)

    client = zf.ZhipuClient(
        api_key="k",
        http_client=httpx.Client(transport=httpx.MockTransport(respond)),
        max_concurrency=limit,
    )
    client.rerank("q", ["a", "b", "c"])
    assert seen == [1]
    assert limit.in_flight("rerank") == 0


# --- names the catalog does not know (issue 23): sent as given, with a warning --------------


def test_an_unknown_embedding_model_is_sent_as_given_with_a_warning(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"GLM-Embedding-9-{mode}"
    server = Server([vectors_for])
    texts = ["z" * (3072 * 128 + 1), *numbered(69)]  # the first is over embedding-3's limit
    with caplog.at_level(logging.WARNING, logger="zhipu_flash"):
        result = embed(mode, server, texts, model=name, dimensions=300)
        embed(mode, server, ["again"], model=name)
    assert len(result.data) == 70
    # Split as the client splits (64 a request), the name and dimensions exactly as given.
    assert [len(b["input"]) for b in server.sent] == [64, 6, 1]
    assert {b["model"] for b in server.sent} == {name}
    assert server.sent[0]["dimensions"] == 300
    warned = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert len(warned) == 1  # once per process per name, not per request
    assert "not among the zhipu-flash catalog's embedding models" in warned[0]
    assert "sent as given" in warned[0]


def test_an_unknown_rerank_model_is_sent_as_given_with_a_warning(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"glm-rerank-{mode}"
    server = Server([lambda r: httpx.Response(200, json=RANKED)])
    documents = ["d" * 5000] * 200  # over rerank's 128 documents and 4,096 characters
    with caplog.at_level(logging.WARNING, logger="zhipu_flash"):
        rerank(mode, server, "q", documents, model=name)
    assert server.sent[0]["model"] == name and len(server.sent[0]["documents"]) == 200
    (warned,) = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert "Did you mean 'rerank'?" in warned


def test_a_typo_is_sent_with_the_nearest_name_in_the_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="zhipu_flash"):
        info = embedding_model_info("embeding-3x")
    assert not info.known and info.name == "embeding-3x"
    assert "Did you mean 'embedding-3'?" in caplog.text


@pytest.mark.parametrize("name", ["", "  ", None, 3])
def test_a_retrieval_model_name_must_be_a_string(name: Any) -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="non-empty string"):
        embedding_model_info(name)
    with pytest.raises(zf.InvalidRequestInputError, match="non-empty string"):
        rerank_model_info(name)
