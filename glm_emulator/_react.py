"""ReAct-format answers: when the system prompt asks for LlamaIndex's ReAct format
("Thought:" / "Action:" / "Action Input:" lines, tools described in the prompt rather than
offered as ``tools``), the emulator answers in that format, as instruction-following models
do. Tool choice reuses the ordinary rules of ``_answers`` on the tools parsed from the prompt.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._answers import Turn, _select_calls, message_text

__all__ = ["react_turn"]

_TOOL = re.compile(r"> Tool Name: (?P<name>\S+)\n.*?Tool Args: (?P<args>\{.*?\})\n", re.DOTALL)


def _asks_for_react(system: str) -> bool:
    return "Action Input:" in system and "Thought:" in system and "Observation:" in system


def _tools(system: str) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    for match in _TOOL.finditer(system):
        try:
            params = json.loads(match["args"])
        except ValueError:
            params = {"type": "object", "properties": {}}
        tools.append({"name": match["name"], "parameters": params})
    return tools


def react_turn(messages: list[dict[str, Any]]) -> Turn | None:
    """The ReAct answer to ``messages``, or None when no ReAct format is asked for."""
    system = "\n".join(
        message_text(m.get("content")) for m in messages if m.get("role") == "system"
    )
    if not _asks_for_react(system):
        return None
    last = message_text(messages[-1].get("content")).strip()
    if last.startswith("Observation:"):
        observation = last[len("Observation:") :].strip()
        return Turn(
            reasoning="The tool answered; I can give the final answer now.",
            content="Thought: I can answer without using any more tools. I'll use the user's "
            f"language to answer\nAnswer: The result is {observation}.",
        )
    prompt = next(
        (
            message_text(m.get("content"))
            for m in reversed(messages)
            if m.get("role") == "user" and not message_text(m.get("content")).startswith("Obs")
        ),
        "",
    )
    calls = _select_calls(prompt, _tools(system))
    if not calls:
        return Turn(
            reasoning="No tool is needed for this.",
            content="Thought: I can answer without using any more tools. I'll use the user's "
            "language to answer\nAnswer: I understand the request.",
        )
    call = calls[0]  # ReAct takes one action per step
    return Turn(
        reasoning=f"I will use the {call.name} tool.",
        content="Thought: The current language of the user is: English. I need to use a tool "
        f"to help me answer the question.\nAction: {call.name}\n"
        f"Action Input: {json.dumps(call.arguments, ensure_ascii=False)}",
    )
