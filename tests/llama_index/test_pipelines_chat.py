"""ZhipuFlash in LlamaIndex chat engines, end to end and offline: every chat mode over three
turns with a thinking model, sync and async, streamed and not; preserved thinking; and a
token-limited ``Memory`` with long reasoning.

Requests go to the GLM emulator on loopback (GLM's wire format; answers are not real model
output: it answers a question over given context with the sentence sharing most words with
it, repeats a follow-up asked to be made standalone, and reasons first), or, for the memory
test, to a loopback server replaying a long-reasoning answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.llms.types import ThinkingBlock
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.memory import ChatMemoryBuffer, Memory

from glm_emulator.server import EmulatorHTTPServer
from llama_index_zhipu_flash import ZhipuFlash
from tests.faults.server import FaultServer, Respond, fault_server
from tests.llama_index._support import SYNTHESIZERS_STREAM_TOKENS, answer

DOCS = [
    Document(text="The Yangtze is the longest river in China, about 6,300 km long."),
    Document(text="The Yellow River is the second longest river in China."),
    Document(text="The Pearl River flows through Guangzhou into the South China Sea."),
]
QUESTIONS = [
    "Which river is the longest, and how long is it?",
    "Which river is the second longest?",
    "Where does the Pearl River flow?",
]
# Each question shares the most words with one document, in order.
GROUNDED = [d.text for d in DOCS]
# The emulator's reasoning always quotes what the user wrote or asked.
REASONING_MARKS = ("The user wrote", "The user asks", "The user wants")
MODES = ["simple", "condense_question", "context", "condense_plus_context"]


@pytest.fixture
def index(mock_embeddings: None) -> VectorStoreIndex:
    return VectorStoreIndex.from_documents(DOCS)


def _engine(index: VectorStoreIndex, mode: str, llm: ZhipuFlash) -> Any:
    # A plain buffer: the default Memory keeps an aiosqlite database on event loops that the
    # sync paths create and never close. Memory itself is tested below, on one loop.
    memory = ChatMemoryBuffer.from_defaults(token_limit=8000)
    return index.as_chat_engine(chat_mode=mode, llm=llm, memory=memory, similarity_top_k=3)


def _check_turns(mode: str, answers: list[str], engine: Any, bodies: list[dict[str, Any]]) -> None:
    # What the user saw: the grounded answers (the simple engine has no context), no reasoning.
    if mode != "simple":
        assert answers == GROUNDED
    for text in answers:
        assert text.strip()
        assert not any(mark in text for mark in REASONING_MARKS)
    # What the engine remembers: three turns, the answers as shown, no reasoning in the text.
    history = engine.chat_history
    assert [m.role.value for m in history] == ["user", "assistant"] * 3
    assert [m.content for m in history if m.role.value == "assistant"] == answers
    assert [m.content for m in history if m.role.value == "user"] == QUESTIONS
    # What went on the wire: earlier answers as plain assistant text, never their reasoning
    # (clear_thinking is unset: earlier turns' reasoning stays out).
    assert bodies
    for body in bodies:
        assert body["model"] == "glm-4.7-flash"
        for message in body["messages"]:
            assert "reasoning_content" not in message
    last = bodies[-1]["messages"]
    if mode == "condense_question":
        # The history goes into the condense prompt; the last request is the query itself.
        condense = bodies[-2]["messages"][-1]["content"]
        assert answers[0] in condense and answers[1] in condense
    else:
        assert [m["content"] for m in last if m["role"] == "assistant"] == answers[:2]
        assert [m["content"] for m in last if m["role"] == "user"] == QUESTIONS


@pytest.mark.usefixtures("close_default_loop")
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("streaming", [False, True], ids=["chat", "stream_chat"])
def test_every_chat_mode_over_three_turns(
    emulator: EmulatorHTTPServer, index: VectorStoreIndex, mode: str, streaming: bool
) -> None:
    llm = ZhipuFlash(model="glm-4.7-flash", base_url=emulator.base_url, api_key="k.s")
    engine = _engine(index, mode, llm)
    answers = []
    for question in QUESTIONS:
        if streaming:
            response = engine.stream_chat(question)
            tokens = list(response.response_gen)
            if SYNTHESIZERS_STREAM_TOKENS or mode == "simple":
                assert len(tokens) > 3  # streamed, not handed over in one piece
            answers.append("".join(tokens))
        else:
            answers.append(str(engine.chat(question)))
    _check_turns(mode, answers, engine, emulator.bodies())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("streaming", [False, True], ids=["achat", "astream_chat"])
async def test_every_chat_mode_over_three_turns_async(
    emulator: EmulatorHTTPServer, index: VectorStoreIndex, mode: str, streaming: bool
) -> None:
    llm = ZhipuFlash(model="glm-4.7-flash", base_url=emulator.base_url, api_key="k.s")
    engine = _engine(index, mode, llm)
    answers = []
    for question in QUESTIONS:
        if streaming:
            response = await engine.astream_chat(question)
            answers.append("".join([t async for t in response.async_response_gen()]))
        else:
            answers.append(str(await engine.achat(question)))
    _check_turns(mode, answers, engine, emulator.bodies())
    await llm.aclose()


@pytest.mark.usefixtures("close_default_loop")
@pytest.mark.parametrize(
    ("streaming", "in_kwargs", "sent_back"),
    [
        (False, True, True),
        (False, False, True),  # chat() stores the whole message: the ThinkingBlock carries it
        (True, True, True),
        # A streaming engine stores only the answer's text block (llama-index-core replaces
        # the blocks), so the reasoning survives only in additional_kwargs.
        (True, False, False),
    ],
)
def test_preserved_thinking_through_a_simple_chat_engine(
    emulator: EmulatorHTTPServer, streaming: bool, in_kwargs: bool, sent_back: bool
) -> None:
    llm = ZhipuFlash(
        base_url=emulator.base_url,
        api_key="k.s",
        clear_thinking=False,
        reasoning_in_additional_kwargs=in_kwargs,
    )
    engine = SimpleChatEngine.from_defaults(
        llm=llm, memory=ChatMemoryBuffer.from_defaults(token_limit=8000)
    )
    for question in QUESTIONS:
        if streaming:
            assert "".join(engine.stream_chat(question).response_gen)
        else:
            engine.chat(question)
    last = emulator.bodies()[-1]
    assert last["thinking"] == {"type": "enabled", "clear_thinking": False}
    echoed = [m.get("reasoning_content") for m in last["messages"] if m["role"] == "assistant"]
    if sent_back:
        assert len(echoed) == 2
        assert all(text and text.startswith("The user wrote") for text in echoed)
    else:
        assert echoed == [None, None]
    stored = [b for m in engine.chat_history for b in m.blocks if isinstance(b, ThinkingBlock)]
    assert len(stored) == (0 if streaming else 3)


# -- a token-limited Memory and long reasoning ---------------------------------------------

# About 2,400 tokens of reasoning per answer, as a thinking model writes for a real question.
LONG_REASONING = " ".join(
    f"Step {i}: weigh what the user asked against what I know." for i in range(200)
)


@pytest.fixture
def long_thinker() -> Iterator[FaultServer]:
    """A loopback server answering every request with a long-reasoning glm-4.7-flash
    stream (the adapter tests' synthetic chunks, in GLM's shape)."""
    body = answer("Noted, and here is my short answer.", reasoning=LONG_REASONING)
    with fault_server() as server:
        server.script("think", Respond(200, body, (("Content-Type", "text/event-stream"),)))
        yield server


@pytest.mark.parametrize(
    ("in_kwargs", "history_kept"),
    [(False, True), (True, False)],
    ids=["reasoning-in-blocks-only", "reasoning-in-additional_kwargs"],
)
@pytest.mark.parametrize("streaming", [False, True], ids=["achat", "astream_chat"])
async def test_memory_with_a_token_limit_keeps_the_history(
    long_thinker: FaultServer, in_kwargs: bool, history_kept: bool, streaming: bool
) -> None:
    # Memory counts str(message.additional_kwargs) against its limit; with the reasoning
    # there a glm-4.7-flash chat engine evicts its whole history by the third turn, although
    # the reasoning is never sent back. reasoning_in_additional_kwargs=False keeps it only in
    # the ThinkingBlock, which Memory does not count.
    llm = ZhipuFlash(
        base_url=long_thinker.url("think"),
        api_key="k.s",
        reasoning_in_additional_kwargs=in_kwargs,
    )
    memory = Memory.from_defaults(token_limit=3000)
    engine = SimpleChatEngine.from_defaults(llm=llm, memory=memory)
    try:
        for question in QUESTIONS:
            if streaming:
                response = await engine.astream_chat(question)
                text = "".join([t async for t in response.async_response_gen()])
            else:
                text = str(await engine.achat(question))
            assert text == "Noted, and here is my short answer."
            assert "Step 1:" not in text
    finally:
        await memory.sql_store._async_engine.dispose()  # an in-memory aiosqlite database
        await llm.aclose()
    last = long_thinker.received("think")[-1].json()["messages"]
    sent = [m["content"] for m in last if m["role"] == "user"]
    if history_kept:
        assert sent == QUESTIONS
    else:
        assert sent == QUESTIONS[-1:]  # the first two turns were evicted
    assert all("reasoning_content" not in m for m in last)
