"""What sharing ``max_concurrency`` through Redis costs a request, against the in-process limit.

    python -m benchmarks.limiter            # about 30 s
    python -m benchmarks.limiter --quick    # about 5 s
    python -m benchmarks.limiter --instructions   # callgrind counts: about 3 minutes

Run it from the repository root in the test venv (it needs redis-py and ``redis-server``; a
throwaway server is started on a free loopback port, glm_emulator/redis_server.py). Each row
takes and gives back one slot ``n`` times in a row, uncontended, through the path a request
takes (``ZhipuClient._acquire`` and the release it returns), and reports per acquire+release:

- client CPU (``time.process_time``, every thread of the process: the keeper thread that
  sends the releases included) and wall time, each the least of ``--trials`` trials;
- Redis round trips and script calls, counted by the server (``INFO stats`` and
  ``INFO commandstats``), so nothing is estimated.

``--instructions`` runs the sync rows under valgrind's callgrind instead: instructions of
the whole client process per acquire+release (the keeper thread included, Redis not), the
same on every run whatever the load. The last two rows put it in context: one whole
non-streamed request to the GLM emulator on loopback, with each limit. Wall times move with
the machine's load, CPU times less, counts not at all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import redis

import zhipu_flash as zf
from glm_emulator.redis_server import running_redis
from glm_emulator.server import serving_emulator

MODEL = "glm-4-flash-250414"
HI = [{"role": "user", "content": "Hi"}]


_sent = [0]


def _count_round_trips() -> None:
    """Count every request redis-py writes (a pipeline is one write, so one round trip)."""
    import redis.asyncio.connection
    import redis.connection

    for cls in (redis.connection.AbstractConnection, redis.asyncio.connection.AbstractConnection):
        original = cls.send_packed_command

        def counted(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            _sent[0] += 1
            return _original(self, *args, **kwargs)

        cls.send_packed_command = counted  # type: ignore[method-assign]


def _stats(conn: Any) -> tuple[int, int]:
    """(round trips sent by this process, script calls the server ran) so far."""
    scripts = sum(
        v["calls"]
        for k, v in conn.info("commandstats").items()
        if k in ("cmdstat_evalsha", "cmdstat_eval")
    )
    return _sent[0], scripts


def _settle(client: zf.ZhipuClient | zf.AsyncZhipuClient) -> None:
    """Wait until the keeper thread has sent every queued release."""
    shared = client.shared
    if shared is None or shared._keeper is None:
        return
    while not shared._keeper.queue.empty():
        time.sleep(0.001)
    time.sleep(0.01)


def _measure(
    run: Callable[[], None], n: int, trials: int, settle: Callable[[], None]
) -> dict[str, float]:
    cpu, wall = [], []
    for _ in range(trials):
        c0, w0 = time.process_time(), time.perf_counter()
        run()
        settle()
        cpu.append((time.process_time() - c0) / n * 1e6)
        wall.append((time.perf_counter() - w0) / n * 1e6)
    return {"cpu_us": min(cpu), "wall_us": min(wall)}


def _one(kind: str, n: int, url: str) -> None:
    """Take and give back ``n`` slots (the process that callgrind counts)."""
    client = zf.ZhipuClient(
        api_key="bench.key", max_concurrency=4, concurrency_url=url if kind == "redis" else ""
    )
    for _ in range(20):  # warm-up: connection, SCRIPT LOAD, the keeper thread
        client._acquire(MODEL)()
    _settle(client)
    for _ in range(n):
        client._acquire(MODEL)()
    _settle(client)


def _instructions() -> int:
    """Instructions per acquire+release under callgrind: the difference between a run of 1,200
    and one of 200, divided by 1,000 (start-up, imports and the warm-up cancel out)."""
    import re
    import subprocess
    import sys
    import tempfile

    print("| per sync acquire+release | instructions (callgrind) |")
    print("|---|---|")
    with running_redis() as server, tempfile.TemporaryDirectory() as tmp:
        for kind in ("local", "redis"):
            counts = []
            for n in (200, 1200):
                run = subprocess.run(
                    [
                        "valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
                        sys.executable, "-m", "benchmarks.limiter",
                        "--one", kind, "--n", str(n), "--url", server.url,
                    ],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                counts.append(int(re.findall(r"Collected : (\d+)", run.stderr)[-1]))
            per = (counts[1] - counts[0]) / 1000
            name = "in-process" if kind == "local" else "Redis"
            print(f"| {name} | {per:,.0f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.limiter")
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions with callgrind instead"
    )
    parser.add_argument("--one", choices=["local", "redis"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        _one(args.one, args.n, args.url)
        return 0
    if args.instructions:
        return _instructions()
    n = 500 if args.quick else 3000
    requests = 10 if args.quick else 50

    _count_round_trips()
    rows: list[tuple[str, dict[str, float]]] = []
    with (
        running_redis() as server,
        serving_emulator() as glm,
        redis.Redis.from_url(server.url) as conn,
    ):
        common = {"api_key": "bench.key", "base_url": glm.base_url, "max_concurrency": 4}
        local = zf.ZhipuClient(**common, concurrency_url="")
        shared = zf.ZhipuClient(**common, concurrency_url=server.url)
        alocal = zf.AsyncZhipuClient(**common, concurrency_url="")
        ashared = zf.AsyncZhipuClient(**common, concurrency_url=server.url)

        def sync_loop(client: zf.ZhipuClient) -> Callable[[], None]:
            def run() -> None:
                for _ in range(n):
                    client._acquire(MODEL)()

            return run

        def async_loop(client: zf.AsyncZhipuClient) -> Callable[[], None]:
            async def go() -> None:
                for _ in range(n):
                    (await client._aacquire(MODEL))()

            return lambda: asyncio.run(go())

        def requests_loop(client: zf.ZhipuClient) -> Callable[[], None]:
            def run() -> None:
                for _ in range(requests):
                    client.create(model=MODEL, messages=HI)

            return run

        # Warm up: connections, SCRIPT LOAD, the keeper thread.
        for client in (local, shared):
            sync_loop(client)()
            client.create(model=MODEL, messages=HI)
        for aclient in (alocal, ashared):
            async_loop(aclient)()

        cases: list[tuple[str, Callable[[], None], int, Any]] = [
            ("in-process, sync acquire+release", sync_loop(local), n, local),
            ("Redis, sync acquire+release", sync_loop(shared), n, shared),
            ("in-process, async acquire+release", async_loop(alocal), n, alocal),
            ("Redis, async acquire+release", async_loop(ashared), n, ashared),
            ("in-process, one create() to the emulator", requests_loop(local), requests, local),
            ("Redis, one create() to the emulator", requests_loop(shared), requests, shared),
        ]
        for name, run, count, client in cases:
            before = _stats(conn)
            row = _measure(run, count, args.trials, lambda c=client: _settle(c))
            after = _stats(conn)
            # The INFO of the first _stats is one round trip of its own.
            row["round_trips"] = (after[0] - before[0] - 1) / (count * args.trials)
            row["script_calls"] = (after[1] - before[1]) / (count * args.trials)
            rows.append((name, row))
        local.close()
        shared.close()

    print(f"{n} acquire+release (or {requests} requests) in a row, least of {args.trials} trials")
    print("| per acquire+release | client CPU µs | wall µs | Redis round trips | script calls |")
    print("|---|---|---|---|---|")
    for name, row in rows:
        print(
            f"| {name} | {row['cpu_us']:.1f} | {row['wall_us']:.1f} | "
            f"{row['round_trips']:.2f} | {row['script_calls']:.2f} |"
        )
    if args.json:
        print(json.dumps(dict(rows), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
