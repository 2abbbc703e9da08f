"""ZhipuFlash inside LlamaIndex query pipelines, end to end and offline.

Every response mode, streaming and not, sync and async; structured answer filtering;
PromptHelper budgets for every catalog model; ``use_async`` fan-out under ``max_concurrency``.
Requests go to the GLM emulator on loopback (GLM's wire format; answers are not real model
output: it answers a retrieval prompt with the context sentence that shares most words with
the question, and reasons first). What is checked is what LlamaIndex's own consumers make
of the responses, and what went on the wire.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from llama_index.core import (
    Document,
    PromptHelper,
    PromptTemplate,
    Settings,
    SummaryIndex,
    VectorStoreIndex,
    get_response_synthesizer,
)
from llama_index.core.base.response.schema import Response, StreamingResponse
from llama_index.core.query_engine import SubQuestionQueryEngine
from llama_index.core.question_gen.types import BaseQuestionGenerator, SubQuestion
from llama_index.core.response_synthesizers import ResponseMode
from llama_index.core.schema import QueryBundle
from llama_index.core.tools import QueryEngineTool, ToolMetadata

from glm_emulator.server import EmulatorHTTPServer, serving_emulator
from llama_index_zhipu_flash import DEFAULT_NUM_OUTPUT, ZhipuFlash
from tests.llama_index._support import SYNTHESIZERS_STREAM_TOKENS
from zhipu_flash import MODELS

DOCS = [
    Document(text="The Yangtze is the longest river in China, about 6,300 km long."),
    Document(text="The Yellow River is the second longest river in China."),
    Document(text="The Pearl River flows through Guangzhou into the South China Sea."),
]
QUESTION = "Which is the longest river in China?"
ANSWER = DOCS[0].text
# The emulator's reasoning for a question over context ends with this sentence.
REASONING_MARK = "I will answer from it."

pytestmark = pytest.mark.usefixtures("close_default_loop")


@pytest.fixture
def llm(emulator: EmulatorHTTPServer) -> ZhipuFlash:
    return ZhipuFlash(model="glm-4.7-flash", base_url=emulator.base_url, api_key="test.key")


@pytest.fixture
def settings_llm(llm: ZhipuFlash) -> Iterator[ZhipuFlash]:
    """``Settings.llm = llm``: the no_text and context_only synthesizers of llama-index-core
    resolve ``Settings.llm`` whatever LLM the query engine was given."""
    previous = Settings._llm
    Settings.llm = llm
    try:
        yield llm
    finally:
        Settings._llm = previous


def _index() -> SummaryIndex:
    # A summary index keeps the documents in order (a vector index over MockEmbedding ties
    # every score, so its order would change from run to run).
    return SummaryIndex.from_documents(DOCS)


async def _text(response: Any) -> str:
    return "".join([token async for token in response.async_response_gen()])


def _check_wire(bodies: Sequence[dict[str, Any]], count: int) -> None:
    assert len(bodies) == count
    for body in bodies:
        assert body["model"] == "glm-4.7-flash"
        assert body["stream"] is True  # streamed under the hood, also for query()
        assert all("reasoning_content" not in m for m in body["messages"])


# The answer each mode gives with the emulator, and the requests it takes for three documents.
MODES: dict[ResponseMode, tuple[str, int]] = {
    ResponseMode.REFINE: (ANSWER, 3),  # one per document; the first answer survives refining
    ResponseMode.COMPACT: (ANSWER, 1),  # all three fit one prompt
    ResponseMode.TREE_SUMMARIZE: (ANSWER, 1),
    ResponseMode.SIMPLE_SUMMARIZE: (ANSWER, 1),
    ResponseMode.GENERATION: ("", 1),  # no context: any answer
}


def _expect(mode: ResponseMode, text: str) -> None:
    expected, _ = MODES[mode]
    assert text.strip()
    assert REASONING_MARK not in text
    if expected:
        assert expected in text


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("streaming", [False, True], ids=["query", "streaming"])
def test_every_response_mode(
    emulator: EmulatorHTTPServer, llm: ZhipuFlash, mode: ResponseMode, streaming: bool
) -> None:
    engine = _index().as_query_engine(llm=llm, response_mode=mode, streaming=streaming)
    response = engine.query(QUESTION)
    if streaming:
        assert isinstance(response, StreamingResponse)
        tokens = list(response.response_gen)
        if SYNTHESIZERS_STREAM_TOKENS or mode not in (ResponseMode.REFINE, ResponseMode.COMPACT):
            assert len(tokens) > 3  # streamed, not handed over in one piece
        text = "".join(tokens)
    else:
        assert isinstance(response, Response)
        text = str(response)
    _expect(mode, text)
    _check_wire(emulator.bodies(), MODES[mode][1])


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("streaming", [False, True], ids=["aquery", "astreaming"])
async def test_every_response_mode_async(
    emulator: EmulatorHTTPServer, llm: ZhipuFlash, mode: ResponseMode, streaming: bool
) -> None:
    engine = _index().as_query_engine(llm=llm, response_mode=mode, streaming=streaming)
    response = await engine.aquery(QUESTION)
    # AsyncStreamingResponse on newer llama-index-core, StreamingResponse before.
    text = await _text(response) if streaming else str(response)
    _expect(mode, text)
    _check_wire(emulator.bodies(), MODES[mode][1])


@pytest.mark.parametrize("mode", [ResponseMode.ACCUMULATE, ResponseMode.COMPACT_ACCUMULATE])
def test_accumulating_modes(emulator: EmulatorHTTPServer, llm: ZhipuFlash, mode: str) -> None:
    # LlamaIndex cannot stream these modes ("Unable to stream in Accumulate response mode").
    response = _index().as_query_engine(llm=llm, response_mode=mode).query(QUESTION)
    text = str(response)
    assert text.startswith("Response 1: ")
    assert ANSWER in text
    assert REASONING_MARK not in text
    _check_wire(emulator.bodies(), 3 if mode == ResponseMode.ACCUMULATE else 1)


@pytest.mark.parametrize("mode", [ResponseMode.NO_TEXT, ResponseMode.CONTEXT_ONLY])
def test_modes_without_a_model_call_send_nothing(
    emulator: EmulatorHTTPServer, settings_llm: ZhipuFlash, mode: str
) -> None:
    response = _index().as_query_engine(llm=settings_llm, response_mode=mode).query(QUESTION)
    assert len(response.source_nodes) == len(DOCS)
    assert emulator.bodies() == []


# -- structured answer filtering ----------------------------------------------------------


@pytest.mark.parametrize("mode", [ResponseMode.REFINE, ResponseMode.COMPACT])
@pytest.mark.parametrize("streaming", [False, True], ids=["query", "streaming"])
@pytest.mark.parametrize("tool_stream", [False, True], ids=["whole-call", "tool-stream"])
def test_structured_answer_filtering(
    emulator: EmulatorHTTPServer,
    llm: ZhipuFlash,
    mode: ResponseMode,
    streaming: bool,
    tool_stream: bool,
) -> None:
    # Streaming, this answered "Empty Response" while the adapter filled only the
    # ToolCallBlocks: the streaming program reads additional_kwargs["tool_calls"].
    llm.tool_stream = tool_stream  # arguments whole in one delta, or in fragments
    synthesizer = get_response_synthesizer(
        llm=llm, response_mode=mode, structured_answer_filtering=True, streaming=streaming
    )
    engine = _index().as_query_engine(llm=llm, response_synthesizer=synthesizer)
    response = engine.query(QUESTION)
    text = "".join(response.response_gen) if streaming else str(response)  # type: ignore[union-attr]
    assert text == ANSWER
    for body in emulator.bodies():
        assert [t["function"]["name"] for t in body["tools"]] == ["StructuredRefineResponse"]
        assert body["tool_choice"] == "auto"  # asked for "required"; GLM takes "auto" only
        assert body.get("tool_stream", False) is tool_stream


@pytest.mark.parametrize("streaming", [False, True], ids=["aquery", "astreaming"])
async def test_structured_answer_filtering_async(
    emulator: EmulatorHTTPServer, llm: ZhipuFlash, streaming: bool
) -> None:
    synthesizer = get_response_synthesizer(
        llm=llm, response_mode="refine", structured_answer_filtering=True, streaming=streaming
    )
    engine = _index().as_query_engine(llm=llm, response_synthesizer=synthesizer)
    response = await engine.aquery(QUESTION)
    text = await _text(response) if streaming else str(response)
    assert text == ANSWER
    assert len(emulator.bodies()) == 3


# -- prompt budgets -----------------------------------------------------------------------

_PROMPT = PromptTemplate("Context:\n{context_str}\nQuery: {query_str}\nAnswer: ")


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("context_window", [None, 32_000, 8_000, 4_096])
@pytest.mark.parametrize("max_tokens", [None, 1_024])
def test_prompt_helper_leaves_most_of_the_window_for_context(
    model: str, context_window: int | None, max_tokens: int | None
) -> None:
    # num_output used to be the model's maximum output (128K for glm-4.7-flash): with a
    # 32K window PromptHelper raised "Calculated available context size -96094 was not
    # non-negative", and with 200K only 72K were left for context.
    llm = ZhipuFlash(model=model, context_window=context_window, max_tokens=max_tokens)
    meta = llm.metadata
    helper = PromptHelper.from_llm_metadata(meta)
    room = helper.get_text_splitter_given_prompt(_PROMPT, num_chunks=1).chunk_size
    assert meta.num_output == (
        max_tokens
        or min(DEFAULT_NUM_OUTPUT, MODELS[model].max_output_tokens, meta.context_window // 4)
    )
    assert room >= meta.context_window * 0.7, (meta.context_window, meta.num_output, room)


def test_a_smaller_context_window_works_in_a_query_engine(
    emulator: EmulatorHTTPServer, mock_embeddings: None
) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s", context_window=32_000)
    index = VectorStoreIndex.from_documents(DOCS)
    engine = index.as_query_engine(llm=llm, similarity_top_k=3, streaming=True)
    # MockEmbedding ties every score, so the documents come in any order: ask a question
    # only one of them answers best.
    text = "".join(engine.query("How long is the longest river?").response_gen)  # type: ignore[union-attr]
    assert text == ANSWER
    assert len(emulator.bodies()) == 1


def test_compact_packs_context_up_to_the_window_less_the_answer_budget(
    emulator: EmulatorHTTPServer,
) -> None:
    # 60 documents of ~250 tokens with an 8K window: num_output is 2000 (a quarter of the
    # window), so each prompt carries up to ~6K tokens of context; never more than fits.
    docs = [Document(text=f"Fact {i}: " + "the river runs on " * 60) for i in range(60)]
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s", context_window=8_000)
    assert llm.metadata.num_output == 2_000
    engine = SummaryIndex.from_documents(docs).as_query_engine(llm=llm, response_mode="compact")
    engine.query(QUESTION)
    sizes = [_prompt_tokens(body) for body in emulator.bodies()]
    assert len(sizes) >= 2  # the context did not fit one prompt
    assert max(sizes) <= 8_000 - 2_000
    assert max(sizes) > 8_000 // 2  # and each prompt was packed well


def _prompt_tokens(body: dict[str, Any]) -> int:
    from llama_index.core.utils import get_tokenizer

    tokenizer = get_tokenizer()
    return sum(len(tokenizer(str(m.get("content") or ""))) for m in body["messages"])


# -- use_async fan-out under max_concurrency ----------------------------------------------


@pytest.fixture
def holding_emulator() -> Iterator[EmulatorHTTPServer]:
    """An emulator that holds each request until three are open (or 0.3 s pass): a client
    that sends three at once is seen doing so."""
    with serving_emulator(hold=3, hold_timeout=0.3) as server:
        yield server


@pytest.mark.parametrize("cap", [2, None], ids=["max_concurrency=2", "uncapped"])
def test_use_async_tree_summarize_under_max_concurrency(
    holding_emulator: EmulatorHTTPServer, cap: int | None
) -> None:
    # Four documents that fit one prompt each: four summaries at once, then their summary.
    docs = [Document(text=f"{d.text} " + "It is a major river. " * 120) for d in DOCS * 2][:4]
    llm = ZhipuFlash(
        base_url=holding_emulator.base_url,
        api_key="k.s",
        context_window=1_200,
        max_concurrency=cap,
    )
    synthesizer = get_response_synthesizer(llm=llm, response_mode="tree_summarize", use_async=True)
    engine = SummaryIndex.from_documents(docs).as_query_engine(
        llm=llm, response_synthesizer=synthesizer
    )
    assert "Yangtze" in str(engine.query(QUESTION))
    assert len(holding_emulator.bodies()) >= 5
    if cap is None:
        assert holding_emulator.peak_in_flight >= 3  # the fan-out is real
    else:
        assert holding_emulator.peak_in_flight == cap


class _FixedQuestions(BaseQuestionGenerator):
    """Sub-questions chosen by the test (LlamaIndex's own generator asks the model for a
    JSON plan, which the emulator does not write); the fan-out after it is the library's."""

    def __init__(self, questions: list[SubQuestion]) -> None:
        self._questions = questions

    def _get_prompts(self) -> dict[str, Any]:
        return {}

    def _update_prompts(self, prompts: Any) -> None:
        return None

    def generate(self, tools: Sequence[ToolMetadata], query: QueryBundle) -> list[SubQuestion]:
        return self._questions

    async def agenerate(
        self, tools: Sequence[ToolMetadata], query: QueryBundle
    ) -> list[SubQuestion]:
        return self._questions


async def test_sub_question_engine_under_max_concurrency(
    holding_emulator: EmulatorHTTPServer,
) -> None:
    llm = ZhipuFlash(base_url=holding_emulator.base_url, api_key="k.s", max_concurrency=2)
    tools = [
        QueryEngineTool(
            query_engine=SummaryIndex.from_documents([doc]).as_query_engine(llm=llm),
            metadata=ToolMetadata(name=f"river_{i}", description=doc.text),
        )
        for i, doc in enumerate(DOCS)
    ]
    questions = [
        SubQuestion(sub_question="Which is the longest river?", tool_name="river_0"),
        SubQuestion(sub_question="Which river is second longest?", tool_name="river_1"),
        SubQuestion(sub_question="Where does the Pearl River flow?", tool_name="river_2"),
    ]
    engine = SubQuestionQueryEngine.from_defaults(
        query_engine_tools=tools, llm=llm, question_gen=_FixedQuestions(questions), use_async=True
    )
    response = await engine.aquery(QUESTION)
    assert str(response).strip()
    assert len(holding_emulator.bodies()) == 4  # three sub-answers, then the synthesis
    assert holding_emulator.peak_in_flight == 2
    await llm.aclose()
