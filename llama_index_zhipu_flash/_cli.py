"""``zhipu-flash chat --via llama-index``: the command-line chat through ``ZhipuFlash``.

The core CLI finds this backend through the ``zhipu_flash.cli_backends`` entry point that
pyproject.toml declares, and imports it only when ``--via llama-index`` asks for it.
"""

from __future__ import annotations

import base64
from typing import Any

from llama_index.core.llms import ChatMessage, ImageBlock, TextBlock

from zhipu_flash.cli import ChatOptions, Pieces

from .base import ZhipuFlash

__all__ = ["chat"]


def chat(messages: list[dict[str, Any]], options: ChatOptions) -> Pieces:
    """Stream one answer to ``messages`` (core message dicts) as ("reasoning" | "answer",
    text) pieces."""
    llm = ZhipuFlash(
        model=options.model,
        thinking=options.thinking,
        reasoning_effort=options.reasoning_effort,
        **options.client_kwargs(),
    )
    history = [_chat_message(m) for m in messages]
    for response in llm.stream_chat(history):
        thinking = response.additional_kwargs.get("thinking_delta")
        if thinking:
            yield "reasoning", str(thinking)
        if response.delta:
            yield "answer", response.delta


def _chat_message(message: dict[str, Any]) -> ChatMessage:
    """A core message as a LlamaIndex ChatMessage; images become ImageBlocks."""
    content = message["content"]
    if isinstance(content, str):
        return ChatMessage(role=message["role"], content=content)
    blocks: list[Any] = []
    for part in content:
        if part["type"] == "text":
            blocks.append(TextBlock(text=part["text"]))
            continue
        url = part["image_url"]["url"]  # the CLI's --image: an http(s) URL or checked base64
        if url.startswith(("http://", "https://")):
            blocks.append(ImageBlock(url=url))
        else:
            blocks.append(ImageBlock(image=base64.b64decode(url)))
    return ChatMessage(role=message["role"], blocks=blocks)
