"""``zhipu-flash chat --via langchain``: the command-line chat through ``ChatZhipuFlash``.

The core CLI finds this backend through the ``zhipu_flash.cli_backends`` entry point that
pyproject.toml declares, and imports it only when ``--via langchain`` asks for it.
"""

from __future__ import annotations

from typing import Any

from zhipu_flash.cli import ChatOptions, Pieces

from .chat_models import ChatZhipuFlash

__all__ = ["chat"]


def chat(messages: list[dict[str, Any]], options: ChatOptions) -> Pieces:
    """Stream one answer to ``messages`` (core message dicts, which LangChain takes as they
    are) as ("reasoning" | "answer", text) pieces."""
    llm = ChatZhipuFlash(
        model=options.model,
        thinking=options.thinking,
        reasoning_effort=options.reasoning_effort,
        **options.client_kwargs(),
    )
    for chunk in llm.stream(messages):
        reasoning = chunk.additional_kwargs.get("reasoning_content")
        if reasoning:
            yield "reasoning", str(reasoning)
        if chunk.text:
            yield "answer", chunk.text
