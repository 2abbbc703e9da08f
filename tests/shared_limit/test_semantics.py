"""What a shared slot is, against a real Redis: a lease renewed while its request is open and
released however the request ends, a FIFO queue of waiters bounded by the request's timeout,
the API key kept out of Redis, and a failing Redis that costs no request.

Two clients with their own ``max_concurrency`` stand for two processes here (each has its own
in-process count, so only Redis can keep them within the limit); tests/shared_limit/
test_processes.py does the same with real processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

import zhipu_flash as zf
from glm_emulator.redis_server import RedisServer
from glm_emulator.server import EmulatorHTTPServer, serving_emulator
from zhipu_flash._shared_limit import SharedLimit, key_hash, scope_of
from zhipu_flash.model_clients import SharedLimitEvent

MODEL = "glm-4-flash-250414"
HI = [{"role": "user", "content": "Hi"}]
HELLO = "Hello! How can I help you today?"


def eventually(check: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """Wait for ``check()`` (the keeper thread releases in the background); fail, never hang."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within} s: {what}")
        time.sleep(0.005)


@pytest.fixture
def glm() -> Iterator[EmulatorHTTPServer]:
    with serving_emulator(concurrency_limit=1, pace=0.01) as server:
        yield server


def _client(glm: EmulatorHTTPServer, key: str, url: str, **extra: Any) -> zf.ZhipuClient:
    settings: dict[str, Any] = {"max_concurrency": 1, "max_retries": 0}
    settings.update(extra)
    return zf.ZhipuClient(api_key=key, base_url=glm.base_url, concurrency_url=url, **settings)


def _shared(client: zf.ZhipuClient | zf.AsyncZhipuClient) -> SharedLimit:
    assert client.shared is not None
    return client.shared


def _holder_and_waiter(
    glm: EmulatorHTTPServer, key: str, url: str
) -> tuple[zf.ZhipuClient, zf.AsyncZhipuClient, SharedLimit, str]:
    """A sync client to hold the one shared slot and an async one to wait for it (one key and
    model, ``max_concurrency=1`` each), the waiter's shared limit and the scope they share."""
    waiter = zf.AsyncZhipuClient(
        api_key=key, base_url=glm.base_url, max_concurrency=1, concurrency_url=url
    )
    return _client(glm, key, url), waiter, _shared(waiter), scope_of(glm.base_url, key, MODEL)


def test_a_lease_is_renewed_while_its_stream_is_open(
    redis_server: RedisServer, api_key: str
) -> None:
    # A stream of about 2 s on a 0.6 s lease: without renewal another process would get the
    # slot mid-stream and the server would answer it 1302.
    url = f"{redis_server.url}?lease=0.6"
    with serving_emulator(concurrency_limit=1, pace=0.2) as glm:
        first, second = _client(glm, api_key, url), _client(glm, api_key, url)
        scope = scope_of(glm.base_url, api_key, MODEL)
        with first.stream(model=MODEL, messages=HI) as stream:
            thread = threading.Thread(target=second.create, kwargs={"model": MODEL, "messages": HI})
            pieces = []
            for chunk in stream:
                pieces.append(chunk)
                if len(pieces) == 1:
                    thread.start()
                    eventually(lambda: _shared(second).queued(scope) == 1, "second queued")
                    ((mine, expiry),) = _shared(first).holders(scope)
                # Checked inside the loop: the stream is open until the loop ends (then its
                # slot is released).
                ((held, last_expiry),) = _shared(first).holders(scope)
                assert held == mine
            # The last chunk came about 2 s (three lease times) in: the lease was renewed.
            assert last_expiry > expiry + 600
            assert stream.get_final_completion().content == HELLO
        thread.join()
        assert glm.rejected == 0
        assert glm.peak_by_model[MODEL] == 1
        first.close()
        second.close()


def test_waiting_past_the_timeout_raises_a_typed_error_and_leaves_no_ticket(
    glm: EmulatorHTTPServer, redis_server: RedisServer, api_key: str
) -> None:
    holder = _client(glm, api_key, redis_server.url)
    waiter = _client(glm, api_key, redis_server.url, timeout=httpx.Timeout(30.0, pool=0.2))
    scope = scope_of(glm.base_url, api_key, MODEL)
    with holder.stream(model=MODEL, messages=HI) as stream:
        next(iter(stream))
        sent = len(glm.bodies())
        with pytest.raises(zf.ConcurrencySlotTimeoutError) as caught:
            waiter.create(model=MODEL, messages=HI)
        assert len(glm.bodies()) == sent  # nothing was sent
        message = str(caught.value)
        assert "max_concurrency=1" in message and MODEL in message
        assert "pool" in message and "raise max_concurrency" in message
        assert caught.value.is_retryable  # an APITimeoutError: a caller may try again later
        eventually(lambda: _shared(waiter).queued(scope) == 0, "the ticket removed")
        assert waiter.limit is not None and waiter.limit.in_flight(MODEL) == 0
    holder.close()
    waiter.close()


async def test_a_cancelled_waiter_leaves_nothing_behind(
    glm: EmulatorHTTPServer, redis_server: RedisServer, api_key: str
) -> None:
    holder, waiter, shared, scope = _holder_and_waiter(glm, api_key, redis_server.url)
    with holder.stream(model=MODEL, messages=HI) as stream:
        next(iter(stream))
        task = asyncio.ensure_future(waiter.create(model=MODEL, messages=HI))
        for _ in range(2000):  # until the waiter is queued in Redis (10 s at most)
            if shared.queued(scope):
                break
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        eventually(lambda: shared.queued(scope) == 0, "the ticket removed")
        assert len(shared.holders(scope)) == 1  # only the holder's lease
        assert waiter.limit is not None and waiter.limit.in_flight(MODEL) == 0
    eventually(lambda: shared.holders(scope) == [], "the holder's lease released")
    # The limit still works for the cancelled waiter's client.
    assert (await waiter.create(model=MODEL, messages=HI)).content == HELLO
    await waiter.aclose()
    holder.close()


async def _aeventually(check: Callable[[], bool], what: str, within: float = 10.0) -> None:
    """``eventually`` that lets the event loop run meanwhile (a shielded trip ends on it)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within} s: {what}")
        await asyncio.sleep(0.005)


async def _ends_cancelled(task: asyncio.Future[Any], within: float = 10.0) -> None:
    """Cancel ``task`` and wait for it to end cancelled; fail, never hang, if it does not."""
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=within)
    if not done:
        task.cancel()  # once more, so the test ends; the first one was lost
        await asyncio.wait([task], timeout=within)
        pytest.fail(f"a cancelled waiter was still waiting {within} s later")
    assert task.cancelled(), task.exception()


async def test_a_cancel_the_redis_client_drops_still_ends_the_waiter(
    glm: EmulatorHTTPServer,
    redis_server: RedisServer,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # redis-py bounds each send with asyncio.wait_for, which on Python <= 3.11 drops a cancel
    # that arrives as the send completes (CPython gh-86296): the waiter went on polling until
    # its timeout. Here every round trip drops a cancel that arrives after Redis answered.
    real = redis.commands.core.AsyncScript.__call__
    answered = asyncio.Event()

    async def dropping_a_cancel(self: Any, *args: Any, **kwargs: Any) -> Any:
        reply = await real(self, *args, **kwargs)
        answered.set()
        with contextlib.suppress(asyncio.CancelledError):  # what wait_for does with it
            await asyncio.sleep(0.3)
        return reply

    monkeypatch.setattr(redis.commands.core.AsyncScript, "__call__", dropping_a_cancel)
    holder, waiter, shared, scope = _holder_and_waiter(glm, api_key, redis_server.url)
    with holder.stream(model=MODEL, messages=HI) as stream:
        next(iter(stream))
        task = asyncio.ensure_future(waiter.create(model=MODEL, messages=HI))
        await asyncio.wait_for(answered.wait(), 10)  # Redis queued it; the trip is finishing
        assert shared.queued(scope) == 1
        await _ends_cancelled(task)
        assert waiter.limit is not None and waiter.limit.in_flight(MODEL) == 0
        # The shielded trip ran to its end; then its ticket was removed.
        await _aeventually(lambda: shared.queued(scope) == 0, "the ticket removed")
        assert len(shared.holders(scope)) == 1
    eventually(lambda: shared.holders(scope) == [], "the holder's lease released")
    await waiter.aclose()
    holder.close()


async def test_waiters_cancelled_at_any_moment_all_end(
    glm: EmulatorHTTPServer, redis_server: RedisServer, api_key: str
) -> None:
    # The real race, unpatched: cancels land before, during and after round trips and pauses.
    # Before the round trips were shielded about one in fifty of these was lost.
    holder, waiter, shared, scope = _holder_and_waiter(glm, api_key, redis_server.url)
    pauses = [i * 0.0013 for i in range(60)]  # 0 to 77 ms, spread over the poll's cycle
    with holder.stream(model=MODEL, messages=HI) as stream:
        next(iter(stream))
        for pause in pauses:
            task = asyncio.ensure_future(waiter.create(model=MODEL, messages=HI))
            await asyncio.sleep(pause)
            await _ends_cancelled(task)
        assert waiter.limit is not None and waiter.limit.in_flight(MODEL) == 0
        await _aeventually(lambda: shared.queued(scope) == 0, "every ticket removed")
        assert len(shared.holders(scope)) == 1
    eventually(lambda: shared.holders(scope) == [], "the holder's lease released")
    await waiter.aclose()
    holder.close()


def test_waiters_are_served_first_come_first_served(
    glm: EmulatorHTTPServer, redis_server: RedisServer, api_key: str
) -> None:
    clients = [_client(glm, api_key, redis_server.url) for _ in range(4)]
    scope = scope_of(glm.base_url, api_key, MODEL)
    order: list[int] = []
    lock = threading.Lock()

    def wait(i: int) -> None:
        release = clients[i]._acquire(MODEL)
        with lock:
            order.append(i)
        release()

    first = clients[0]._acquire(MODEL)
    threads = []
    for i in (1, 2, 3):  # queued one after the other
        threads.append(threading.Thread(target=wait, args=(i,)))
        threads[-1].start()
        eventually(lambda n=i: _shared(clients[0]).queued(scope) == n, f"{i} queued")
    first()
    for thread in threads:
        thread.join()
    assert order == [1, 2, 3]
    for client in clients:
        client.close()


@pytest.mark.parametrize("how", ["complete", "break", "error", "unread-dropped", "read-dropped"])
def test_the_slot_is_released_however_the_request_ends(
    redis_server: RedisServer, api_key: str, how: str
) -> None:
    # concurrency_limit=0 makes the server answer 1302 to everything: the "error" case.
    with serving_emulator(concurrency_limit=0 if how == "error" else None) as glm:
        client = _client(glm, api_key, redis_server.url)
        shared = _shared(client)
        scope = scope_of(glm.base_url, api_key, MODEL)
        if how == "complete":
            with client.stream(model=MODEL, messages=HI) as stream:
                assert stream.get_final_completion().content == HELLO
        elif how == "break":
            with client.stream(model=MODEL, messages=HI) as stream:
                for _ in stream:
                    break
        elif how == "error":
            with pytest.raises(zf.RateLimitError), client.stream(model=MODEL, messages=HI):
                pass
        else:
            stream = client.stream(model=MODEL, messages=HI).__enter__()
            if how == "read-dropped":
                next(iter(stream))
            assert len(shared.holders(scope)) == 1
            del stream
            gc.collect()
        eventually(lambda: shared.holders(scope) == [], "the lease released")
        assert client.limit is not None
        eventually(lambda: client.limit.in_flight(MODEL) == 0, "the process's slot released")
        client.close()


def test_redis_holds_a_hash_of_the_key_never_the_key(
    glm: EmulatorHTTPServer, redis_server: RedisServer, api_key: str
) -> None:
    client = _client(glm, api_key, redis_server.url)
    with client.stream(model=MODEL, messages=HI) as stream:
        next(iter(stream))
        with redis.Redis.from_url(redis_server.url) as conn:
            names = [k.decode() for k in conn.keys("*")]
            values = [
                m.decode() for k in names if k.endswith(":holders") for m in conn.zrange(k, 0, -1)
            ]
    mine = [n for n in names if key_hash(api_key) in n]
    assert mine and all(api_key not in n for n in names) and all(api_key not in v for v in values)
    assert key_hash(api_key) != key_hash(api_key + "x") and len(key_hash(api_key)) == 32
    client.close()


def test_an_unreachable_redis_costs_one_warning_and_no_request(
    glm: EmulatorHTTPServer, own_redis: RedisServer, api_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A password in the URL never shows (repr, warning, log); the Redis is gone before use.
    url = own_redis.url.replace("redis://", "redis://worker:s3cret-pass@")
    own_redis.stop()
    client = _client(glm, api_key, url, max_concurrency=2)
    assert "s3cret-pass" not in repr(client.shared)
    caplog.set_level(logging.INFO, logger="zhipu_flash")
    with pytest.warns(zf.SharedLimitWarning) as warned:
        answers = [client.create(model=MODEL, messages=HI).content for _ in range(3)]
    assert answers == [HELLO] * 3
    assert len(warned) == 1  # once per process
    events = [getattr(r, "zhipu_flash_event", None) for r in caplog.records]
    fallbacks = [e for e in events if isinstance(e, SharedLimitEvent) and e.kind == "fallback"]
    assert len(fallbacks) == 1 and "ConnectionError" in (fallbacks[0].error or "")
    shown = [str(w.message) for w in warned] + [r.getMessage() for r in caplog.records]
    assert all("s3cret-pass" not in text for text in shown)
    assert any("worker:***@127.0.0.1" in text for text in shown)
    client.close()


def test_the_shared_limit_comes_back_with_redis(
    glm: EmulatorHTTPServer,
    own_redis: RedisServer,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import zhipu_flash._shared_limit as shared_module

    monkeypatch.setattr(shared_module, "REDIS_RETRY_INTERVAL", 0.05)
    client = _client(glm, api_key, own_redis.url)
    shared = _shared(client)
    scope = scope_of(glm.base_url, api_key, MODEL)
    caplog.set_level(logging.INFO, logger="zhipu_flash")
    own_redis.stop()
    with pytest.warns(zf.SharedLimitWarning):
        assert client.create(model=MODEL, messages=HI).content == HELLO
    own_redis.restart()
    time.sleep(0.06)  # past the retry interval (not a timed assertion: a wait)
    with client.stream(model=MODEL, messages=HI) as stream:
        next(iter(stream))
        assert len(shared.holders(scope)) == 1  # counted in Redis again
    kinds = [getattr(r, "zhipu_flash_event", None) for r in caplog.records]
    assert [k.kind for k in kinds if isinstance(k, SharedLimitEvent)] == ["fallback", "restored"]
    client.close()


def test_concurrency_url_needs_max_concurrency(
    monkeypatch: pytest.MonkeyPatch, redis_server: RedisServer
) -> None:
    with pytest.raises(ValueError, match="set max_concurrency=N too"):
        zf.ZhipuClient(api_key="k", concurrency_url=redis_server.url)
    # The variable configures a fleet: a client without a cap ignores it, "" turns it off.
    monkeypatch.setenv("ZHIPU_FLASH_CONCURRENCY_URL", redis_server.url)
    assert zf.ZhipuClient(api_key="k").shared is None
    assert zf.ZhipuClient(api_key="k", max_concurrency=2).shared is not None
    assert zf.ZhipuClient(api_key="k", max_concurrency=2, concurrency_url="").shared is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:6379/0", "must be a redis://"),
        ("redis://127.0.0.1:6379/0?lease=0", "between 0.1 and 3600"),
        ("redis://127.0.0.1:6379/0?lease=soon", "between 0.1 and 3600"),
    ],
)
def test_a_bad_url_is_refused_at_construction(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        zf.ZhipuClient(api_key="k", max_concurrency=1, concurrency_url=url)


def test_retrieval_classes_share_the_limit(
    glm: EmulatorHTTPServer, redis_server: RedisServer, api_key: str
) -> None:
    from langchain_core.documents import Document

    from langchain_zhipu_flash import ZhipuFlashEmbeddings, ZhipuFlashRerank
    from llama_index_zhipu_flash import ZhipuFlashEmbedding

    common = {"api_key": api_key, "base_url": glm.base_url, "max_retries": 0}
    shared = {"max_concurrency": 1, "concurrency_url": redis_server.url, **common}
    calls: list[Callable[[], object]] = []
    for _ in range(3):  # separate objects: separate process-local counts
        lc = ZhipuFlashEmbeddings(model="embedding-3", **shared)
        rerank = ZhipuFlashRerank(**shared)
        li = ZhipuFlashEmbedding(model_name="embedding-3", **shared)
        calls.append(lambda lc=lc: lc.embed_documents(["a river", "a mountain"]))
        docs = [Document(page_content="a river"), Document(page_content="tea")]
        calls.append(lambda r=rerank, d=docs: r.compress_documents(d, "river"))
        calls.append(lambda li=li: li.get_text_embedding("a river"))
    threads = [threading.Thread(target=call) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(glm.received) == 9
    assert glm.rejected == 0
    assert glm.peak_by_model == {"embedding-3": 1, "rerank": 1}


def test_adapters_keep_a_redis_password_secret() -> None:
    from langchain_core.load import dumps

    from langchain_zhipu_flash import ChatZhipuFlash
    from llama_index_zhipu_flash import ZhipuFlash

    url = "redis://worker:s3cret-pass@redis.internal:6379/0"
    chat = ChatZhipuFlash(model=MODEL, api_key="k", max_concurrency=2, concurrency_url=url)
    llm = ZhipuFlash(model=MODEL, api_key="k", max_concurrency=2, concurrency_url=url)
    shown = [repr(chat), str(chat), chat.model_dump_json(), dumps(chat)]
    shown += [repr(llm), str(llm), llm.to_json(), str(llm.to_dict())]
    assert all("s3cret-pass" not in text for text in shown)
    # The URL still reaches the clients.
    assert chat._client_settings().concurrency_url == url
    assert llm._client_settings().concurrency_url == url
