"""A real ``redis-server`` for the shared-limit tests, and worker processes that use it.

The server is started once per session on a free loopback port, without persistence
(glm_emulator/redis_server.py). Without ``redis-server`` or redis-py the tests skip, except
where ``ZHIPU_FLASH_REQUIRE_REDIS=1`` (``.ci/run`` sets it): there they fail, so CI can never
pass by not running them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from glm_emulator.redis_server import RedisServer, find_redis_server, running_redis

ROOT = Path(__file__).resolve().parents[2]
#: How long a worker may take before the test fails (a hang is a failure, never a pass).
WORKER_DEADLINE = 60.0


def _need_redis() -> None:
    problem = None
    if find_redis_server() is None:
        problem = "redis-server is not installed (apt-get install redis-server)"
    else:
        try:
            import redis  # noqa: F401
        except ImportError:
            problem = "redis-py is not installed (pip install -e '.[test]')"
    if problem is None:
        return
    if os.environ.get("ZHIPU_FLASH_REQUIRE_REDIS") == "1":
        pytest.fail(f"ZHIPU_FLASH_REQUIRE_REDIS=1 but {problem}", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    _need_redis()
    with running_redis() as server:
        yield server


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of the test's own, which it may stop."""
    _need_redis()
    with running_redis() as server:
        yield server


@pytest.fixture
def api_key() -> str:
    """A key of the test's own, so no two tests share a count in the session's Redis."""
    return f"test-key.{uuid.uuid4().hex}"


@dataclass
class Worker:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    def wait_for(self, line: str) -> None:
        assert self.process.stdout is not None
        got = self.process.stdout.readline().strip()
        assert got == line, (got, self.process.stderr.read() if self.process.stderr else "")

    def report(self) -> dict[str, Any]:
        out, err = self.process.communicate(timeout=WORKER_DEADLINE)
        assert self.process.returncode == 0, err
        report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        report["stderr"] = err
        return report


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """The workers a test starts (with :func:`start_workers`), killed if still running."""
    started: list[Worker] = []
    yield started
    for worker in started:
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.communicate()


def start_workers(
    started: list[Worker], configs: list[dict[str, Any]], env: dict[str, str] | None = None
) -> list[Worker]:
    """Start one process per config, wait until each is ready, then let all go at once."""
    environment = {**os.environ, **(env or {})}
    workers = [
        Worker(
            subprocess.Popen(
                [sys.executable, "-m", "tests.shared_limit._worker", json.dumps(cfg)],
                cwd=ROOT,
                env=environment,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        for cfg in configs
    ]
    started.extend(workers)
    for worker in workers:
        worker.wait_for("ready")
    for worker in workers:
        assert worker.process.stdin is not None
        worker.process.stdin.write("go\n")
        worker.process.stdin.flush()
    return workers
