"""PerLoop and ModelClients: one async client per event loop, closed with it; caches that are
not state. The end-to-end checks run real connection pools against the local GLM emulator."""

from __future__ import annotations

import asyncio
import copy
import gc
import pickle
import sys
import threading
import warnings
from collections.abc import Iterator

import httpx
import pytest

import zhipu_flash as zf
from glm_emulator import frames
from glm_emulator.server import running_emulator
from zhipu_flash._loops import PerLoop
from zhipu_flash._pool import shared_http_client
from zhipu_flash.model_clients import ClientSettings, ModelClients

HI = [{"role": "user", "content": "hi"}]


class Thing:
    def __init__(self) -> None:
        self.released_in: asyncio.AbstractEventLoop | None = None
        self.loop_was_running = False

    async def release(self) -> None:
        self.released_in = asyncio.get_running_loop()
        await asyncio.sleep(0)  # a real await: the loop is still running
        self.loop_was_running = True


def _holder() -> PerLoop[Thing]:
    return PerLoop(Thing, Thing.release)


def test_one_value_per_loop_released_when_asyncio_run_ends() -> None:
    holder = _holder()

    async def use() -> tuple[Thing, Thing, asyncio.AbstractEventLoop]:
        return holder.get(), holder.get(), asyncio.get_running_loop()

    first, again, loop1 = asyncio.run(use())
    assert first is again  # same loop, same value
    assert first.released_in is loop1 and first.loop_was_running
    assert len(holder) == 0

    second, _, loop2 = asyncio.run(use())
    assert second is not first and second.released_in is loop2


def test_runner_and_new_event_loop_with_shutdown_release_too() -> None:
    holder = _holder()
    if sys.version_info >= (3, 11):  # asyncio.Runner is new in 3.11
        with asyncio.Runner() as runner:
            value = runner.run(_get(holder))
            assert value.released_in is None  # still in use while the runner lives
        assert value.loop_was_running

    loop = asyncio.new_event_loop()
    value = loop.run_until_complete(_get(holder))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    assert value.loop_was_running


async def _get(holder: PerLoop[Thing]) -> Thing:
    return holder.get()


def test_a_loop_closed_by_hand_is_dropped_quietly_at_the_next_use() -> None:
    holder = _holder()
    loop = asyncio.new_event_loop()
    stale = loop.run_until_complete(_get(holder))
    loop.close()  # no shutdown_asyncgens: nothing can run on it now
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fresh = asyncio.run(_get(holder))
        gc.collect()
    assert fresh is not stale
    assert stale.released_in is None  # could not be released on a dead loop
    assert len(holder) == 0


def test_aclose_releases_the_running_loops_value_now() -> None:
    holder = _holder()

    async def use() -> tuple[Thing, Thing]:
        value = holder.get()
        await holder.aclose()
        assert value.loop_was_running
        return value, holder.get()

    old, new = asyncio.run(use())
    assert new is not old


def test_loops_in_threads_each_get_their_own() -> None:
    holder = _holder()
    seen: list[Thing] = []

    def run() -> None:
        seen.append(asyncio.run(_get(holder)))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len({id(v) for v in seen}) == 4
    assert all(v.loop_was_running for v in seen)


# -- ModelClients ------------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[str]:
    with running_emulator() as base_url:
        yield base_url


def test_two_asyncio_runs_on_one_cache_with_real_connections(emulator: str) -> None:
    clients = ModelClients()
    settings = ClientSettings(api_key="k.k", base_url=emulator)

    async def ask() -> tuple[str, zf.AsyncZhipuClient]:
        client = clients.async_client(settings)
        completion = await client.create(model="glm-4-flash-250414", messages=HI)
        async with client.stream(model="glm-4-flash-250414", messages=HI) as stream:
            streamed = await stream.get_final_completion()
        assert completion.content == streamed.content
        return completion.content, client

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unclosed pool would be a ResourceWarning
        answers = [asyncio.run(ask()) for _ in range(3)]
        gc.collect()
    assert len({a for a, _ in answers}) == 1
    assert len({id(c) for _, c in answers}) == 3  # one client per loop
    for _, client in answers:
        assert client._http.is_closed  # closed when its loop shut down


def test_new_settings_new_client_old_server_never_called(emulator: str) -> None:
    seen: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.host} {request.headers['authorization']}")
        return httpx.Response(200, json=frames.completion(content="x"))

    http = httpx.Client(transport=httpx.MockTransport(record))
    clients = ModelClients()
    one = ClientSettings(api_key="old.key", base_url="https://old.example/v4", http_client=http)
    two = ClientSettings(api_key="new.key", base_url="https://new.example/v4", http_client=http)
    clients.sync_client(one).create(model="m", messages=HI)
    clients.sync_client(two).create(model="m", messages=HI)
    clients.sync_client(one).create(model="m", messages=HI)
    assert seen == [
        "old.example Bearer old.key",
        "new.example Bearer new.key",
        "old.example Bearer old.key",
    ]
    assert clients.sync_client(two) is clients.sync_client(two)
    assert (
        ClientSettings(timeout=5.0)._key()
        == ClientSettings(timeout=httpx.Timeout(5.0, connect=5.0))._key()
    )
    assert "new.key" not in repr(two) and "new.key" not in repr(clients)


def test_copies_and_pickles_start_with_an_empty_cache(emulator: str) -> None:
    clients = ModelClients()
    settings = ClientSettings(api_key="k.k", base_url=emulator, max_concurrency=2)
    clients.sync_client(settings).create(model="glm-4-flash-250414", messages=HI)
    asyncio.run(_async_create(clients, settings))
    unpickled = pickle.loads(pickle.dumps(clients))  # noqa: S301 (our own bytes)
    for other in (copy.copy(clients), copy.deepcopy(clients), unpickled):
        assert isinstance(other, ModelClients) and repr(other) == "ModelClients(0 settings)"
        assert other.sync_client(settings) is not clients.sync_client(settings)


async def _async_create(clients: ModelClients, settings: ClientSettings) -> None:
    await clients.async_client(settings).create(model="glm-4-flash-250414", messages=HI)


def test_one_cap_for_the_sync_client_and_every_loops_async_client(emulator: str) -> None:
    clients = ModelClients()
    settings = ClientSettings(api_key="k.k", base_url=emulator, max_concurrency=2)
    sync_limit = clients.sync_client(settings).limit

    async def async_limit() -> zf.ConcurrencyLimit | None:
        return clients.async_client(settings).limit

    assert sync_limit is not None and sync_limit.limit == 2
    assert asyncio.run(async_limit()) is sync_limit
    assert asyncio.run(async_limit()) is sync_limit
    other = ClientSettings(api_key="k.k", base_url=emulator, max_concurrency=3)
    assert clients.sync_client(other).limit is not sync_limit


def test_close_and_aclose(emulator: str) -> None:
    clients = ModelClients()
    settings = ClientSettings(api_key="k.k", base_url=emulator, timeout=7.0)
    owned = httpx.Client()
    mine = ClientSettings(api_key="k.k", base_url=emulator, http_client=owned)
    clients.sync_client(settings).create(model="glm-4-flash-250414", messages=HI)
    clients.sync_client(mine).create(model="glm-4-flash-250414", messages=HI)
    clients.close()
    assert not shared_http_client(7.0).is_closed  # the process-wide pool stays open
    assert not owned.is_closed  # so does an injected client
    owned.close()

    async def use_then_aclose() -> zf.AsyncZhipuClient:
        client = clients.async_client(settings)
        await client.create(model="glm-4-flash-250414", messages=HI)
        await clients.aclose()
        assert client._http.is_closed
        return client

    asyncio.run(use_then_aclose())


def test_a_holder_dropped_while_its_loop_runs_releases_in_that_loop() -> None:
    released: list[Thing] = []

    async def use(wait: bool) -> None:
        holder = _holder()
        value = holder.get()
        del holder
        gc.collect()  # the holder is gone; its value must still be released, in this loop
        if wait:
            for _ in range(5):
                await asyncio.sleep(0)
            assert value.loop_was_running  # released while the loop ran on
        released.append(value)

    asyncio.run(use(wait=True))
    asyncio.run(use(wait=False))  # dropped just before the loop ends: shutdown releases it
    assert all(v.released_in is not None and v.loop_was_running for v in released)


@pytest.mark.parametrize("collect", [False, True], ids=["refcount", "gc-mid-loop"])
def test_dropped_model_clients_close_their_pools_without_resource_warnings(
    emulator: str, collect: bool
) -> None:
    # A model made and dropped inside a running loop (a server that makes one per request):
    # its async pool, with a live keep-alive socket, is closed properly, not by __del__.
    async def use_and_drop() -> zf.AsyncZhipuClient:
        clients = ModelClients()
        client = clients.async_client(ClientSettings(api_key="k.k", base_url=emulator))
        await client.create(model="glm-4-flash-250414", messages=HI)
        del clients
        if collect:
            gc.collect()
        return client

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clients = [asyncio.run(use_and_drop()) for _ in range(2)]
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert all(c._http.is_closed for c in clients)
