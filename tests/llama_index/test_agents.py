"""FunctionAgent, ReActAgent and structured_predict, replayed from cassettes.

The cassettes were recorded against the local GLM emulator
(``pytest tests/llama_index/test_agents.py --glm-emulator --record-mode=rewrite``): they
prove the protocol mapping (tool calls out, tool results back with their ids, reasoning kept
out of the answer), not what a real model would answer. Each recorded response says so in
its ``x-cassette-source`` header.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from llama_index.core.agent.workflow import (
    AgentStream,
    FunctionAgent,
    ReActAgent,
    ToolCallResult,
)
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.prompts import PromptTemplate
from llama_index.core.workflow import Context
from pydantic import BaseModel, Field

from llama_index_zhipu_flash import ZhipuFlash
from tests.llama_index._support import AGENT_WARNING_FILTERS, TOOLS

pytestmark = [pytest.mark.vcr, *AGENT_WARNING_FILTERS]


def _llm() -> ZhipuFlash:
    # No base_url: ZHIPUAI_BASE_URL decides (the emulator when recording).
    return ZhipuFlash(model="glm-4.7-flash")


async def _run(agent: Any, prompt: str, ctx: Context, memory: Any = None) -> tuple[Any, list[Any]]:
    handler = agent.run(prompt, ctx=ctx, memory=memory)
    events = [event async for event in handler.stream_events()]
    return await handler, events


async def test_function_agent_two_tools_over_several_steps(vcr: Any) -> None:
    llm = _llm()
    agent = FunctionAgent(tools=TOOLS, llm=llm, system_prompt="Use the tools for arithmetic.")
    ctx = Context(agent)
    memory = ChatMemoryBuffer.from_defaults(token_limit=100_000)

    result, events = await _run(agent, "Compute add(2, 3) and multiply(4, 5).", ctx, memory)
    calls = [e for e in events if isinstance(e, ToolCallResult)]
    assert [(c.tool_name, c.tool_kwargs, c.tool_output.raw_output) for c in calls] == [
        ("add", {"a": 2, "b": 3}, 5),
        ("multiply", {"a": 4, "b": 5}, 20),
    ]
    answer = str(result)
    assert "5" in answer and "20" in answer
    streams = [e for e in events if isinstance(e, AgentStream)]
    thinking = "".join(e.thinking_delta or "" for e in streams)
    assert thinking  # glm-4.7-flash reasons; it reached AgentStream.thinking_delta
    assert thinking not in "".join(e.delta for e in streams)
    assert thinking not in answer

    # A second run on the same context: another tool round, history included.
    result, events = await _run(agent, "Now multiply(7, 6).", ctx, memory)
    calls = [e for e in events if isinstance(e, ToolCallResult)]
    assert [(c.tool_name, c.tool_output.raw_output) for c in calls] == [("multiply", 42)]
    assert "42" in str(result)

    # The whole tool history (calls with ids, results with tool_call_id) went back to GLM on
    # the second run: read it from the last request sent (the wire, not the framework's memory
    # object, whose bookkeeping differs between llama-index-core releases).
    played = [r for i, r in enumerate(vcr.requests) if vcr.play_counts[i]]
    sent = json.loads(played[-1].body)["messages"]
    calls = [c for m in sent if m["role"] == "assistant" for c in m.get("tool_calls", [])]
    assert [c["function"]["name"] for c in calls] == ["add", "multiply", "multiply"]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [
        {"a": 2, "b": 3},
        {"a": 4, "b": 5},
        {"a": 7, "b": 6},
    ]
    assert [m["tool_call_id"] for m in sent if m["role"] == "tool"] == [c["id"] for c in calls]
    assert [m["content"] for m in sent if m["role"] == "tool"] == ["5", "20", "42"]
    await llm.aclose()


async def test_react_agent_uses_a_tool_then_answers() -> None:
    llm = _llm()
    agent = ReActAgent(tools=TOOLS, llm=llm)
    ctx = Context(agent)
    result, events = await _run(agent, "What is multiply(6, 7)?", ctx)
    calls = [e for e in events if isinstance(e, ToolCallResult)]
    assert [(c.tool_name, c.tool_kwargs, c.tool_output.raw_output) for c in calls] == [
        ("multiply", {"a": 6, "b": 7}, 42)
    ]
    assert "42" in str(result)
    streams = [e for e in events if isinstance(e, AgentStream)]
    # ReAct parses the text; the model's reasoning never entered it.
    assert all("Thought" in e.response or not e.response for e in streams[-1:])
    assert "I will use the multiply tool" not in "".join(e.delta for e in streams)
    await llm.aclose()


class Person(BaseModel):
    """A person mentioned in a text."""

    name: str = Field(description="The person's name")
    age: int = Field(description="The person's age in years")


def test_structured_predict_with_a_pydantic_model(caplog: pytest.LogCaptureFixture) -> None:
    prompt = PromptTemplate("Extract the person from this text: {text}")
    llm = _llm()
    with caplog.at_level(logging.WARNING):
        person = llm.structured_predict(Person, prompt, text="'Alice' is 30 years old.")
    llm.close()
    assert isinstance(person, Person)
    assert person == Person(name="Alice", age=30)
    # structured_predict asks for a forced tool call; GLM takes "auto" only, and says so.
    assert any("tool_choice='auto'" in r.getMessage() for r in caplog.records)


async def test_astructured_predict_with_a_pydantic_model() -> None:
    prompt = PromptTemplate("Extract the person from this text: {text}")
    llm = _llm()
    person = await llm.astructured_predict(Person, prompt, text="'Bob' is 41 years old.")
    await llm.aclose()
    assert person == Person(name="Bob", age=41)


def test_cassettes_say_where_they_came_from() -> None:
    from pathlib import Path

    folder = Path(__file__).parents[1] / "cassettes" / "test_agents"
    texts = [p.read_text() for p in sorted(folder.glob("*.yaml"))]
    assert texts
    assert all("x-cassette-source" in t for t in texts)
    assert not any("replay-key" in t or "Bearer" in t for t in texts)
    json.dumps(texts)  # plain text only
