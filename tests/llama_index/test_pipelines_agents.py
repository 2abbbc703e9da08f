"""ZhipuFlash driving LlamaIndex agents, end to end and offline, with the request histories
they send checked on the wire: FunctionAgent (interleaved and preserved thinking),
ReActAgent, AgentWorkflow with a handoff, and agents gathered under ``max_concurrency``.

Requests go to the GLM emulator on loopback (GLM's wire format; answers are not real model
output: a call written out in the prompt, ``add(2, 3)``, becomes a tool call, tool results
are reported back in a sentence, and the model reasons before each turn).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.agent.workflow import (
    AgentStream,
    AgentWorkflow,
    FunctionAgent,
    ReActAgent,
    ToolCallResult,
)
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.tools import FunctionTool
from llama_index.core.workflow import Context

from glm_emulator.server import EmulatorHTTPServer, serving_emulator
from llama_index_zhipu_flash import ZhipuFlash
from tests.llama_index._support import AGENT_WARNING_FILTERS, TOOLS, add

pytestmark = AGENT_WARNING_FILTERS


def save_note(text: str) -> str:
    """Save a note with the given text."""
    return "saved"


def _memory() -> ChatMemoryBuffer:
    return ChatMemoryBuffer.from_defaults(token_limit=100_000)


def _assistants(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "assistant"]


async def _run(agent: Any, prompt: str, **kwargs: Any) -> tuple[Any, list[Any]]:
    handler = agent.run(prompt, **kwargs)
    events = [event async for event in handler.stream_events()]
    return await handler, events


@pytest.mark.parametrize("clear_thinking", [None, False], ids=["default", "preserved"])
@pytest.mark.parametrize("in_kwargs", [True, False], ids=["kwargs", "blocks-only"])
async def test_function_agent_tool_loop_gets_its_reasoning_back(
    emulator: EmulatorHTTPServer, clear_thinking: bool | None, in_kwargs: bool
) -> None:
    llm = ZhipuFlash(
        base_url=emulator.base_url,
        api_key="k.s",
        clear_thinking=clear_thinking,
        reasoning_in_additional_kwargs=in_kwargs,
    )
    agent = FunctionAgent(tools=TOOLS, llm=llm, system_prompt="Use the tools.")
    ctx, memory = Context(agent), _memory()
    result, events = await _run(
        agent, "Compute add(2, 3) and multiply(4, 5).", ctx=ctx, memory=memory
    )
    # The two calls run concurrently (workflow workers): their results come in any order.
    results = [e for e in events if isinstance(e, ToolCallResult)]
    calls = sorted((e.tool_name, e.tool_kwargs, e.tool_output.raw_output) for e in results)
    assert calls == [("add", {"a": 2, "b": 3}, 5), ("multiply", {"a": 4, "b": 5}, 20)]
    assert "5" in str(result) and "20" in str(result)
    streams = [e for e in events if isinstance(e, AgentStream)]
    thinking = "".join(e.thinking_delta or "" for e in streams)
    assert thinking.startswith("The user wrote")
    assert thinking not in "".join(e.delta for e in streams)

    result, _ = await _run(agent, "Now multiply(7, 6).", ctx=ctx, memory=memory)
    assert "42" in str(result)

    bodies = emulator.bodies()
    assert len(bodies) == 4  # call, answer; call, answer
    first_loop, second_turn, second_loop = bodies[1], bodies[2], bodies[3]
    # The tool loop of the current turn: the assistant's call goes back with its reasoning
    # and the results carry the call ids (GLM's interleaved thinking).
    (call,) = _assistants(first_loop)
    assert call["reasoning_content"].startswith("The user wrote")
    names = {c["id"]: c["function"]["name"] for c in call["tool_calls"]}
    results_sent = {
        names[m["tool_call_id"]]: m["content"]
        for m in first_loop["messages"]
        if m["role"] == "tool"
    }
    assert results_sent == {"add": "5", "multiply": "20"}
    # Earlier turns: their reasoning only with clear_thinking=False (preserved thinking).
    earlier = _assistants(second_turn)
    assert len(earlier) == 2  # the first turn's call and its answer
    if clear_thinking is False:
        assert all(m.get("reasoning_content") for m in earlier)
        assert second_turn["thinking"] == {"type": "enabled", "clear_thinking": False}
    else:
        assert all("reasoning_content" not in m for m in earlier)
    loop = _assistants(second_loop)
    assert loop[-1]["reasoning_content"].startswith("The user wrote")
    assert [c["function"]["name"] for c in loop[-1]["tool_calls"]] == ["multiply"]
    assert all(bool(m.get("reasoning_content")) is (clear_thinking is False) for m in loop[:-1])
    await llm.aclose()


async def test_react_agent_sends_its_scratchpad_as_text(emulator: EmulatorHTTPServer) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")
    agent = ReActAgent(tools=TOOLS, llm=llm)
    result, events = await _run(agent, "What is multiply(6, 7)?", memory=_memory())
    results = [e for e in events if isinstance(e, ToolCallResult)]
    calls = [(e.tool_name, e.tool_output.raw_output) for e in results]
    assert calls == [("multiply", 42)]
    assert "42" in str(result)
    streams = [e for e in events if isinstance(e, AgentStream)]
    assert "".join(e.thinking_delta or "" for e in streams)  # the model's own reasoning
    # ReAct parses the text: the model's reasoning never entered it.
    assert all("The user wrote" not in e.delta for e in streams)
    first, second = emulator.bodies()
    assert "tools" not in first  # ReAct describes its tools in the prompt
    assert "multiply" in first["messages"][0]["content"]
    (thought,) = _assistants(second)
    assert thought["content"].startswith("Thought:")
    assert "reasoning_content" not in thought
    assert second["messages"][-1] == {"role": "user", "content": "Observation: 42"}
    await llm.aclose()


async def test_agent_workflow_hands_off_with_the_history(emulator: EmulatorHTTPServer) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")
    calculator = FunctionAgent(
        name="CalculatorAgent",
        description="Does arithmetic.",
        tools=[FunctionTool.from_defaults(add)],
        llm=llm,
        system_prompt="You add numbers.",
        can_handoff_to=["WriterAgent"],
    )
    writer = FunctionAgent(
        name="WriterAgent",
        description="Writes notes.",
        tools=[FunctionTool.from_defaults(save_note)],
        llm=llm,
        system_prompt="You save notes.",
    )
    workflow = AgentWorkflow(agents=[calculator, writer], root_agent="CalculatorAgent")
    prompt = "Compute add(2, 3), then handoff(to_agent='WriterAgent', reason='save the result')."
    result, events = await _run(workflow, prompt, memory=_memory())
    # The two calls run concurrently: their results come in either order.
    calls = sorted((e.tool_name, e.tool_kwargs) for e in events if isinstance(e, ToolCallResult))
    assert calls == [
        ("add", {"a": 2, "b": 3}),
        ("handoff", {"to_agent": "WriterAgent", "reason": "save the result"}),
    ]
    assert "5" in str(result)
    first, second = emulator.bodies()
    assert [t["function"]["name"] for t in first["tools"]] == ["add", "handoff"]
    assert [t["function"]["name"] for t in second["tools"]] == ["save_note", "handoff"]
    # The writer gets the calculator's turn: its calls (with reasoning: still the current
    # turn's tool loop) and both results with their call ids.
    assert second["messages"][0] == {"role": "system", "content": "You save notes."}
    (call,) = _assistants(second)
    assert [c["function"]["name"] for c in call["tool_calls"]] == ["add", "handoff"]
    assert call["reasoning_content"]
    results = [m for m in second["messages"] if m["role"] == "tool"]
    assert sorted(m["tool_call_id"] for m in results) == sorted(c["id"] for c in call["tool_calls"])
    await llm.aclose()


@pytest.mark.parametrize("cap", [2, None], ids=["max_concurrency=2", "uncapped"])
async def test_gathered_agents_under_max_concurrency(cap: int | None) -> None:
    with serving_emulator(hold=3, hold_timeout=0.3) as server:
        llm = ZhipuFlash(base_url=server.base_url, api_key="k.s", max_concurrency=cap)
        agents = [FunctionAgent(tools=TOOLS, llm=llm) for _ in range(4)]
        results = await asyncio.gather(
            *(
                agent.run(f"What is add({i}, 10)?", memory=_memory())
                for i, agent in enumerate(agents)
            )
        )
        await llm.aclose()
    assert [str(r) for r in results] == [f"The add tool returned: {i + 10}" for i in range(4)]
    assert len(server.bodies()) == 8
    if cap is None:
        assert server.peak_in_flight >= 3  # four agents do fan out
    else:
        assert server.peak_in_flight == cap
