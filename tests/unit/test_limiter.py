"""max_concurrency: requests per model queue for a slot instead of meeting GLM's 1302."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

import zhipu_flash as zf
from glm_emulator import frames
from tests.unit._helpers import DONE, USAGE, chunk

BODY = [chunk("a"), chunk("b", finish="stop", usage=USAGE), DONE]


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}

    def enter(self, model: str) -> None:
        with self.lock:
            self.now[model] = self.now.get(model, 0) + 1
            self.peak[model] = max(self.peak.get(model, 0), self.now[model])

    def leave(self, model: str) -> None:
        with self.lock:
            self.now[model] -= 1


class Tracked(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that counts itself in flight from creation until closed, and is slow."""

    def __init__(self, counter: Counter, model: str) -> None:
        self.counter, self.model, self.open = counter, model, True
        counter.enter(model)

    def __iter__(self) -> Iterator[bytes]:
        for part in BODY:
            time.sleep(0.002)
            yield part

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in BODY:
            await asyncio.sleep(0.002)
            yield part

    def close(self) -> None:
        if self.open:
            self.open = False
            self.counter.leave(self.model)

    async def aclose(self) -> None:
        self.close()


def _transport(counter: Counter) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        model = body["model"]
        if not body.get("stream"):
            return httpx.Response(200, json=frames.completion(content="ab"))
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, stream=Tracked(counter, model)
        )

    return httpx.MockTransport(handler)


async def test_async_streams_queue_per_model() -> None:
    counter = Counter()
    client = zf.AsyncZhipuClient(
        api_key="k",
        max_concurrency=2,
        http_client=httpx.AsyncClient(transport=_transport(counter)),
    )

    async def one(model: str) -> str:
        async with client.stream(model=model, messages=[{"role": "user", "content": "x"}]) as s:
            return (await s.get_final_completion()).content

    models = ["glm-4.7-flash"] * 12 + ["glm-4-flash-250414"] * 6
    results = await asyncio.gather(*(one(m) for m in models))
    assert results == ["ab"] * len(models)
    assert counter.peak == {"glm-4.7-flash": 2, "glm-4-flash-250414": 2}
    assert counter.now == {"glm-4.7-flash": 0, "glm-4-flash-250414": 0}


def test_sync_threads_queue_and_create_holds_a_slot() -> None:
    counter = Counter()
    client = zf.ZhipuClient(
        api_key="k", max_concurrency=3, http_client=httpx.Client(transport=_transport(counter))
    )
    results: list[str] = []

    def one() -> None:
        with client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}]) as s:
            results.append(s.get_final_completion().content)

    threads = [threading.Thread(target=one) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert results == ["ab"] * 10
    assert counter.peak["glm-4.7-flash"] == 3


async def test_a_stream_left_early_releases_its_slot() -> None:
    counter = Counter()
    client = zf.AsyncZhipuClient(
        api_key="k", max_concurrency=1, http_client=httpx.AsyncClient(transport=_transport(counter))
    )

    async def rounds() -> None:
        for _ in range(3):  # with a leaked slot the second round would wait for ever
            async with client.stream(model="m", messages=[{"role": "user", "content": "x"}]) as s:
                async for _ in s:
                    break
        async with client.stream(model="m", messages=[{"role": "user", "content": "x"}]):
            pass  # opened and closed without iterating
        await client.create(model="m", messages=[{"role": "user", "content": "x"}])

    await asyncio.wait_for(rounds(), timeout=5)
    assert counter.now == {"m": 0}


def test_failed_open_releases_its_slot() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"code": "1214", "message": "bad"}})

    client = zf.ZhipuClient(
        api_key="k",
        max_concurrency=1,
        http_client=httpx.Client(transport=httpx.MockTransport(refuse)),
    )
    for _ in range(3):
        with pytest.raises(zf.BadRequestError):
            client.create(model="m", messages=[{"role": "user", "content": "x"}])
        with (
            pytest.raises(zf.BadRequestError),
            client.stream(model="m", messages=[{"role": "user", "content": "x"}]),
        ):
            pass


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_limits(bad: object) -> None:
    with pytest.raises(ValueError, match="max_concurrency"):
        zf.ZhipuClient(api_key="k", max_concurrency=bad)  # type: ignore[arg-type]


def test_one_limit_caps_threads_and_event_loops_together() -> None:
    counter = Counter()
    limit = zf.ConcurrencyLimit(2)
    sync_client = zf.ZhipuClient(
        api_key="k", max_concurrency=limit, http_client=httpx.Client(transport=_transport(counter))
    )
    messages = [{"role": "user", "content": "x"}]

    def sync_calls() -> None:
        for _ in range(4):
            with sync_client.stream(model="m", messages=messages) as s:
                s.get_final_completion()

    def loop_calls() -> None:
        async def main() -> None:
            client = zf.AsyncZhipuClient(
                api_key="k",
                max_concurrency=limit,
                http_client=httpx.AsyncClient(transport=_transport(counter)),
            )

            async def one() -> None:
                async with client.stream(model="m", messages=messages) as s:
                    await s.get_final_completion()

            await asyncio.gather(*(one() for _ in range(6)))

        asyncio.run(main())

    threads = [threading.Thread(target=f) for f in (sync_calls, sync_calls, loop_calls, loop_calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads)
    assert counter.peak["m"] == 2  # reached, never passed, across two threads and two loops
    assert counter.now["m"] == 0 and limit.in_flight("m") == 0


async def test_a_cancelled_waiter_leaks_no_slot() -> None:
    limit = zf.ConcurrencyLimit(1)
    release = await limit.aacquire("m")
    waiter = asyncio.ensure_future(limit.aacquire("m"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release()
    release()  # idempotent
    assert limit.in_flight("m") == 0
    again = await asyncio.wait_for(limit.aacquire("m"), timeout=1)
    assert limit.in_flight("m") == 1
    again()


async def test_a_slot_granted_to_a_waiter_cancelled_before_it_ran_is_passed_on() -> None:
    limit = zf.ConcurrencyLimit(1)
    release = await limit.aacquire("m")
    first = asyncio.ensure_future(limit.aacquire("m"))
    second = asyncio.ensure_future(limit.aacquire("m"))
    await asyncio.sleep(0)
    release()  # the slot is handed to `first`, whose wake-up is now queued on the loop
    first.cancel()  # ...but it is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await first
    second_release = await asyncio.wait_for(second, timeout=1)
    assert limit.in_flight("m") == 1
    second_release()
    assert limit.in_flight("m") == 0
