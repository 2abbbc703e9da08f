"""Several OS processes on one API key share ``max_concurrency`` through a real Redis.

Each worker is a fresh ``python`` process (tests/shared_limit/_worker.py) streaming from one
loopback GLM emulator that enforces the account's limit the way GLM does: a request over the
limit per model is answered 1302 (``concurrency_limit``). Workers send with
``max_retries=0``, so a 1302 would be an error in their report, never hidden by a retry.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

import zhipu_flash as zf
from glm_emulator.redis_server import RedisServer
from glm_emulator.server import EmulatorHTTPServer, serving_emulator
from tests.shared_limit._worker import MODEL
from tests.shared_limit.conftest import Worker, start_workers
from zhipu_flash._shared_limit import scope_of

HELLO = "Hello! How can I help you today?"
LIMIT = 3


@pytest.fixture
def glm() -> Iterator[EmulatorHTTPServer]:
    # Each event 10 ms apart: a stream lasts about 0.1 s, so the workers' streams overlap.
    with serving_emulator(concurrency_limit=LIMIT, pace=0.01) as server:
        yield server


def _client(glm: EmulatorHTTPServer, api_key: str, url: str | None, **extra: Any) -> dict[str, Any]:
    settings = {"api_key": api_key, "base_url": glm.base_url, "max_retries": 0}
    settings.update(extra)
    if url is not None:
        settings["concurrency_url"] = url
    return settings


def _reports(started: list[Worker]) -> list[dict[str, Any]]:
    return [worker.report() for worker in started]


@pytest.mark.parametrize("mode", ["core-async", "core-sync"])
def test_four_processes_never_exceed_the_shared_limit(
    glm: EmulatorHTTPServer,
    redis_server: RedisServer,
    api_key: str,
    workers: list[Worker],
    mode: str,
) -> None:
    client = _client(glm, api_key, redis_server.url, max_concurrency=LIMIT)
    start_workers(workers, [{"mode": mode, "n": 6, "client": client}] * 4)
    reports = _reports(workers)
    assert [r["errors"] for r in reports] == [[]] * 4
    assert [r["answers"] for r in reports] == [[HELLO] * 6] * 4
    assert glm.rejected == 0
    # The limit was reached (the test has teeth) and never passed.
    assert glm.peak_by_model[MODEL] == LIMIT
    assert [r["warnings"] for r in reports] == [[]] * 4


def test_without_the_shared_limit_the_same_fleet_meets_1302(
    glm: EmulatorHTTPServer, api_key: str, workers: list[Worker]
) -> None:
    # The control for the test above: each process within its own max_concurrency, together
    # over the account's limit.
    client = _client(glm, api_key, "", max_concurrency=LIMIT)
    start_workers(workers, [{"mode": "core-async", "n": 6, "client": client}] * 4)
    reports = _reports(workers)
    codes = [e["code"] for r in reports for e in r["errors"]]
    assert glm.rejected > 0
    assert codes and set(codes) == {"1302"}


def test_langchain_abatch_in_each_process_shares_the_limit_from_the_environment(
    glm: EmulatorHTTPServer,
    redis_server: RedisServer,
    api_key: str,
    workers: list[Worker],
) -> None:
    # One environment variable is all the fleet needs beside max_concurrency.
    client = _client(glm, api_key, None, max_concurrency=LIMIT)
    env = {"ZHIPU_FLASH_CONCURRENCY_URL": redis_server.url}
    start_workers(workers, [{"mode": "langchain", "n": 5, "client": client}] * 3, env=env)
    reports = _reports(workers)
    assert [r["errors"] for r in reports] == [[]] * 3
    assert [r["answers"] for r in reports] == [[HELLO] * 5] * 3
    assert glm.rejected == 0
    assert glm.peak_by_model[MODEL] == LIMIT


def test_llama_index_query_engines_in_each_process_share_the_limit(
    glm: EmulatorHTTPServer,
    redis_server: RedisServer,
    api_key: str,
    workers: list[Worker],
) -> None:
    client = _client(glm, api_key, redis_server.url, max_concurrency=LIMIT)
    # Two processes: LlamaIndex takes seconds to import.
    start_workers(workers, [{"mode": "llama-index", "n": 5, "client": client}] * 2)
    reports = _reports(workers)
    assert [r["errors"] for r in reports] == [[]] * 2
    assert [r["answers"] for r in reports] == [["Paris is the capital of France."] * 5] * 2
    assert glm.rejected == 0
    assert glm.peak_by_model[MODEL] == LIMIT


def _server_ms(server: RedisServer) -> int:
    with redis.Redis.from_url(server.url) as conn:
        seconds, micros = conn.time()
    return int(seconds) * 1000 + int(micros) // 1000


def test_a_worker_killed_mid_stream_frees_its_slot_when_its_lease_expires(
    redis_server: RedisServer, api_key: str, workers: list[Worker]
) -> None:
    lease = 1.0
    url = f"{redis_server.url}?lease={lease:g}"
    # A slow stream (a second per event): the worker is surely mid-stream when killed.
    with serving_emulator(pace=1.0) as glm:
        client = _client(glm, api_key, url, max_concurrency=1)
        (worker,) = start_workers(workers, [{"mode": "hold", "client": client}])
        worker.wait_for("streaming")
        shared = zf.ZhipuClient(**client).shared
        assert shared is not None
        scope = scope_of(glm.base_url, api_key, MODEL)
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
        killed_at = _server_ms(redis_server)
        ((dead_lease, expiry),) = shared.holders(scope)
        # Renewed at most up to the kill: it ends within one lease time of it.
        assert expiry <= killed_at + lease * 1000

        # A new request gets the only slot, once the dead lease expired (a timeout of 10 s
        # would fail the test with ConcurrencySlotTimeoutError, not hang it).
        with zf.ZhipuClient(**client, timeout=httpx.Timeout(30.0, pool=10.0)) as fresh:
            slot = fresh.shared
            assert slot is not None
            release = fresh._acquire(MODEL)
            try:
                ((lease_id, new_expiry),) = slot.holders(scope)
                assert lease_id != dead_lease
                assert new_expiry - lease * 1000 >= expiry  # granted after the dead one ended
            finally:
                release()


def test_redis_stopped_mid_run_falls_back_to_each_process_limit(
    own_redis: RedisServer, api_key: str, workers: list[Worker]
) -> None:
    # The documented behaviour: every request completes, under each process's own limit;
    # one SharedLimitWarning per process and a "fallback" event in its log.
    with serving_emulator(pace=0.01) as glm:
        client = _client(glm, api_key, own_redis.url, max_concurrency=2)
        start_workers(workers, [{"mode": "core-async", "n": 12, "client": client}] * 3)
        deadline = time.monotonic() + 30
        while glm.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        own_redis.stop()
        reports = _reports(workers)
    assert [r["errors"] for r in reports] == [[]] * 3
    assert [r["answers"] for r in reports] == [[HELLO] * 12] * 3
    # The requests that had not started yet when Redis stopped went on without it.
    assert [len(r["warnings"]) for r in reports] == [1] * 3
    assert all("fallback" in r["events"] for r in reports)
    assert glm.peak_by_model[MODEL] <= 2 * 3
