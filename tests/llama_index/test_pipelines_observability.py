"""What LlamaIndex's observers and memories read from ZhipuFlash, end to end and offline:
``TokenCountingHandler``, instrumentation events, ``ChatSummaryMemoryBuffer``, the chat
engines' ``is_function``, ``TokenCounter``.

Requests go to the GLM emulator on loopback (GLM's wire format; answers are not real model
output). Expected token counts are the emulator's own ``usage`` for the request it received.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Document, PromptTemplate, Settings, SummaryIndex
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.chat_engine.types import is_function
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMChatStartEvent,
    LLMStructuredPredictEndEvent,
)
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import ChatSummaryMemoryBuffer
from llama_index.core.tools import FunctionTool
from llama_index.core.utilities.token_counting import TokenCounter
from pydantic import BaseModel

from glm_emulator.logic import respond
from glm_emulator.server import EmulatorHTTPServer
from llama_index_zhipu_flash import ZhipuFlash


def add(a: int, b: int) -> int:
    """Add two integers and return the sum."""
    return a + b


TOOLS = [FunctionTool.from_defaults(add)]
HI = [ChatMessage(role="user", content="Hello")]


def _usage(body: dict[str, Any]) -> dict[str, int]:
    """The usage the emulator sent for this request (its answers are deterministic)."""
    chunks = respond(body).chunks
    assert chunks is not None
    usage: dict[str, int] = chunks[-1]["usage"]
    return usage


# -- TokenCountingHandler -----------------------------------------------------------------


async def test_token_counting_handler_reads_the_api_usage(emulator: EmulatorHTTPServer) -> None:
    counter = TokenCountingHandler()
    llm = ZhipuFlash(
        base_url=emulator.base_url, api_key="k.s", callback_manager=CallbackManager([counter])
    )
    llm.chat(HI)
    list(llm.stream_chat(HI))
    llm.complete("Hello")
    list(llm.stream_complete("Hello"))
    await llm.achat(HI)
    [r async for r in await llm.astream_chat(HI)]
    list(llm.stream_chat_with_tools(TOOLS, user_msg="add(2, 3)"))
    events = counter.llm_token_counts
    assert len(events) == len(emulator.bodies()) == 7
    for event, body in zip(events, emulator.bodies(), strict=True):
        usage = _usage(body)
        # From the API's usage (the raw response), not from a tokenizer's estimate.
        assert (event.prompt_token_count, event.completion_token_count) == (
            usage["prompt_tokens"],
            usage["completion_tokens"],
        )
    await llm.aclose()


@pytest.fixture
def counter() -> Iterator[TokenCountingHandler]:
    """A TokenCountingHandler on ``Settings.callback_manager``, where the docs put it (query
    engines hand their callback manager to the LLM)."""
    previous = Settings._callback_manager
    handler = TokenCountingHandler()
    Settings.callback_manager = CallbackManager([handler])
    try:
        yield handler
    finally:
        Settings._callback_manager = previous


@pytest.mark.usefixtures("close_default_loop")
def test_token_counting_through_a_streaming_query_engine(
    emulator: EmulatorHTTPServer, counter: TokenCountingHandler
) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")
    index = SummaryIndex.from_documents([Document(text="The Yangtze is 6,300 km long.")])
    engine = index.as_query_engine(llm=llm, streaming=True)
    assert "".join(engine.query("How long is the Yangtze?").response_gen)  # type: ignore[union-attr]
    (body,) = emulator.bodies()
    assert counter.prompt_llm_token_count == _usage(body)["prompt_tokens"]
    assert counter.completion_llm_token_count == _usage(body)["completion_tokens"]


def test_token_counter_estimates_histories_with_tool_calls(emulator: EmulatorHTTPServer) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")
    call = llm.chat_with_tools(TOOLS, user_msg="add(2, 3)").message
    result = ChatMessage(role="tool", content="5", additional_kwargs={"tool_call_id": "x"})
    history = [HI[0], call, result]
    # The calls count once, through their ToolCallBlocks (its tool_calls branch reads SDK
    # objects' attributes and skips plain dicts, so nothing is counted twice).
    with_calls = TokenCounter().estimate_tokens_in_messages(history)
    without = TokenCounter().estimate_tokens_in_messages([HI[0], result])
    assert with_calls > without + len('{"a": 2, "b": 3}') // 4


# -- instrumentation ----------------------------------------------------------------------


class _Collect(BaseEventHandler):
    events: list[BaseEvent]

    @classmethod
    def class_name(cls) -> str:
        return "Collect"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


@pytest.fixture
def events() -> Iterator[list[BaseEvent]]:
    handler = _Collect(events=[])
    root = get_dispatcher()
    root.add_event_handler(handler)
    try:
        yield handler.events
    finally:
        root.event_handlers.remove(handler)


def test_instrumentation_events_of_a_streamed_tool_call(
    emulator: EmulatorHTTPServer, events: list[BaseEvent]
) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")
    responses = list(llm.stream_chat_with_tools(TOOLS, user_msg="add(2, 3)"))
    starts = [e for e in events if isinstance(e, LLMChatStartEvent)]
    progress = [e for e in events if isinstance(e, LLMChatInProgressEvent)]
    (end,) = [e for e in events if isinstance(e, LLMChatEndEvent)]
    assert len(starts) == 1
    assert [e.response for e in progress] == responses  # one event per streamed response
    assert end.response is responses[-1]
    message = end.response.message
    (listed,) = message.additional_kwargs["tool_calls"]
    assert listed["function"] == {"name": "add", "arguments": '{"a": 2, "b": 3}'}
    assert end.response.raw["usage"] == _usage(emulator.bodies()[0])


class Song(BaseModel):
    title: str
    year: int


def test_structured_predict_events_carry_the_object(
    emulator: EmulatorHTTPServer, events: list[BaseEvent]
) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")
    prompt = PromptTemplate("Make up a song called {name}, released in {year}.")
    song = llm.structured_predict(Song, prompt, name="'Blue Moon'", year=1999)
    (end,) = [e for e in events if isinstance(e, LLMStructuredPredictEndEvent)]
    assert end.output == song == Song(title="Blue Moon", year=1999)


# -- memories and chat engines ------------------------------------------------------------


def test_chat_summary_memory_summarises_tool_calls(emulator: EmulatorHTTPServer) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")
    call = llm.chat_with_tools(TOOLS, user_msg="add(2, 3)").message
    assert is_function(call)  # what the chat engines check
    assert not is_function(llm.chat(HI).message)
    (listed,) = call.additional_kwargs["tool_calls"]
    memory = ChatSummaryMemoryBuffer.from_defaults(llm=llm, token_limit=40)
    for message in [
        ChatMessage(role="user", content="add(2, 3)"),
        call,
        ChatMessage(role="tool", content="5", additional_kwargs={"tool_call_id": listed["id"]}),
        ChatMessage(role="assistant", content="The result is 5."),
        ChatMessage(role="user", content="Thanks! " + "And what else? " * 8),
    ]:
        memory.put(message)
    memory.get()  # over the limit: older messages are summarised by the LLM
    summary_request = emulator.bodies()[-1]["messages"][-1]["content"]
    # The call has no text: the summary prompt shows it from additional_kwargs["tool_calls"].
    assert "Calling a function: {'id': " in summary_request
    assert "'name': 'add'" in summary_request
