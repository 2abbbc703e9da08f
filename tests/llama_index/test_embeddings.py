"""ZhipuFlashEmbedding: configuration, what goes on the wire, batching, concurrency, errors.

Requests go to the GLM emulator on loopback (GLM's shapes; its vectors are hashed word
features, not a model's) or to an ``httpx.MockTransport`` where a test needs a given failure.
Every behaviour is checked through LlamaIndex's own public methods, sync and async.
"""

from __future__ import annotations

import asyncio
import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding

from glm_emulator.retrieval import embed_text
from glm_emulator.server import EmulatorHTTPServer, serving_emulator
from llama_index.embeddings.zhipu_flash import ZhipuFlashEmbedding as HubPath
from llama_index_zhipu_flash import ZhipuFlashEmbedding
from zhipu_flash import (
    AuthenticationError,
    InvalidRequestInputError,
    NotFoundError,
    QuotaExceededError,
    ZhipuClient,
)

KEY = "test-id.test-secret"
TEXTS = [f"note {i}: the river {i} flows east" for i in range(130)]


def _emb(server: EmulatorHTTPServer, **kwargs: Any) -> ZhipuFlashEmbedding:
    kwargs.setdefault("dimensions", 256)
    return ZhipuFlashEmbedding(base_url=server.base_url, api_key=KEY, **kwargs)


def _sizes(server: EmulatorHTTPServer) -> list[int]:
    return [len(body["input"]) for body in server.bodies("embeddings")]


# -- configuration -------------------------------------------------------------------------


def test_defaults_follow_the_catalog() -> None:
    emb = ZhipuFlashEmbedding(api_key=KEY)
    assert isinstance(emb, BaseEmbedding)
    assert HubPath is ZhipuFlashEmbedding  # from llama_index.embeddings.zhipu_flash
    assert (emb.model_name, emb.embed_batch_size, emb.dimensions) == ("embedding-3", 64, None)
    assert emb.max_concurrency == 4
    assert ZhipuFlashEmbedding(model="embedding-2", api_key=KEY).model_name == "embedding-2"
    assert ZhipuFlashEmbedding.class_name() == "ZhipuFlashEmbedding"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dimensions": 300}, ValueError, r"dimensions=300.*256, 512, 1024, 2048"),
        ({"model_name": "embedding-2", "dimensions": 512}, ValueError, r"512.*takes 1024"),
        ({"embed_batch_size": 65}, ValueError, r"embed_batch_size=65.*limit of 64"),
        ({"model": "embedding-2", "model_name": "embedding-3"}, ValueError, "disagree"),
        ({"base_url": "http://a", "api_base": "http://b"}, ValueError, "disagree"),
        ({"dimension": 256}, TypeError, r"'dimension' \(did you mean 'dimensions'\?\)"),
        ({"mode": "text"}, TypeError, "queries and texts embed alike"),
    ],
)
def test_bad_settings_are_refused_at_construction(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ZhipuFlashEmbedding(api_key=KEY, **kwargs)


def test_embedding_2_takes_its_fixed_size() -> None:
    emb = ZhipuFlashEmbedding("embedding-2", dimensions=1024, api_key=KEY)
    assert emb.dimensions == 1024


def test_the_key_comes_from_the_environment_and_never_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "abcdef0123456789abcdef0123456789.SeCrEtSeCrEtSeCr"
    monkeypatch.setenv("ZHIPUAI_API_KEY", secret)
    emb = ZhipuFlashEmbedding()
    assert emb.api_key is not None and emb.api_key.get_secret_value() == secret
    # LlamaIndex's own serialisation (to_json, used by storage contexts and ingestion caches)
    # and its instrumentation payload. (A pickle keeps the key, as it must to work.)
    shown = [repr(emb), str(emb), emb.model_dump_json(), emb.to_json(), str(emb.to_payload())]
    assert not any(secret in text for text in shown)
    assert "dimensions" in emb.to_payload()


def test_copies_and_pickles_keep_the_settings(emulator: EmulatorHTTPServer) -> None:
    emb = _emb(emulator)
    emb.get_query_embedding("before")
    for clone in (copy.deepcopy(emb), pickle.loads(pickle.dumps(emb)), emb.model_copy()):  # noqa: S301
        assert (clone.model_name, clone.dimensions, clone.base_url) == (
            "embedding-3",
            256,
            emulator.base_url,
        )
        assert len(clone.get_query_embedding("after")) == 256
    assert _sizes(emulator) == [1, 1, 1, 1]


def test_changed_settings_reach_the_next_call(
    emulator: EmulatorHTTPServer, other_emulator: EmulatorHTTPServer
) -> None:
    emb = _emb(emulator)
    emb.get_text_embedding("one")
    emb.base_url = other_emulator.base_url
    emb.dimensions = 512
    assert len(emb.get_text_embedding("two")) == 512
    assert [b["input"] for b in emulator.bodies("embeddings")] == [["one"]]
    assert other_emulator.bodies("embeddings") == [
        {"model": "embedding-3", "input": ["two"], "dimensions": 512}
    ]


def test_model_names_are_taken_in_any_case_like_the_core_and_langchain(
    emulator: EmulatorHTTPServer,
) -> None:
    # One catalog check (zhipu_flash.models.embedding_model_info) behind the core and both
    # adapters: a name the core takes is not refused here.
    emb = _emb(emulator, model_name="Embedding-3")
    assert emb.embed_batch_size == 64
    assert len(emb.get_text_embedding("one")) == 256
    assert emulator.bodies("embeddings")[0]["model"] == "embedding-3"


# -- what goes on the wire, sync and async ---------------------------------------------------


def test_query_and_text_embeddings(emulator: EmulatorHTTPServer) -> None:
    emb = _emb(emulator, user_id="user-123456")
    assert emb.get_query_embedding("Which river is longest?") == embed_text(
        "Which river is longest?", 256
    )
    assert emb.get_text_embedding("The Yangtze.") == embed_text("The Yangtze.", 256)
    assert emulator.bodies("embeddings") == [
        {
            "model": "embedding-3",
            "input": ["Which river is longest?"],
            "dimensions": 256,
            "user_id": "user-123456",
        },
        {
            "model": "embedding-3",
            "input": ["The Yangtze."],
            "dimensions": 256,
            "user_id": "user-123456",
        },
    ]


async def test_query_and_text_embeddings_async(emulator: EmulatorHTTPServer) -> None:
    emb = _emb(emulator)
    assert await emb.aget_query_embedding("q") == embed_text("q", 256)
    assert await emb.aget_text_embedding("t") == embed_text("t", 256)
    await emb.aclose()
    assert [b["input"] for b in emulator.bodies("embeddings")] == [["q"], ["t"]]


def test_no_dimensions_sends_none_and_gets_the_default(emulator: EmulatorHTTPServer) -> None:
    emb = ZhipuFlashEmbedding(base_url=emulator.base_url, api_key=KEY)
    assert len(emb.get_text_embedding("x")) == 2048
    assert emulator.bodies("embeddings") == [{"model": "embedding-3", "input": ["x"]}]


# -- batching ------------------------------------------------------------------------------


def test_a_batch_per_request_in_order(emulator: EmulatorHTTPServer) -> None:
    vectors = _emb(emulator).get_text_embedding_batch(TEXTS)
    assert _sizes(emulator) == [64, 64, 2]
    assert vectors == [embed_text(t, 256) for t in TEXTS]


async def test_a_batch_per_request_in_order_async(emulator: EmulatorHTTPServer) -> None:
    emb = _emb(emulator)
    vectors = await emb.aget_text_embedding_batch(TEXTS)
    await emb.aclose()
    assert sorted(_sizes(emulator)) == [2, 64, 64]
    assert vectors == [embed_text(t, 256) for t in TEXTS]


def test_a_smaller_batch_size(emulator: EmulatorHTTPServer) -> None:
    vectors = _emb(emulator, embed_batch_size=50).get_text_embedding_batch(TEXTS[:120])
    assert _sizes(emulator) == [50, 50, 20]
    assert vectors == [embed_text(t, 256) for t in TEXTS[:120]]


def test_a_batch_size_set_over_the_limit_later_is_split_by_the_core(
    emulator: EmulatorHTTPServer,
) -> None:
    emb = _emb(emulator)
    emb.embed_batch_size = 100  # not validated on assignment; the core still keeps the limit
    vectors = emb.get_text_embedding_batch(TEXTS[:100])
    assert _sizes(emulator) == [64, 36]
    assert vectors == [embed_text(t, 256) for t in TEXTS[:100]]


# -- concurrency ---------------------------------------------------------------------------


@pytest.mark.parametrize(("max_concurrency", "peak"), [("default", 4), (2, 2), (None, None)])
def test_async_batches_in_flight_are_capped(max_concurrency: Any, peak: int | None) -> None:
    # LlamaIndex starts all ten batches at once; the emulator holds each request until ten
    # are open (or 0.6 s passed), so the peak it sees is what the client allows.
    kwargs = {} if max_concurrency == "default" else {"max_concurrency": max_concurrency}
    # 0.6 s: time for a loaded machine to open every request it is allowed to.
    with serving_emulator(hold=10, hold_timeout=0.6) as server:
        emb = _emb(server, embed_batch_size=2, **kwargs)

        async def run() -> list[list[float]]:
            try:
                return await emb.aget_text_embedding_batch(TEXTS[:20])
            finally:
                await emb.aclose()

        vectors = asyncio.run(run())
    if peak is None:  # uncapped, more than the default cap were open at once
        assert server.peak_in_flight > 4
    else:
        assert server.peak_in_flight == peak
    assert vectors == [embed_text(t, 256) for t in TEXTS[:20]]


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "match"),
    [
        (["fine", "   "], r"1"),
        (["fine", ""], r"1"),
        # Refused only when even a lower bound of its tokens (bytes / 128) is over 3072.
        (["fine", "x" * 400_000], r"1.*3072"),
    ],
    ids=["whitespace", "empty", "over-the-token-limit"],
)
def test_bad_input_is_refused_before_sending(
    emulator: EmulatorHTTPServer, texts: list[str], match: str
) -> None:
    emb = _emb(emulator)
    with pytest.raises(InvalidRequestInputError, match=match):
        emb.get_text_embedding_batch(texts)
    with pytest.raises(InvalidRequestInputError, match=match):
        asyncio.run(emb.aget_text_embedding_batch(texts))
    with pytest.raises(InvalidRequestInputError):
        emb.get_query_embedding("")
    assert emulator.bodies("embeddings") == []


def _error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


class Scripted:
    """A MockTransport handler: embeddings answered like the emulator, except the first
    request whose first input is ``fail_at`` (and, with ``times=2``, the second too),
    answered with the given status and body."""

    def __init__(self, fail_at: str = "", failure: tuple[int, bytes] = (0, b""), times: int = 1):
        self.fail_at, self.failure, self.times = fail_at, failure, times
        self.inputs: list[list[str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.inputs.append(body["input"])
        if body["input"][0] == self.fail_at and self.times > 0:
            self.times -= 1
            status, content = self.failure
            return httpx.Response(status, content=content)
        data = [
            {"index": i, "object": "embedding", "embedding": embed_text(t, 256)}
            for i, t in enumerate(body["input"])
        ]
        return httpx.Response(200, json={"model": body["model"], "object": "list", "data": data})


def _mocked(handler: Callable[[httpx.Request], httpx.Response]) -> ZhipuFlashEmbedding:
    transport = httpx.MockTransport(handler)
    return ZhipuFlashEmbedding(
        dimensions=256,
        api_key=KEY,
        max_concurrency=1,  # one batch at a time: the failing request is the second batch
        http_client=httpx.Client(transport=transport),
        async_http_client=httpx.AsyncClient(transport=transport),
    )


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    async def asleep(seconds: float) -> None:
        return None

    monkeypatch.setattr(ZhipuClient, "_sleep", staticmethod(lambda seconds: None))
    from zhipu_flash import AsyncZhipuClient

    monkeypatch.setattr(AsyncZhipuClient, "_sleep", staticmethod(asleep))


@pytest.mark.usefixtures("no_sleep")
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_an_overloaded_batch_is_retried_by_its_code(mode: str) -> None:
    busy = (
        429,
        _error_body("1302", "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。"),
    )
    handler = Scripted(TEXTS[64], busy)
    emb = _mocked(handler)
    texts = TEXTS[:100]
    if mode == "sync":
        vectors = emb.get_text_embedding_batch(texts)
    else:
        vectors = asyncio.run(emb.aget_text_embedding_batch(texts))
    assert vectors == [embed_text(t, 256) for t in texts]
    assert sorted(len(i) for i in handler.inputs) == [36, 36, 64]  # the second batch, twice


@pytest.mark.usefixtures("no_sleep")
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_refused_batch_raises_its_typed_error_naming_its_inputs(mode: str) -> None:
    broke = (429, _error_body("1113", "您的账户已欠费，请充值后重试。"))
    handler = Scripted(TEXTS[64], broke)
    emb = _mocked(handler)

    def call() -> object:
        if mode == "sync":
            return emb.get_text_embedding_batch(TEXTS[:100])
        return asyncio.run(emb.aget_text_embedding_batch(TEXTS[:100]))

    with pytest.raises(QuotaExceededError) as info:
        call()
    assert info.value.code == "1113"
    # LlamaIndex hands over one batch of embed_batch_size texts per call: the range is the
    # failed request's inputs within that batch.
    assert "(embedding request with inputs 0 to 35 of the 36 given)" in str(info.value)
    assert TEXTS[64] in [i[0] for i in handler.inputs]
    assert sum(i[0] == TEXTS[64] for i in handler.inputs) == 1  # no balance: never retried


def test_a_missing_key_is_reported_at_the_first_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    emb = ZhipuFlashEmbedding()  # constructs without a key
    with pytest.raises(AuthenticationError, match="ZHIPUAI_API_KEY"):
        emb.get_query_embedding("q")


def test_the_key_goes_only_in_the_authorization_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return Scripted()(request)

    _mocked(handler).get_query_embedding("hello")
    (request,) = seen
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in request.content.decode() and KEY not in str(request.url)


def test_llama_index_serialisation_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    # Storage contexts and ingestion caches save components with to_dict/to_json and rebuild
    # them with from_dict/from_json: every setting but the key (read from the environment).
    monkeypatch.setenv("ZHIPUAI_API_KEY", KEY)
    emb = ZhipuFlashEmbedding(
        "embedding-3", dimensions=512, embed_batch_size=32, base_url="http://x", num_workers=2
    )
    data = emb.to_dict()
    assert data["class_name"] == "ZhipuFlashEmbedding" and "api_key" not in data
    clone = ZhipuFlashEmbedding.from_json(emb.to_json())
    assert clone.to_dict() == data
    assert clone.api_key is not None and clone.api_key.get_secret_value() == KEY


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_refused_key_is_a_typed_error_without_the_key(mode: str) -> None:
    refused = (401, _error_body("1000", "身份验证失败。"))
    emb = _mocked(Scripted(TEXTS[0], refused))

    def call() -> object:
        if mode == "sync":
            return emb.get_query_embedding(TEXTS[0])
        return asyncio.run(emb.aget_query_embedding(TEXTS[0]))

    with pytest.raises(AuthenticationError) as info:
        call()
    assert info.value.code == "1000"
    assert KEY not in str(info.value) and KEY not in repr(info.value)


def test_embedding_2_batches_keep_its_token_budget(emulator: EmulatorHTTPServer) -> None:
    # 64 texts of about 300 bytes: one LlamaIndex batch, but over embedding-2's 8K tokens per
    # request by the core's upper bound (bytes + 2 per text), so it goes out in several.
    texts = [f"#{i} " + "leave policy " * 23 for i in range(64)]
    emb = ZhipuFlashEmbedding("embedding-2", base_url=emulator.base_url, api_key=KEY)
    vectors = emb.get_text_embedding_batch(texts)
    bodies = emulator.bodies("embeddings")
    assert len(bodies) > 1 and sum(_sizes(emulator)) == 64
    assert all(b["model"] == "embedding-2" and "dimensions" not in b for b in bodies)
    assert vectors == [embed_text(t, 1024) for t in texts]


def test_an_unknown_model_is_sent_as_given_and_glm_decides(emulator: EmulatorHTTPServer) -> None:
    # Issue 23: not refused at construction, not held to embedding-3's batch limit (the core
    # splits the batch); GLM's answer (the emulator: 1211) comes back typed.
    emb = ZhipuFlashEmbedding(
        model_name="glm-embedding-x", embed_batch_size=100, base_url=emulator.base_url, api_key=KEY
    )
    with pytest.raises(NotFoundError):
        emb.get_text_embedding("hello")
    (body,) = emulator.bodies("embeddings")
    assert body["model"] == "glm-embedding-x" and "dimensions" not in body
