"""ChatZhipuFlash inside LangChain's and LangGraph's own machinery, end to end and offline.

Every test drives the model through the frameworks' consumers (``create_agent``, a
``StateGraph`` with ``ToolNode``, LCEL, ``astream_events``, ``batch``, message history, usage
callbacks, the LLM cache, serialization) against the local GLM emulator over real loopback
sockets: the model's own HTTP clients, nothing of ours mocked. Each test checks what was sent
(the emulator keeps every request body) as well as what came back. The emulator's answers are
rules, not a model (glm_emulator/README.md): these tests prove the plumbing, not GLM.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import pickle
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.caches import InMemoryCache
from langchain_core.callbacks import UsageMetadataCallbackHandler, get_usage_metadata_callback
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.exceptions import OutputParserException
from langchain_core.globals import set_llm_cache
from langchain_core.load import dumpd, dumps, loads
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    trim_messages,
)
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from pydantic import BaseModel
from typing_extensions import TypedDict

import zhipu_flash as zf
from glm_emulator import frames
from glm_emulator.server import EmulatorHTTPServer, serving_emulator
from langchain_zhipu_flash import ChatZhipuFlash

KEY = "pipeline-key.not-a-secret"
TEXT_MODELS = ["glm-4.7-flash", "glm-4-flash-250414"]
STRUCTURED_MODELS = [*TEXT_MODELS, "glm-4.6v-flash"]
ASK = "What is the weather in Hangzhou?"


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny and 23 degrees in {city}."


class WeatherReport(BaseModel):
    """A weather report for one city."""

    city: str
    temperature_c: int
    conditions: str


class WeatherDict(TypedDict):
    """A weather report for one city."""

    city: str
    temperature_c: int


WEATHER_SCHEMA: dict[str, Any] = {
    "title": "weather_report",
    "description": "A weather report for one city.",
    "type": "object",
    "properties": {"city": {"type": "string"}, "temperature_c": {"type": "integer"}},
    "required": ["city", "temperature_c"],
}


@pytest.fixture
def emulator() -> Iterator[EmulatorHTTPServer]:
    with serving_emulator() as server:
        yield server


def glm(server: EmulatorHTTPServer, model: str = "glm-4.7-flash", **kwargs: Any) -> ChatZhipuFlash:
    return ChatZhipuFlash(
        model=model, base_url=server.base_url, api_key=KEY, max_retries=0, **kwargs
    )


def chats(server: EmulatorHTTPServer) -> list[dict[str, Any]]:
    return list(server.bodies("chat/completions"))


def run(mode: str, sync: Callable[[], Any], coroutine: Callable[[], Any]) -> Any:
    return sync() if mode == "sync" else asyncio.run(coroutine())


def kinds(messages: list[BaseMessage]) -> list[str]:
    return [type(m).__name__ for m in messages]


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


# -- create_agent ----------------------------------------------------------------------------


@MODES
def test_agent_tool_loop_sends_the_reasoning_back_with_the_tool_results(
    emulator: EmulatorHTTPServer, mode: str
) -> None:
    agent = create_agent(glm(emulator), [get_weather])
    state = {"messages": [HumanMessage(ASK)]}
    result = run(mode, lambda: agent.invoke(state), lambda: agent.ainvoke(state))
    messages = result["messages"]
    assert kinds(messages) == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    call, answer = messages[1], messages[3]
    assert call.tool_calls[0]["name"] == "get_weather"
    assert call.tool_calls[0]["args"] == {"city": "Hangzhou"}
    assert "23 degrees" in answer.text
    first, second = chats(emulator)
    assert first["tools"][0]["function"]["name"] == "get_weather"
    # Interleaved thinking: the assistant turn of the current tool loop goes back with its
    # reasoning, next to the tool result it asked for.
    assistant, tool_result = second["messages"][1], second["messages"][2]
    assert assistant["reasoning_content"] == call.additional_kwargs["reasoning_content"]
    assert assistant["tool_calls"][0]["id"] == call.tool_calls[0]["id"]
    assert tool_result == {
        "role": "tool",
        "content": "It is sunny and 23 degrees in Hangzhou.",
        "tool_call_id": call.tool_calls[0]["id"],
    }


@pytest.mark.parametrize("model", STRUCTURED_MODELS)
@MODES
def test_agent_response_format_gives_a_valid_structured_response(
    emulator: EmulatorHTTPServer, model: str, mode: str
) -> None:
    llm = glm(emulator, model)
    assert llm.profile is not None and llm.profile["structured_output"] is True
    agent = create_agent(llm, [get_weather], response_format=WeatherReport)
    state = {"messages": [HumanMessage(ASK)]}
    result = run(mode, lambda: agent.invoke(state), lambda: agent.ainvoke(state))
    report = result["structured_response"]
    assert isinstance(report, WeatherReport)
    assert (report.city, report.temperature_c) == ("Hangzhou", 23)
    assert kinds(result["messages"]) == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    sent = chats(emulator)
    assert len(sent) == 2
    for body in sent:
        # No json_schema reaches GLM: JSON mode on text models, the prompt alone on vision.
        assert "json_schema" not in json.dumps(body)
        expected = None if model == "glm-4.6v-flash" else {"type": "json_object"}
        assert body.get("response_format") == expected
        system = body["messages"][0]
        assert system["role"] == "system"
        assert '"temperature_c"' in system["content"]
        assert "Call the tools you need first" in system["content"]
        assert body["tools"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize("schema", [WeatherDict, WEATHER_SCHEMA], ids=["typeddict", "json"])
@MODES
def test_agent_response_format_without_tools_for_other_schema_kinds(
    emulator: EmulatorHTTPServer, schema: Any, mode: str
) -> None:
    agent = create_agent(glm(emulator, "glm-4-flash-250414"), [], response_format=schema)
    state = {"messages": [HumanMessage("Report the weather in Hangzhou. It is 23 degrees.")]}
    result = run(mode, lambda: agent.invoke(state), lambda: agent.ainvoke(state))
    assert result["structured_response"] == {"city": "Hangzhou", "temperature_c": 23}
    [body] = chats(emulator)
    assert body["response_format"] == {"type": "json_object"}
    assert "tools" not in body
    assert body["messages"][0]["content"].startswith("Your final answer must be one JSON object")


def test_a_bound_json_schema_answer_that_does_not_match_raises_with_the_text(
    emulator: EmulatorHTTPServer,
) -> None:
    # The emulator fills every property of the schema it finds in the prompt; here the
    # response_format asks for a property that schema never mentions, so the answer lacks it.
    strict_format = {
        "type": "json_schema",
        "json_schema": {
            "name": "report",
            "schema": {**WEATHER_SCHEMA, "required": ["city", "temperature_c", "humidity"]},
        },
    }
    model = glm(emulator, "glm-4-flash-250414").bind(response_format=strict_format)
    with pytest.raises(OutputParserException, match="humidity") as info:
        model.invoke("Report the weather in Hangzhou. It is 23 degrees.")
    assert json.loads(str(info.value.llm_output)) == {"city": "Hangzhou", "temperature_c": 23}
    chunks: list[AIMessageChunk] = []
    with pytest.raises(OutputParserException, match="humidity"):
        chunks.extend(model.stream("Report the weather in Hangzhou. It is 23 degrees."))
    # Everything GLM sent was handed out before the error, usage and all.
    assert chunks[-1].chunk_position == "last" and chunks[-1].usage_metadata is not None


@MODES
def test_agent_stream_modes_messages_and_updates(emulator: EmulatorHTTPServer, mode: str) -> None:
    agent = create_agent(glm(emulator), [get_weather])
    state = {"messages": [HumanMessage(ASK)]}

    def collect(stream_mode: str) -> list[Any]:
        if mode == "sync":
            return list(agent.stream(state, stream_mode=stream_mode))

        async def go() -> list[Any]:
            return [event async for event in agent.astream(state, stream_mode=stream_mode)]

        return list(asyncio.run(go()))

    updates = collect("updates")
    assert [next(iter(u)) for u in updates] == ["model", "tools", "model"]
    assert kinds(updates[1]["tools"]["messages"]) == ["ToolMessage"]
    messages = collect("messages")
    from_model = [m for m, meta in messages if meta["langgraph_node"] == "model"]
    reasoning = "".join(m.additional_kwargs.get("reasoning_content", "") for m in from_model)
    assert "get_weather" in reasoning  # the first turn's reasoning
    assert "23 degrees" in "".join(m.text for m in from_model)
    sent = [b.get("stream") for b in chats(emulator)]
    if mode == "async" and sys.version_info < (3, 11):
        # Before 3.11 asyncio cannot hand a task the caller's context, so LangGraph cannot
        # attach its streaming handler to the model call create_agent makes: "messages" mode
        # then gets each node's whole message, and the model is not asked to stream.
        assert all(type(m) is AIMessage for m in from_model)
        assert sent == [None] * 4
        return
    assert all(isinstance(m, AIMessageChunk) for m in from_model)  # token by token
    assert any(c.get("name") == "get_weather" for m in from_model for c in m.tool_call_chunks)
    # With a streaming consumer the model streams: those requests asked for SSE.
    assert sent == [None, None, True, True]


def test_agent_with_a_checkpointer_across_two_turns(emulator: EmulatorHTTPServer) -> None:
    agent = create_agent(glm(emulator), [get_weather], checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t-1"}}
    agent.invoke({"messages": [HumanMessage(ASK)]}, config)
    second = agent.invoke({"messages": [HumanMessage("And in Beijing?")]}, config)
    assert kinds(second["messages"]) == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert second["messages"][5].tool_calls[0]["args"] == {"city": "Beijing"}
    sent = chats(emulator)
    assert len(sent) == 4
    history = sent[3]["messages"]
    assert [m["role"] for m in history] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "assistant",
        "tool",
    ]
    # Turn one's reasoning stays home (clear_thinking is GLM's default); turn two's tool
    # loop gets its own back.
    assert "reasoning_content" not in history[1] and "reasoning_content" not in history[3]
    assert (
        history[5]["reasoning_content"]
        == second["messages"][5].additional_kwargs["reasoning_content"]
    )


# -- LangGraph -------------------------------------------------------------------------------


@MODES
def test_stategraph_with_toolnode(emulator: EmulatorHTTPServer, mode: str) -> None:
    model = glm(emulator).bind_tools([get_weather])

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    async def acall_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", call_model if mode == "sync" else acall_model)
    graph.add_node("tools", ToolNode([get_weather]))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition)
    graph.add_edge("tools", "model")
    app = graph.compile()
    state = {"messages": [HumanMessage(ASK)]}
    result = run(mode, lambda: app.invoke(state), lambda: app.ainvoke(state))
    assert kinds(result["messages"]) == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    assert "23 degrees" in result["messages"][-1].text
    second = chats(emulator)[1]
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool"]
    assert second["messages"][1]["reasoning_content"]
    _ = END


# -- with_structured_output ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["json_mode", "json_schema", "function_calling"])
@pytest.mark.parametrize("schema", [WeatherReport, WEATHER_SCHEMA], ids=["pydantic", "json"])
@MODES
def test_with_structured_output_every_method(
    emulator: EmulatorHTTPServer, method: str, schema: Any, mode: str
) -> None:
    structured = glm(emulator).with_structured_output(schema, method=method)  # type: ignore[arg-type]
    prompt = "Report the weather in Hangzhou. It is 23 degrees and sunny."
    result = run(mode, lambda: structured.invoke(prompt), lambda: structured.ainvoke(prompt))
    if schema is WeatherReport:
        assert isinstance(result, WeatherReport)
        assert (result.city, result.temperature_c) == ("Hangzhou", 23)
    else:
        assert result == {"city": "Hangzhou", "temperature_c": 23}
    [body] = chats(emulator)
    if method == "function_calling":
        assert body["tool_choice"] == "auto"
        assert "response_format" not in body
        assert body["tools"][0]["function"]["parameters"]["required"][:2] == [
            "city",
            "temperature_c",
        ]
    else:
        assert body["response_format"] == {"type": "json_object"}
        assert body["messages"][0]["role"] == "system"
        assert '"temperature_c"' in body["messages"][0]["content"]
        assert "tools" not in body


def test_with_structured_output_include_raw_and_streaming(emulator: EmulatorHTTPServer) -> None:
    model = glm(emulator)
    raw = model.with_structured_output(WeatherReport, include_raw=True).invoke(
        "Report the weather in Hangzhou. It is 23 degrees and sunny."
    )
    assert isinstance(raw["raw"], AIMessage) and raw["parsing_error"] is None
    assert raw["raw"].additional_kwargs["reasoning_content"]
    structured = model.with_structured_output(WEATHER_SCHEMA)
    partials = list(structured.stream("Report the weather in Hangzhou. It is 23 degrees."))
    assert partials[-1] == {"city": "Hangzhou", "temperature_c": 23}
    assert len(partials) > 1  # parsed as the JSON streams in
    assert chats(emulator)[1]["stream"] is True


# -- LCEL, events, batch ----------------------------------------------------------------------


@MODES
def test_lcel_streaming_matches_invoke(emulator: EmulatorHTTPServer, mode: str) -> None:
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")])
    chain = prompt | glm(emulator) | StrOutputParser()
    q = {"q": "Write a haiku about the sea."}

    async def astream() -> list[str]:
        return [piece async for piece in chain.astream(q)]

    pieces = list(chain.stream(q)) if mode == "sync" else asyncio.run(astream())
    assert len(pieces) > 3
    whole = chain.invoke(q)
    assert "".join(pieces) == whole
    streamed, invoked = chats(emulator)
    assert streamed["stream"] is True and "stream" not in invoked
    assert (
        streamed["messages"]
        == invoked["messages"]
        == [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Write a haiku about the sea."},
        ]
    )


def test_astream_events_carry_reasoning_then_text(emulator: EmulatorHTTPServer) -> None:
    model = glm(emulator)

    async def events() -> list[dict[str, Any]]:
        return [e async for e in model.astream_events("Hello!", version="v2")]

    seen = asyncio.run(events())
    names = [e["event"] for e in seen]
    assert names[0] == "on_chat_model_start" and names[-1] == "on_chat_model_end"
    chunks = [e["data"]["chunk"] for e in seen if e["event"] == "on_chat_model_stream"]
    first_text = next(i for i, c in enumerate(chunks) if c.text)
    assert chunks[0].additional_kwargs["reasoning_content"]
    assert all(not c.text for c in chunks[:first_text])
    output = seen[-1]["data"]["output"]
    assert output.text == "Hello! How can I help you today?"
    assert output.usage_metadata["input_tokens"] > 0
    [body] = chats(emulator)
    assert body["stream"] is True and body["messages"] == [{"role": "user", "content": "Hello!"}]


@MODES
def test_batch_and_abatch_keep_order(emulator: EmulatorHTTPServer, mode: str) -> None:
    model = glm(emulator, "glm-4-flash-250414")
    prompts = [f"What is {n} + {n}?" for n in range(5)]
    config = {"max_concurrency": 5}
    answers = run(mode, lambda: model.batch(prompts, config), lambda: model.abatch(prompts, config))
    assert [a.text for a in answers] == [f"{n} + {n} = {2 * n}." for n in range(5)]
    asked = sorted(b["messages"][0]["content"] for b in chats(emulator))
    assert asked == sorted(prompts)


# -- max_concurrency: a server that makes requests pile up -----------------------------------

CAP = 2
N = 6


def _threads(work: Callable[[int], Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=N) as pool:
        return list(pool.map(work, range(N)))


def _concurrent(model: ChatZhipuFlash, kind: str) -> list[str]:
    prompt = [f"What is {n} + 1?" for n in range(N)]
    if kind == "invoke":
        return [m.text for m in _threads(lambda n: model.invoke(prompt[n]))]
    if kind == "stream":
        return _threads(lambda n: "".join(c.text for c in model.stream(prompt[n])))
    if kind == "batch":
        return [m.text for m in model.batch(prompt, {"max_concurrency": N})]
    if kind == "abatch":
        return [m.text for m in asyncio.run(model.abatch(prompt, {"max_concurrency": N}))]
    if kind == "astream":

        async def one(n: int) -> str:
            return "".join([c.text async for c in model.astream(prompt[n])])

        async def gather() -> list[str]:
            return list(await asyncio.gather(*(one(n) for n in range(N))))

        return asyncio.run(gather())
    if kind in ("agent", "aagent"):
        agent = create_agent(model, [])
        states = [{"messages": [HumanMessage(p)]} for p in prompt]
        config = {"max_concurrency": N}
        if kind == "agent":
            results = agent.batch(states, config)
        else:
            results = asyncio.run(agent.abatch(states, config))
        return [r["messages"][-1].text for r in results]
    assert kind == "mixed"  # threads and an event loop at once, on one model
    out: list[str] = []

    def sync_half() -> None:
        out.extend(m.text for m in model.batch(prompt[:3], {"max_concurrency": 3}))

    thread = threading.Thread(target=sync_half)
    thread.start()
    out.extend(m.text for m in asyncio.run(model.abatch(prompt[3:], {"max_concurrency": 3})))
    thread.join(30)
    return sorted(out)


@pytest.mark.parametrize(
    "kind", ["invoke", "stream", "batch", "abatch", "astream", "agent", "aagent", "mixed"]
)
def test_max_concurrency_caps_requests_in_flight(kind: str) -> None:
    # Each request waits at the server until CAP + 1 are in flight (or a moment passed), so
    # without the cap the N concurrent calls pile up past CAP; with it, CAP at a time arrive.
    with serving_emulator(hold=CAP + 1) as server:
        model = glm(server, "glm-4-flash-250414", max_concurrency=CAP)
        answers = _concurrent(model, kind)
    assert sorted(answers) == sorted(f"{n} + 1 = {n + 1}." for n in range(N))
    assert len(chats(server)) == N
    assert server.peak_in_flight == CAP


# -- history, usage, cache ----------------------------------------------------------------------


# Both are deprecated in favour of LangGraph persistence (tested above) and still widely used.
@pytest.mark.filterwarnings("ignore:RunnableWithMessageHistory is deprecated")
@pytest.mark.filterwarnings("ignore:The class `InMemoryChatMessageHistory` was deprecated")
def test_runnable_with_message_history(emulator: EmulatorHTTPServer) -> None:
    store: dict[str, InMemoryChatMessageHistory] = {}

    def history(session_id: str) -> InMemoryChatMessageHistory:
        return store.setdefault(session_id, InMemoryChatMessageHistory())

    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are brief."), MessagesPlaceholder("history"), ("human", "{question}")]
    )
    chain = RunnableWithMessageHistory(
        prompt | glm(emulator),
        history,
        input_messages_key="question",
        history_messages_key="history",
    )
    config = {"configurable": {"session_id": "s-1"}}
    first = chain.invoke({"question": "Hello!"}, config)
    chain.invoke({"question": "What is 2 + 3?"}, config)
    assert kinds(store["s-1"].messages) == [
        "HumanMessage",
        "AIMessage",
        "HumanMessage",
        "AIMessage",
    ]
    assert store["s-1"].messages[1].additional_kwargs["reasoning_content"]
    second = chats(emulator)[1]["messages"]
    assert second == [
        {"role": "system", "content": "You are brief."},
        {"role": "user", "content": "Hello!"},
        {"role": "assistant", "content": first.text},  # an earlier turn: no reasoning
        {"role": "user", "content": "What is 2 + 3?"},
    ]


@MODES
def test_usage_callbacks_add_up_every_request(emulator: EmulatorHTTPServer, mode: str) -> None:
    agent = create_agent(glm(emulator), [get_weather])
    state = {"messages": [HumanMessage(ASK)]}
    if mode == "sync":
        handler = UsageMetadataCallbackHandler()
        result = agent.invoke(state, {"callbacks": [handler]})
        usage = handler.usage_metadata
    else:
        # The context manager, not config callbacks: before Python 3.11 LangGraph cannot pass
        # a run's config into the model call create_agent makes in a task (see above).
        async def go() -> tuple[dict[str, Any], dict[str, Any]]:
            with get_usage_metadata_callback() as callback:
                return await agent.ainvoke(state), dict(callback.usage_metadata)

        result, usage = asyncio.run(go())
    answers = [m for m in result["messages"] if isinstance(m, AIMessage)]
    total_in = sum(m.usage_metadata["input_tokens"] for m in answers if m.usage_metadata)
    total_out = sum(m.usage_metadata["output_tokens"] for m in answers if m.usage_metadata)
    assert set(usage) == {"glm-4.7-flash"}
    assert usage["glm-4.7-flash"]["input_tokens"] == total_in > 0
    assert usage["glm-4.7-flash"]["output_tokens"] == total_out > 0
    assert len(chats(emulator)) == len(answers) == 2


@pytest.fixture
def llm_cache() -> Iterator[InMemoryCache]:
    cache = InMemoryCache()
    set_llm_cache(cache)
    try:
        yield cache
    finally:
        set_llm_cache(None)


@pytest.mark.parametrize(
    "change",
    [
        {"extra_body": {"meta": {"trace": "b"}}},
        {"model_kwargs": {"user_id": "user-000002"}},
        {"stop": ["sea"]},
        {"tool_stream": True},
        {"reasoning_effort": "high"},
        {"response_format": {"type": "json_object"}},
        {"user_id": "user-000002"},
        {"do_sample": False},
        {"thinking": False},
        {"max_tokens": 64},
    ],
    ids=lambda change: next(iter(change)),
)
def test_llm_cache_keys_on_every_request_setting(
    emulator: EmulatorHTTPServer, llm_cache: InMemoryCache, change: dict[str, Any]
) -> None:
    # glm-5.2 takes every setting below (reasoning_effort included: GLM-5.2 and later).
    settings: dict[str, Any] = {
        "model": "glm-5.2",
        "extra_body": {"meta": {"trace": "a"}},
        "user_id": "user-000001",
    }
    base = glm(emulator, **settings)
    prompt = "Write a haiku about the sea."
    base.invoke(prompt)
    base.invoke(prompt)
    assert len(chats(emulator)) == 1  # the second came from the cache
    # One setting changed through model_copy after the first call: a different request, so
    # never answered from the cache. (BaseChatModel caches its serialized form, the cache
    # key, on first use; a copy must not inherit it.)
    base.model_copy(update=change).invoke(prompt)
    assert len(chats(emulator)) == 2
    # A model built with the same settings makes the same request: that one is cached.
    glm(emulator, **{**settings, **change}).invoke(prompt)
    assert len(chats(emulator)) == 2
    changed = glm(emulator, **{**settings, **change})
    assert base._identifying_params != changed._identifying_params
    assert base._get_llm_string() != changed._get_llm_string()


# -- event loops, copies, serialization, closing ----------------------------------------------

_MODULE_LEVEL: dict[str, ChatZhipuFlash] = {}


def test_two_asyncio_runs_with_one_model(emulator: EmulatorHTTPServer) -> None:
    # A model made once (module level, a notebook cell) and used from several event loops.
    _MODULE_LEVEL["m"] = glm(emulator, "glm-4-flash-250414")

    async def ask() -> str:
        return (await _MODULE_LEVEL["m"].ainvoke("Hello!")).text

    async def stream() -> str:
        return "".join([c.text async for c in _MODULE_LEVEL["m"].astream("Hello!")])

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answers = [
            asyncio.run(ask()),
            asyncio.run(ask()),
            asyncio.run(stream()),
            asyncio.run(stream()),
        ]
        _MODULE_LEVEL.clear()  # and the model is dropped
        gc.collect()
    assert answers == ["Hello! How can I help you today?"] * 4
    assert len(chats(emulator)) == 4
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


@MODES
def test_model_copy_after_first_use_reaches_the_new_server_with_the_new_key(mode: str) -> None:
    with serving_emulator() as old, serving_emulator() as new:
        model = glm(old)
        run(mode, lambda: model.invoke("Hello!"), lambda: model.ainvoke("Hello!"))
        moved = model.model_copy(update={"base_url": new.base_url, "api_key": "new-key.k"})

        async def both() -> None:
            await moved.ainvoke("Hello!")
            await model.ainvoke("Hello!")

        run(mode, lambda: (moved.invoke("Hello!"), model.invoke("Hello!")), both)
    assert [r.authorization for r in old.received] == [f"Bearer {KEY}"] * 2
    assert [r.authorization for r in new.received] == ["Bearer new-key.k"]


def test_model_copy_changes_timeout_and_retries_at_the_next_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.faults.server import Respond, Stall, error, fault_server, sse
    from tests.unit._helpers import DONE, USAGE, chunk

    monkeypatch.setattr(zf.ZhipuClient, "_sleep", staticmethod(lambda seconds: None))
    ok = frames.compact(frames.completion(content="ok", id="r"))
    with fault_server() as server:
        busy = error(503, None, "busy")
        url = server.script("flaky", busy, busy, Respond(200, ok))
        model = ChatZhipuFlash(base_url=url, api_key=KEY, max_retries=0)
        with pytest.raises(zf.InternalServerError):
            model.invoke("hi")
        assert model.model_copy(update={"max_retries": 1}).invoke("hi").text == "ok"
        assert server.count("flaky") == 3  # one try, then one try and one retry

        slow = server.script("slow", sse(Stall(1.0), chunk("ok", finish="stop", usage=USAGE), DONE))
        model = ChatZhipuFlash(base_url=slow, api_key=KEY, max_retries=0, timeout=0.2)
        with pytest.raises(zf.APIConnectionError):  # the read timed out mid-stream
            model.invoke("hi", stream=True)
        assert model.model_copy(update={"timeout": 10.0}).invoke("hi", stream=True).text == "ok"


@pytest.mark.filterwarnings("ignore:The function `loads` is in beta")
def test_dumps_loads_round_trip_without_the_secret(
    emulator: EmulatorHTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    monkeypatch.setenv("ZHIPUAI_API_KEY", "env-secret.value")
    model = ChatZhipuFlash(
        model="glm-4.7-flash",
        base_url=emulator.base_url,
        api_key="sk-explicit.do-not-leak",
        temperature=0.3,
        stop=["END"],
        timeout=httpx.Timeout(20.0, connect=3.0),
        max_concurrency=3,
        extra_body={"meta": {"x": 1}},
    )
    model.invoke("Hello!")  # serialization works after use too
    text = dumps(model)
    assert "do-not-leak" not in text and "env-secret" not in text
    assert dumpd(model)["kwargs"]["api_key"] == {
        "lc": 1,
        "type": "secret",
        "id": ["ZHIPUAI_API_KEY"],
    }
    loaded = loads(
        text,
        valid_namespaces=["langchain_zhipu_flash"],
        allowed_objects=[ChatZhipuFlash],
        secrets_from_env=True,
    )
    assert isinstance(loaded, ChatZhipuFlash)
    assert loaded.model_dump(exclude={"api_key"}) == model.model_dump(exclude={"api_key"})
    assert loaded.api_key is not None and loaded.api_key.get_secret_value() == "env-secret.value"
    assert loaded.timeout == httpx.Timeout(20.0, connect=3.0)
    assert loaded.invoke("Hello!").text == "Hello! How can I help you today?"
    assert emulator.received[-1].authorization == "Bearer env-secret.value"


@MODES
def test_pickle_and_deepcopy_before_and_after_use(emulator: EmulatorHTTPServer, mode: str) -> None:
    model = glm(emulator, max_concurrency=2)
    copies = [pickle.loads(pickle.dumps(model)), copy.deepcopy(model)]  # noqa: S301 (ours)
    run(mode, lambda: model.invoke("Hello!"), lambda: model.ainvoke("Hello!"))
    copies += [pickle.loads(pickle.dumps(model)), copy.deepcopy(model)]  # noqa: S301
    for other in copies:
        assert repr(other._clients) == "ModelClients(0 settings)"  # caches are not state
        assert other.model_dump() == model.model_dump()
        answer = run(mode, lambda o=other: o.invoke("Hello!"), lambda o=other: o.ainvoke("Hello!"))
        assert answer.text == "Hello! How can I help you today?"
    assert len(chats(emulator)) == 5


def test_deepcopy_shares_an_injected_http_client(emulator: EmulatorHTTPServer) -> None:
    import httpx

    with httpx.Client() as http:
        model = glm(emulator, http_client=http)
        clone = copy.deepcopy(model)
        assert clone.http_client is http
        assert clone.invoke("Hello!").text


def test_close_and_context_managers(emulator: EmulatorHTTPServer) -> None:
    with glm(emulator, timeout=7.5) as model:
        model.invoke("Hello!")
        client = model._sync_client()
    assert model._clients._entries[next(iter(model._clients._entries))].sync_client is None
    assert not client._http.is_closed  # the process-wide pool stays open for other models

    async def use() -> zf.AsyncZhipuClient:
        async with glm(emulator) as amodel:
            await amodel.ainvoke("Hello!")
            aclient = amodel._async_client()
        assert aclient._http.is_closed
        return aclient

    asyncio.run(use())


@pytest.mark.parametrize("collect", [False, True], ids=["dropped", "dropped-and-collected"])
def test_dropping_a_model_after_async_use_leaves_no_resource_warning(
    emulator: EmulatorHTTPServer, collect: bool
) -> None:
    async def use_and_drop() -> None:
        model = glm(emulator)
        await model.ainvoke("Hello!")
        async for _ in model.astream("Hello!"):
            pass
        del model
        if collect:
            gc.collect()  # the model's pool is found garbage while the loop still runs

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(use_and_drop())
        asyncio.run(use_and_drop())
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert len(chats(emulator)) == 4


# -- token counting ----------------------------------------------------------------------------


def test_trim_messages_counts_with_the_model_offline() -> None:
    model = ChatZhipuFlash(api_key=KEY)  # no server: the estimate needs none
    history: list[BaseMessage] = [SystemMessage("你是一个简洁的助手。")]
    for n in range(6):
        history += [
            HumanMessage(f"第{n}个问题：今天天气怎么样？"),
            AIMessage(f"第{n}个回答：晴天。"),
        ]
    trimmed = trim_messages(
        history, max_tokens=40, token_counter=model, strategy="last", include_system=True
    )
    assert isinstance(trimmed[0], SystemMessage) and isinstance(trimmed[1], HumanMessage)
    assert 3 <= len(trimmed) < len(history)
    assert model.get_num_tokens_from_messages(trimmed) <= 40


def test_exact_token_count_asks_the_tokenizer(emulator: EmulatorHTTPServer) -> None:
    model = glm(emulator, exact_token_count=True)
    messages = [SystemMessage("Be brief."), HumanMessage(ASK)]
    counted = model.get_num_tokens_from_messages(messages, tools=[get_weather])
    answered = model.bind_tools([get_weather]).invoke(messages)
    assert answered.usage_metadata is not None
    assert counted == answered.usage_metadata["input_tokens"]  # the emulator counts alike
    [body] = emulator.bodies("tokenizer")
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": ASK},
    ]
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert model.get_num_tokens("Hello there") > 0
    assert len(emulator.bodies("tokenizer")) == 2
