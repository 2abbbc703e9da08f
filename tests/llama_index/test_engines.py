"""Query and chat engines over an offline index: streamed tokens and memory hold the answer
only, never the reasoning."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core import Document, MockEmbedding, VectorStoreIndex
from llama_index.core.base.llms.types import TextBlock, ThinkingBlock
from llama_index.core.memory import ChatMemoryBuffer

from tests.llama_index._support import Recorder, answer, make_llm

DOCS = [
    Document(text="The Yangtze is the longest river in China, about 6,300 km long."),
    Document(text="The Yellow River is the second longest river in China."),
    Document(text="The Pearl River flows through Guangzhou into the South China Sea."),
]
REASONING = "SECRET-REASONING the user asks about rivers, answer from the context"
ANSWERS = [
    "The Yangtze is the longest river in China.",
    "The Yellow River is second.",
    "It flows into the South China Sea.",
]


@pytest.fixture
def index() -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(DOCS, embed_model=MockEmbedding(embed_dim=8))


def _by_turn(body: dict[str, Any]) -> bytes:
    """Answer n for the n-th user turn, always thinking first."""
    turns = sum(1 for m in body["messages"] if m["role"] == "user")
    return answer(ANSWERS[min(turns, len(ANSWERS)) - 1], reasoning=REASONING)


@pytest.mark.usefixtures("close_default_loop")
def test_streaming_query_engine_yields_the_answer_only(index: VectorStoreIndex) -> None:
    recorder = Recorder(answer(ANSWERS[0], reasoning=REASONING))
    engine = index.as_query_engine(streaming=True, llm=make_llm(recorder))
    response = engine.query("Which is the longest river in China?")
    tokens = list(response.response_gen)  # type: ignore[union-attr]
    assert "".join(tokens) == ANSWERS[0]
    assert not any("SECRET" in t for t in tokens)
    (body,) = recorder.bodies
    # The retrieved context reached the model (MockEmbedding ties, so any two documents).
    sent = str(body["messages"])
    assert sum(d.text in sent for d in DOCS) == 2


async def test_async_streaming_query_engine_yields_the_answer_only(
    index: VectorStoreIndex,
) -> None:
    recorder = Recorder(answer(ANSWERS[0], reasoning=REASONING))
    engine = index.as_query_engine(streaming=True, llm=make_llm(recorder))
    response = await engine.aquery("Which is the longest river in China?")
    tokens = [t async for t in response.async_response_gen()]  # type: ignore[union-attr]
    assert "".join(tokens) == ANSWERS[0]


def _memory() -> ChatMemoryBuffer:
    # The default Memory keeps an in-memory aiosqlite database on event loops LlamaIndex
    # creates and never closes (ResourceWarnings, errors under filterwarnings=error); a plain
    # buffer holds the same messages for what is checked here.
    return ChatMemoryBuffer.from_defaults(token_limit=4000)


def _check_memory(history: list[Any]) -> None:
    assistant = [m for m in history if m.role == "assistant"]
    assert [m.content for m in assistant] == ANSWERS
    for m in history:
        assert not any(isinstance(b, ThinkingBlock) for b in m.blocks)
        assert all(isinstance(b, TextBlock) for b in m.blocks)
        assert "SECRET" not in str(m.model_dump())


def _check_requests(bodies: list[dict[str, Any]]) -> None:
    assert len(bodies) == 3
    last = bodies[-1]["messages"]
    sent_answers = [m["content"] for m in last if m["role"] == "assistant"]
    assert sent_answers == ANSWERS[:2]  # earlier answers went back as plain text
    assert "SECRET" not in str(bodies)  # and no reasoning was echoed


@pytest.mark.usefixtures("close_default_loop")
def test_context_chat_engine_streams_answers_and_memory_holds_answers_only(
    index: VectorStoreIndex,
) -> None:
    recorder = Recorder(_by_turn)
    engine = index.as_chat_engine(chat_mode="context", llm=make_llm(recorder), memory=_memory())
    questions = ["Longest river?", "And the second?", "Where does the Pearl River go?"]
    for question, expected in zip(questions, ANSWERS, strict=True):
        streamed = engine.stream_chat(question)
        assert "".join(streamed.response_gen) == expected
    _check_memory(engine.chat_history)
    _check_requests(recorder.bodies)


async def test_context_chat_engine_async_streaming(index: VectorStoreIndex) -> None:
    recorder = Recorder(_by_turn)
    engine = index.as_chat_engine(chat_mode="context", llm=make_llm(recorder), memory=_memory())
    questions = ["Longest river?", "And the second?", "Where does the Pearl River go?"]
    for question, expected in zip(questions, ANSWERS, strict=True):
        streamed = await engine.astream_chat(question)
        assert "".join([t async for t in streamed.async_response_gen()]) == expected
    _check_memory(engine.chat_history)
    _check_requests(recorder.bodies)
