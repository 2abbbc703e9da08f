"""Helpers for the LlamaIndex adapter tests: SSE bodies, a recording MockTransport, a
byte stream that reports whether it was closed, the agent tests' tools and warning filters."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from importlib.metadata import version
from typing import Any

import httpx
import pytest
from llama_index.core.tools import FunctionTool

from glm_emulator import frames
from llama_index_zhipu_flash import ZhipuFlash

SSE = {"content-type": "text/event-stream"}

#: The installed llama-index-core as (major, minor, patch).
LLAMA_INDEX_CORE = tuple(int(n) for n in re.findall(r"\d+", version("llama-index-core"))[:3])
#: Before 0.14.25 llama-index-core drains a streamed refine/compact answer (query engines,
#: context chat engines) and hands it over in one piece; from 0.14.25 token by token.
SYNTHESIZERS_STREAM_TOKENS = LLAMA_INDEX_CORE >= (0, 14, 25)


def sse(*chunks: dict[str, Any]) -> bytes:
    """An SSE body for the given chunk payloads, ending with [DONE] (glm_emulator.frames)."""
    return frames.stream_body(chunks)


def chunk(
    *,
    content: str | None = None,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
    model: str = "glm-4.7-flash",
) -> dict[str, Any]:
    """One chunk shaped like GLM's (glm_emulator.frames: role in every delta, finish_reason
    only when set)."""
    return frames.chunk(
        content=content,
        reasoning=reasoning,
        tool_calls=tool_calls,
        finish=finish,
        usage=usage,
        id="2026010100000000test",
        created=1767225600,
        model=model,
        object=None,
    )


def answer(text: str, reasoning: str = "", model: str = "glm-4.7-flash") -> bytes:
    """A reasoning-then-answer stream, one word per chunk, as glm-4.7-flash sends it."""
    chunks = [chunk(reasoning=w, model=model) for w in _words(reasoning)]
    chunks += [chunk(content=w, model=model) for w in _words(text)]
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    chunks.append(chunk(content="", finish="stop", usage=usage, model=model))
    return sse(*chunks)


def _words(text: str) -> list[str]:
    out: list[str] = []
    for i, word in enumerate(text.split(" ")):
        out.append(word if i == 0 else " " + word)
    return [w for w in out if w]


class Recorder:
    """A MockTransport handler that records request bodies and answers from a callable."""

    def __init__(self, reply: Callable[[dict[str, Any]], bytes] | bytes) -> None:
        self.reply = reply
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        content = self.reply(body) if callable(self.reply) else self.reply
        if content.lstrip().startswith(b"{"):
            return httpx.Response(
                200, headers={"content-type": "application/json"}, content=content
            )
        return httpx.Response(200, headers=SSE, content=content)


def make_llm(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> ZhipuFlash:
    transport = httpx.MockTransport(handler)
    kwargs.setdefault("api_key", "test-id.test-secret")
    return ZhipuFlash(
        http_client=httpx.Client(transport=transport),
        async_http_client=httpx.AsyncClient(transport=transport),
        **kwargs,
    )


class TrackedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that yields the given pieces and records whether it was closed and
    how many pieces were read."""

    def __init__(self, pieces: list[bytes], error_after: int | None = None) -> None:
        self.pieces = pieces
        self.error_after = error_after
        self.closed = False
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for piece in self.pieces:
            if self.error_after is not None and self.sent >= self.error_after:
                raise httpx.ReadError("connection reset")
            self.sent += 1
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.__iter__():
            yield piece

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


#: Warnings of LlamaIndex's agent machinery, not ours to fix: the workflows package reads
#: model_computed_fields on an instance (inspect.getmembers), deprecated since pydantic 2.11;
#: a second run on one Context snapshots its state and skips the memory ("This is expected",
#: in the workflows package's words); ReActAgent's own step calls ctx.is_running, deprecated
#: inside steps.
AGENT_WARNING_FILTERS = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
    pytest.mark.filterwarnings("ignore::workflows.context.state_store.UnserializableKeyWarning"),
    pytest.mark.filterwarnings("ignore:is_running called from within a step:DeprecationWarning"),
]


def add(a: int, b: int) -> int:
    """Add two integers and return the sum."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers and return the product."""
    return a * b


#: The agent tests' tools (their names and docstrings are in the recorded requests).
TOOLS = [FunctionTool.from_defaults(add), FunctionTool.from_defaults(multiply)]
