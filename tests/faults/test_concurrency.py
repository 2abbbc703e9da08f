"""Many streams at once through one client, some with faults: every stream either completes
exactly or raises its typed error, and sockets and file descriptors return to where they were.
Also the client-side ``max_concurrency`` cap, measured by the server."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import httpx
import pytest

import zhipu_flash as zf
from glm_emulator import frames as glm
from tests.faults._support import API_KEY, DONE, MODEL, USAGE, USER, chunk, open_fds
from tests.faults.server import FaultServer, Reply, Stall, error, sse

N = 500
# Pool waits are part of the load here, not a fault: give them room.
LOAD_TIMEOUT = httpx.Timeout(10.0, connect=5.0, pool=60.0)
KINDS = ("ok", "ok", "ok", "ok", "ok", "cut", "error-frame", "no-balance", "503-once", "stall")


@dataclass(frozen=True)
class Case:
    index: int
    kind: str

    @property
    def key(self) -> str:
        return f"stream-{self.index:04d}"  # sent as user_id (6-128 characters)

    @property
    def texts(self) -> list[str]:
        return [f"#{self.index}:", "流", f"式{self.index % 7}"]

    def replies(self) -> tuple[Reply, ...]:
        frames = [chunk(t) for t in self.texts]
        done = [chunk("", finish="stop", usage=USAGE), DONE]
        if self.kind == "ok":
            return (sse(*frames, *done, pause=0.001),)
        if self.kind == "cut":
            return (sse(*frames[:2], ending="cut", pause=0.001),)
        if self.kind == "error-frame":
            overloaded = glm.event(glm.error("1305", "overloaded"))
            return (sse(frames[0], overloaded, DONE, pause=0.001),)
        if self.kind == "no-balance":
            return (error(429, "1113", "余额不足或无可用资源包,请充值。"),)
        if self.kind == "stall":  # silent past the read timeout after one chunk
            return (sse(frames[0], Stall(3.0)),)
        return (error(503, None, "busy"), sse(*frames, *done, pause=0.001))


@dataclass(frozen=True)
class Result:
    received: str  # the text of the chunks the stream handed out
    final: str | None = None  # the final completion's content, when the stream completed
    error: zf.ZhipuError | None = None


async def _one(client: zf.AsyncZhipuClient, case: Case) -> Result:
    received: list[str] = []
    try:
        async with client.stream(model=MODEL, messages=USER, user_id=case.key) as stream:
            async for item in stream:
                if item.delta is not None and item.delta.content:
                    received.append(item.delta.content)
            final = await stream.get_final_completion()
    except zf.ZhipuError as exc:
        return Result("".join(received), error=exc)
    return Result("".join(received), final=final.content)


def _check(server: FaultServer, case: Case, result: Result) -> None:
    whole = "".join(case.texts)
    if case.kind in ("ok", "503-once"):
        assert result == Result(whole, final=whole), case
        assert server.count(case.key) == (2 if case.kind == "503-once" else 1)
        return
    exc, received = result.error, result.received
    assert exc is not None and result.final is None, (case, result)
    assert server.count(case.key) == 1, case
    if case.kind == "no-balance":
        assert type(exc) is zf.QuotaExceededError and exc.code == "1113"
        assert received == "" and exc.partial is None
        return
    expected = {
        "cut": (zf.StreamInterruptedError, "".join(case.texts[:2])),
        "error-frame": (zf.RateLimitError, case.texts[0]),
        "stall": (zf.APITimeoutError, case.texts[0]),
    }[case.kind]
    assert type(exc) is expected[0], (case, exc)
    assert exc.partial is not None and exc.partial.content == expected[1] == received


@pytest.mark.parametrize("max_concurrency", [None, 50], ids=["uncapped", "capped-50"])
async def test_500_concurrent_streams_with_faults(
    server: FaultServer, max_concurrency: int | None
) -> None:
    """Uncapped, 450 streams wait in httpx's pool (50 connections), whose bookkeeping is
    quadratic in the queue (a few seconds of CPU here); capped at the pool size, they wait in
    the client's per-model queue instead, which is cheap."""
    cases = [Case(i, KINDS[i % len(KINDS)]) for i in range(N)]
    for case in cases:
        server.script(case.key, *case.replies())
    fds_before = open_fds()
    client = zf.AsyncZhipuClient(
        api_key=API_KEY,
        base_url=server.url(),
        timeout=httpx.Timeout(0.5, connect=5.0, pool=60.0),
        max_concurrency=max_concurrency,
    )

    async def no_sleep(seconds: float) -> None:
        return None

    client._sleep = no_sleep
    try:
        results = await asyncio.gather(*(_one(client, case) for case in cases))
    finally:
        await client.aclose()
    for case, result in zip(cases, results, strict=True):
        _check(server, case, result)
    assert await asyncio.to_thread(server.wait_no_connections, 10.0)
    assert open_fds() == fds_before
    if max_concurrency is not None:
        assert server.peak_in_flight() <= max_concurrency


async def test_max_concurrency_queues_instead_of_failing(server: FaultServer) -> None:
    cases = [Case(i, "ok" if i % 5 else "503-once") for i in range(100)]
    for case in cases:
        server.script(case.key, *case.replies())
    async with zf.AsyncZhipuClient(
        api_key=API_KEY, base_url=server.url(), timeout=LOAD_TIMEOUT, max_concurrency=5
    ) as client:

        async def no_sleep(seconds: float) -> None:
            return None

        client._sleep = no_sleep
        results = await asyncio.gather(*(_one(client, case) for case in cases))
    for case, result in zip(cases, results, strict=True):
        _check(server, case, result)
    assert 1 < server.peak_in_flight() <= 5


def test_max_concurrency_with_threads(server: FaultServer) -> None:
    cases = [Case(i, "ok") for i in range(24)]
    for case in cases:
        server.script(case.key, *case.replies())
    texts: dict[int, str] = {}
    with zf.ZhipuClient(
        api_key=API_KEY, base_url=server.url(), timeout=LOAD_TIMEOUT, max_concurrency=3
    ) as client:

        def worker(case: Case) -> None:
            with client.stream(model=MODEL, messages=USER, user_id=case.key) as stream:
                texts[case.index] = stream.get_final_completion().content

        threads = [threading.Thread(target=worker, args=(case,)) for case in cases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30.0)
    assert texts == {case.index: "".join(case.texts) for case in cases}
    assert 1 < server.peak_in_flight() <= 3
