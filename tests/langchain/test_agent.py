"""A LangGraph agent loop with a tool, replayed from a cassette (recorded against the emulator
with ``--glm-emulator --record-mode=rewrite``; re-record live as the README says)."""

from __future__ import annotations

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from langchain_zhipu_flash import ChatZhipuFlash

pytestmark = pytest.mark.vcr


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny and 23 degrees in {city}."


# langgraph 1.x marks create_react_agent deprecated in favour of langchain.agents.create_agent;
# the langchain package is not a dependency here, and the prebuilt agent is what we exercise.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
def test_langgraph_agent_loop(stream: bool) -> None:
    from langgraph.prebuilt import create_react_agent

    with httpx.Client() as http:  # closed here, so recording leaves no socket to the GC
        model = ChatZhipuFlash(
            model="glm-4.7-flash", max_retries=0, streaming=stream, http_client=http
        )
        agent = create_react_agent(model, [get_weather])
        result = agent.invoke({"messages": [HumanMessage("What is the weather in Hangzhou?")]})
    messages = result["messages"]
    kinds = [type(m).__name__ for m in messages]
    assert kinds == ["HumanMessage", "AIMessage", "ToolMessage", "AIMessage"]
    call_msg, tool_msg, answer = messages[1], messages[2], messages[3]
    assert isinstance(call_msg, AIMessage)
    (call,) = call_msg.tool_calls
    assert call["name"] == "get_weather"
    assert call["args"] == {"city": "Hangzhou"}
    assert call_msg.response_metadata["finish_reason"] == "tool_calls"
    assert isinstance(tool_msg, ToolMessage)
    assert tool_msg.tool_call_id == call["id"]
    assert isinstance(answer, AIMessage)
    assert answer.text
    assert answer.response_metadata["finish_reason"] == "stop"
    assert answer.usage_metadata is not None
    assert call_msg.additional_kwargs.get("reasoning_content")
