"""Test helpers: a byte stream that records whether it was closed, MockTransport clients in
sync and async flavours, and one ``run_stream`` that drives either, so every stream test is
written once and runs against both shells."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

import zhipu_flash as zf
from glm_emulator import frames

SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8"}
USER = [{"role": "user", "content": "hi"}]


class Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body delivered in the given pieces; may raise after ``fail_after`` pieces."""

    def __init__(self, parts: Sequence[bytes], fail_after: int | None = None) -> None:
        self.parts = list(parts)
        self.fail_after = fail_after
        self.closed = False
        self.delivered = 0

    def _pieces(self) -> Iterator[bytes]:
        for i, part in enumerate(self.parts):
            if self.fail_after is not None and i >= self.fail_after:
                raise httpx.ReadError("connection reset by peer")
            self.delivered += 1
            yield part
        if self.fail_after is not None and self.fail_after >= len(self.parts):
            raise httpx.ReadError("connection reset by peer")

    def __iter__(self) -> Iterator[bytes]:
        yield from self._pieces()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces():
            yield piece

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Server:
    """A scripted MockTransport server: each request takes the next response factory."""

    responses: list[Callable[[httpx.Request], httpx.Response]]
    requests: list[httpx.Request] = field(default_factory=list)
    bodies: list[Body] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        index = min(len(self.requests) - 1, len(self.responses) - 1)
        response = self.responses[index](request)
        if isinstance(response.stream, Body):
            self.bodies.append(response.stream)
        return response

    @property
    def sent(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def sse(
    parts: Sequence[bytes], fail_after: int | None = None, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers or SSE_HEADERS, stream=Body(parts, fail_after))

    return respond


def error(
    status: int, body: Any, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    hdrs = {"content-type": "application/json", **(headers or {})}
    return lambda request: httpx.Response(status, headers=hdrs, content=content)


def make_client(mode: str, server: Server, **kwargs: Any) -> Any:
    transport = httpx.MockTransport(server)
    if mode == "sync":
        client = zf.ZhipuClient(
            api_key="test-key.secret", http_client=httpx.Client(transport=transport), **kwargs
        )
        client._sleep = lambda s: None  # type: ignore[method-assign]
        return client
    aclient = zf.AsyncZhipuClient(
        api_key="test-key.secret", http_client=httpx.AsyncClient(transport=transport), **kwargs
    )

    async def no_sleep(s: float) -> None:
        return None

    aclient._sleep = no_sleep  # type: ignore[method-assign]
    return aclient


def run_stream(
    mode: str,
    server: Server,
    *,
    model: str = "glm-4.7-flash",
    messages: Any = None,
    client_kwargs: dict[str, Any] | None = None,
    **params: Any,
) -> tuple[list[zf.ChatCompletionChunk], zf.ChatCompletion]:
    """Stream through the sync or async client; return (chunks, final completion)."""
    client = make_client(mode, server, **(client_kwargs or {}))
    msgs = messages or USER
    if mode == "sync":
        with client.stream(model=model, messages=msgs, **params) as stream:
            chunks = list(stream)
            return chunks, stream.get_final_completion()

    async def go() -> tuple[list[zf.ChatCompletionChunk], zf.ChatCompletion]:
        async with client.stream(model=model, messages=msgs, **params) as stream:
            chunks = [c async for c in stream]
            return chunks, await stream.get_final_completion()

    return asyncio.run(go())


def run_create(
    mode: str, server: Server, *, model: str = "glm-4.7-flash", messages: Any = None, **params: Any
) -> zf.ChatCompletion:
    client = make_client(mode, server)
    msgs = messages or USER
    if mode == "sync":
        result: zf.ChatCompletion = client.create(model=model, messages=msgs, **params)
        return result
    return asyncio.run(client.create(model=model, messages=msgs, **params))  # type: ignore[no-any-return]


def chunk(
    content: str | None = None,
    *,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    finish: str | None = None,
    usage: dict[str, Any] | None = None,
    cid: str = "resp-1",
) -> bytes:
    """One GLM-shaped stream event (glm_emulator.frames): role in every delta, no
    finish_reason key unless set."""
    return frames.event(
        frames.chunk(
            content=content,
            reasoning=reasoning,
            tool_calls=tool_calls,
            finish=finish,
            usage=usage,
            id=cid,
            object=None,
        )
    )


DONE = frames.DONE
USAGE = {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16}
