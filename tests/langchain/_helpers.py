"""MockTransport plumbing for the LangChain adapter tests: canned bodies, captured requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx

from glm_emulator import frames
from langchain_zhipu_flash import ChatZhipuFlash

SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}
SECRET = "sk-test.do-not-leak-0123456789"


class Recorder:
    """Answers every request with one canned response and keeps the JSON bodies sent."""

    def __init__(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.status = status
        self.headers = headers
        self.content = content
        self.bodies: list[dict[str, Any]] = []

    @property
    def body(self) -> dict[str, Any]:
        return self.bodies[-1]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        return httpx.Response(self.status, headers=self.headers, content=self.content)


def sse_events(*chunks: dict[str, Any]) -> bytes:
    """An SSE body from chunk dicts, ending with ``[DONE]`` (glm_emulator.frames)."""
    return frames.stream_body(chunks)


def model_for(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> ChatZhipuFlash:
    """A model whose sync and async clients both answer through ``handler``."""
    transport = httpx.MockTransport(handler)
    params: dict[str, Any] = {"api_key": SECRET, "max_retries": 0, **kwargs}
    return ChatZhipuFlash(
        http_client=httpx.Client(transport=transport),
        async_http_client=httpx.AsyncClient(transport=transport),
        **params,
    )


class TrackedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that records whether it was closed, optionally failing mid-way."""

    def __init__(self, parts: list[bytes], fail_after: int | None = None) -> None:
        self.parts = parts
        self.fail_after = fail_after
        self.closed = False
        self.sent = 0

    def _next_parts(self) -> Iterator[bytes]:
        for i, part in enumerate(self.parts):
            if self.fail_after is not None and i == self.fail_after:
                raise httpx.ReadError("connection reset by peer")
            self.sent += 1
            yield part

    def __iter__(self) -> Iterator[bytes]:
        yield from self._next_parts()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._next_parts():
            yield part

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True
