"""ZhipuFlashRerank as a LlamaIndex node postprocessor: order and scores, top_n, what goes on
the wire, limits, events, sync and async.

Requests go to the GLM emulator on loopback (GLM's shapes; its scores come from hashed word
features, not a model). What is checked is the mapping: each result's ``index`` picks the
node, its ``relevance_score`` becomes the node's score, GLM's order is kept.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from llama_index.core.bridge.pydantic import Field
from llama_index.core.callbacks import CallbackManager, CBEventType
from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, TextNode

from glm_emulator.server import EmulatorHTTPServer
from llama_index.postprocessor.zhipu_flash_rerank import ZhipuFlashRerank as HubPath
from llama_index_zhipu_flash import ZhipuFlashRerank
from zhipu_flash import InvalidRequestInputError, NotFoundError

KEY = "test-id.test-secret"
QUERY = "How many days of annual leave do new employees get?"
TEXTS = [
    "Expenses must be filed within 30 days of purchase.",
    "New employees get 15 days of annual leave per year.",
    "Office staff may work from home on Fridays.",
    "Annual leave requests go to your team lead.",
]


def _nodes(texts: list[str] = TEXTS) -> list[NodeWithScore]:
    return [
        NodeWithScore(node=TextNode(text=t, id_=f"n{i}"), score=0.5) for i, t in enumerate(texts)
    ]


def _rerank(server: EmulatorHTTPServer, **kwargs: Any) -> ZhipuFlashRerank:
    return ZhipuFlashRerank(base_url=server.base_url, api_key=KEY, **kwargs)


def _run(rerank: ZhipuFlashRerank, nodes: list[NodeWithScore], mode: str) -> list[NodeWithScore]:
    if mode == "sync":
        return rerank.postprocess_nodes(nodes, query_str=QUERY)

    async def run() -> list[NodeWithScore]:
        try:
            return await rerank.apostprocess_nodes(nodes, query_str=QUERY)
        finally:
            await rerank.aclose()

    return asyncio.run(run())


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def test_defaults() -> None:
    rerank = ZhipuFlashRerank(api_key=KEY)
    assert isinstance(rerank, BaseNodePostprocessor)
    assert HubPath is ZhipuFlashRerank  # from llama_index.postprocessor.zhipu_flash_rerank
    assert (rerank.model, rerank.top_n, rerank.truncate) == ("rerank", 2, True)
    assert ZhipuFlashRerank.class_name() == "ZhipuFlashRerank"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"top_n": 0}, ValueError, "greater than 0"),
        ({"topn": 3}, TypeError, r"'topn' \(did you mean 'top_n'\?\)"),
    ],
)
def test_bad_settings_are_refused_at_construction(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        ZhipuFlashRerank(api_key=KEY, **kwargs)


@MODES
def test_nodes_come_back_in_glms_order_with_its_scores(
    emulator: EmulatorHTTPServer, mode: str
) -> None:
    nodes = _nodes()
    ranked = _run(_rerank(emulator, top_n=None), nodes, mode)
    (body,) = emulator.bodies("rerank")
    assert body == {"model": "rerank", "query": QUERY, "documents": TEXTS}
    # The emulator's answer, replayed against the mapping: the answer lists indexes into the
    # documents sent, best first; each becomes that node with that score.
    from glm_emulator.retrieval import respond_rerank

    answer = respond_rerank(body).body
    assert isinstance(answer, dict)
    expected = [(f"n{r['index']}", r["relevance_score"]) for r in answer["results"]]
    assert [(n.node.node_id, n.score) for n in ranked] == expected
    assert ranked[0].node.node_id == "n1"  # the node that answers the question
    scores = [n.score for n in ranked]
    assert scores == sorted(scores, reverse=True)
    assert [n.score for n in nodes] == [0.5] * 4  # the retriever's nodes are left as they were


@MODES
@pytest.mark.parametrize(("top_n", "sent", "kept"), [(2, 2, 2), (1, 1, 1), (10, 4, 4)])
def test_top_n(emulator: EmulatorHTTPServer, mode: str, top_n: int, sent: int, kept: int) -> None:
    ranked = _run(_rerank(emulator, top_n=top_n), _nodes(), mode)
    assert len(ranked) == kept
    # Never more than the nodes given: the API refuses a top_n over the document count.
    assert emulator.bodies("rerank")[0]["top_n"] == sent


@MODES
def test_no_nodes_no_request(emulator: EmulatorHTTPServer, mode: str) -> None:
    assert _run(_rerank(emulator), [], mode) == []
    assert emulator.bodies("rerank") == []


def test_the_query_is_required(emulator: EmulatorHTTPServer) -> None:
    rerank = _rerank(emulator)
    with pytest.raises(ValueError, match="needs the query"):
        rerank.postprocess_nodes(_nodes())
    with pytest.raises(ValueError, match="needs the query"):
        asyncio.run(rerank.apostprocess_nodes(_nodes()))


@MODES
def test_the_text_sent_is_what_llama_index_embeds(emulator: EmulatorHTTPServer, mode: str) -> None:
    node = TextNode(
        text="Leave is 15 days.",
        metadata={"file_name": "leave.txt", "secret_path": "/srv/hr/leave.txt"},
        excluded_embed_metadata_keys=["secret_path"],
    )
    _run(_rerank(emulator), [NodeWithScore(node=node, score=1.0)], mode)
    (document,) = emulator.bodies("rerank")[0]["documents"]
    assert "file_name: leave.txt" in document and "Leave is 15 days." in document
    assert "/srv/hr" not in document


@MODES
def test_long_nodes_are_cut_to_the_limit(
    emulator: EmulatorHTTPServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    long = "Annual leave " + "x" * 5000
    with caplog.at_level(logging.DEBUG, logger="llama_index_zhipu_flash.rerank"):
        ranked = _run(_rerank(emulator, top_n=None), _nodes([TEXTS[0], long]), mode)
    documents = emulator.bodies("rerank")[0]["documents"]
    assert [len(d) for d in documents] == [len(TEXTS[0]), 4096]
    assert documents[1] == long[:4096]
    assert {n.node.get_content() for n in ranked} == {TEXTS[0], long}  # the node is whole
    assert any("Node 1 has 5013 characters" in r.getMessage() for r in caplog.records)


@MODES
def test_long_nodes_are_refused_without_truncation(emulator: EmulatorHTTPServer, mode: str) -> None:
    with pytest.raises(InvalidRequestInputError, match="1"):
        _run(_rerank(emulator, truncate=False), _nodes([TEXTS[0], "y" * 4097]), mode)
    assert emulator.bodies("rerank") == []


@MODES
def test_more_than_128_nodes_are_refused_before_sending(
    emulator: EmulatorHTTPServer, mode: str
) -> None:
    with pytest.raises(InvalidRequestInputError, match="128"):
        _run(_rerank(emulator), _nodes([f"text {i}" for i in range(129)]), mode)
    assert emulator.bodies("rerank") == []


class _Events(BaseEventHandler):
    names: list[str] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "_Events"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.names.append(event.class_name())


class _Callbacks(BaseCallbackHandler):
    def __init__(self) -> None:
        super().__init__([], [])
        self.ends: list[Any] = []

    def on_event_start(self, *args: Any, **kwargs: Any) -> str:
        return kwargs.get("event_id", "")

    def on_event_end(self, event_type: CBEventType, payload: Any = None, **kw: Any) -> None:
        if event_type == CBEventType.RERANKING:
            self.ends.append(payload)

    def start_trace(self, trace_id: str | None = None) -> None:
        return None

    def end_trace(self, trace_id: str | None = None, trace_map: Any = None) -> None:
        return None


@MODES
def test_instrumentation_and_callbacks_see_the_rerank(
    emulator: EmulatorHTTPServer, mode: str
) -> None:
    handler = _Events()
    root = get_dispatcher()
    root.add_event_handler(handler)
    callbacks = _Callbacks()
    try:
        rerank = _rerank(emulator, top_n=1, callback_manager=CallbackManager([callbacks]))
        ranked = _run(rerank, _nodes(), mode)
    finally:
        root.event_handlers.remove(handler)
    assert [n for n in handler.names if n.startswith("ReRank")] == [
        "ReRankStartEvent",
        "ReRankEndEvent",
    ]
    (payload,) = callbacks.ends
    assert [n.node.node_id for n in payload["nodes"]] == [n.node.node_id for n in ranked]


def test_llama_index_serialisation_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIPUAI_API_KEY", KEY)
    rerank = ZhipuFlashRerank(top_n=5, truncate=False, base_url="http://x", max_concurrency=2)
    data = rerank.to_dict()
    assert data["class_name"] == "ZhipuFlashRerank" and "api_key" not in data
    assert ZhipuFlashRerank.from_json(rerank.to_json()).to_dict() == data


@MODES
def test_an_unknown_model_is_sent_untruncated_and_glm_decides(
    emulator: EmulatorHTTPServer, mode: str
) -> None:
    # Issue 23: glm-rerank (a third-party catalog's name) is sent as given, not refused at
    # construction; with no documented limit nothing is cut, and GLM's answer (the emulator
    # knows the documented models only: 1211) comes back typed.
    long_text = "x" * 5000
    with pytest.raises(NotFoundError):
        _run(_rerank(emulator, model="glm-rerank"), _nodes([long_text, "b"]), mode)
    (body,) = emulator.bodies("rerank")
    assert body["model"] == "glm-rerank" and body["documents"][0] == long_text
