"""Measure one client on one scenario, in the process that runs this module (a fresh one).

``python -m benchmarks.runner --client core --port P --n 20000`` prints one JSON line (the
clients, by family, are in benchmarks/clients/).
The driver (benchmarks/run.py) starts one such process per client per scenario so that no
client inherits another's imports, caches or heap.

What is measured, excluding imports and client construction:

- ``cpu``: ``time.process_time()`` of this process over the streaming loop (the server is
  another process), divided by the chunks the server sent;
- ``wall`` and chunks/s; ``ttfc``: from the call that sends the request to the first chunk
  yielded to user code. A warm-up request of 20 chunks runs first through the same client
  (its TTFC is reported as "cold": connection set-up and first-use imports included);
- RSS before and after, peak RSS (``ru_maxrss``), and RSS growth over the stream.

Every run checks that the client delivered exactly the text the server sent (content, and
reasoning where the client surfaces it) and the number of chunks: a benchmark of a broken
client is worthless, so a mismatch fails the run.

The user code in every loop is the same: count the chunk, note the first one's time, append
the content and reasoning deltas to two lists.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from typing import Any

from benchmarks import _data
from benchmarks.clients import CLIENTS, Client

PAGE = os.sysconf("SC_PAGE_SIZE")
WARMUP_N = 20
Add = Callable[[str], Any]


def rss() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * PAGE


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- running ----------------------------------------------------------------------------------


class Check:
    """Collects one stream's text and checks it against what the server sent."""

    def __init__(self, n: int, reasoning: bool) -> None:
        self.n = n
        self.reasoning = reasoning
        self.content: list[str] = []
        self.thinking: list[str] = []

    def verify(self, client: Client, count: int) -> str | None:
        want_content, want_reasoning = client.expect(self.n)
        got = "".join(self.content)
        if got != want_content:
            return f"content differs: got {len(got)} chars, want {len(want_content)}"
        if self.reasoning and "".join(self.thinking) != want_reasoning:
            return f"reasoning differs: got {len(''.join(self.thinking))} chars"
        if count != client.count(self.n):
            return f"{count} chunks yielded, want {client.count(self.n)}"
        return None


def measure(
    client: Client, port: int, n: int, reps: int, trials: int, mode: str, conc: int
) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}/api/paas/v4"
    state = client.setup(base, conc)
    return asyncio.run(_measure(client, state, n, reps, trials, mode, conc))


async def _measure(
    client: Client, state: Any, n: int, reps: int, trials: int, mode: str, conc: int
) -> dict[str, Any]:
    """``trials`` timed rounds of ``reps`` sequential rounds of ``conc`` concurrent streams.

    The machine is shared (2 cores, the server among them), so the CPU per chunk reported is
    the least of the trials (the median is kept too): contention only ever adds time.
    A sync client runs inside the loop as plain blocking code; nothing else is scheduled.
    """
    errors: list[str] = []
    ttfcs: list[float] = []

    async def one(p: str, k: int) -> None:
        check = Check(k, client.surfaces_reasoning)
        t0 = time.perf_counter()
        if client.is_async:
            count, first = await client.run(
                state, p, k, check.content.append, check.thinking.append
            )
        else:
            count, first = client.run(state, p, k, check.content.append, check.thinking.append)
        ttfcs.append(first - t0)
        if error := check.verify(client, count):
            errors.append(error)

    # Warm-up: connection set-up and first-use imports, reported as the cold TTFC.
    await one(_data.prompt(WARMUP_N), WARMUP_N)
    cold = ttfcs.pop()
    p = _data.prompt(n, mode)
    cpus, walls = [], []
    gc.collect()
    rss0, peak0 = rss(), peak_rss()
    for _ in range(trials):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(reps):
            if conc == 1:
                await one(p, n)
            else:
                await asyncio.gather(*(one(p, n) for _ in range(conc)))
        cpus.append(time.process_time() - cpu0)
        walls.append(time.perf_counter() - wall0)
    per_trial = n * reps * conc
    result = _result(client, n, per_trial, min(cpus), min(walls), ttfcs, cold, rss0, peak0, errors)
    result["us_per_chunk_median"] = statistics.median(cpus) / per_trial * 1e6
    result["trials"] = trials
    return result


def _result(
    client: Client,
    n: int,
    chunks: int,
    cpu: float,
    wall: float,
    ttfcs: list[float],
    cold: float,
    rss0: int,
    peak0: int,
    errors: list[str],
) -> dict[str, Any]:
    rss1, peak1 = rss(), peak_rss()
    growth = max(rss1, peak1 if peak1 > peak0 else 0) - rss0
    ttfcs = sorted(ttfcs)
    return {
        "client": client.name,
        "label": client.label,
        "n": n,
        "chunks": chunks,
        "cpu_s": cpu,
        "wall_s": wall,
        "us_per_chunk": cpu / chunks * 1e6,
        "chunks_per_s": chunks / wall,
        "ttfc_ms": statistics.median(ttfcs) * 1e3,
        "ttfc_p99_ms": ttfcs[int(len(ttfcs) * 0.99)] * 1e3,
        "ttfc_cold_ms": cold * 1e3,
        "rss_mib": rss1 / 2**20,
        "peak_rss_mib": peak1 / 2**20,
        "rss_growth_mib": growth / 2**20,
        "errors": errors[:5],
        "ok": not errors,
        "note": client.note,
    }


def measure_memory(client: Client, port: int, n: int) -> dict[str, Any]:
    """A long stream with nothing kept: RSS sampled every 65,536 chunks, text checked by
    length and CRC-32 instead of a list that would itself grow."""
    base = f"http://127.0.0.1:{port}/api/paas/v4"
    state = client.setup(base, 1)
    return asyncio.run(_memory(client, state, n))


async def _memory(client: Client, state: Any, n: int) -> dict[str, Any]:
    # One event loop for both requests (an async client's pool belongs to its loop); a sync
    # client simply runs inside it.
    want_content, want_reasoning = client.expect(n)
    want = (
        len(want_content),
        zlib.crc32(want_content.encode()),
        len(want_reasoning),
        zlib.crc32(want_reasoning.encode()),
    )
    del want_content, want_reasoning
    sums = [0, 0, 0, 0]
    samples: list[int] = []
    seen = [0]

    def cadd(s: str) -> None:
        sums[0] += len(s)
        sums[1] = zlib.crc32(s.encode(), sums[1])
        seen[0] += 1
        if not seen[0] & 0xFFFF:
            samples.append(rss())

    def radd(s: str) -> None:
        sums[2] += len(s)
        sums[3] = zlib.crc32(s.encode(), sums[3])

    async def call(p: str, k: int, c: Add, r: Add) -> tuple[int, float]:
        if client.is_async:
            return await client.run(state, p, k, c, r)  # type: ignore[no-any-return]
        return client.run(state, p, k, c, r)  # type: ignore[no-any-return]

    await call(_data.prompt(WARMUP_N), WARMUP_N, lambda s: None, lambda s: None)
    gc.collect()
    rss0, peak0 = rss(), peak_rss()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    t0 = time.perf_counter()
    count, first = await call(_data.prompt(n), n, cadd, radd)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    errors = []
    if tuple(sums) != want:
        errors.append(f"text differs: got {sums}, want {list(want)}")
    if count != client.count(n):
        errors.append(f"{count} chunks yielded, want {client.count(n)}")
    result = _result(client, n, n, cpu, wall, [first - t0], first - t0, rss0, peak0, errors)
    result["rss_max_sampled_mib"] = max([*samples, rss()]) / 2**20
    result["rss_growth_mib"] = max(result["rss_growth_mib"], (max([*samples, 0]) - rss0) / 2**20)
    return result


def profile(client: Client, port: int, n: int, out: str) -> dict[str, Any]:
    """cProfile one ``n``-chunk stream; write the pstats file and return the top entries."""
    import cProfile
    import pstats

    base = f"http://127.0.0.1:{port}/api/paas/v4"
    state = client.setup(base, 1)
    check = Check(n, client.surfaces_reasoning)
    client.run(state, _data.prompt(WARMUP_N), WARMUP_N, lambda s: None, lambda s: None)
    profiler = cProfile.Profile()
    profiler.enable()
    count, _ = client.run(state, _data.prompt(n), n, check.content.append, check.thinking.append)
    profiler.disable()
    profiler.dump_stats(out)
    stats = pstats.Stats(profiler)
    rows = []
    for (file, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "func": f"{_short(file)}:{line}({func})",
                "ncalls": ncalls,
                "tot_us_per_chunk": tottime / n * 1e6,
                "cum_us_per_chunk": cumtime / n * 1e6,
            }
        )
    rows.sort(key=lambda r: -r["tot_us_per_chunk"])
    error = check.verify(client, count)
    return {"client": client.name, "n": n, "top": rows[:30], "ok": error is None, "error": error}


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Measure one client (see module docstring).")
    parser.add_argument("--client", required=True, choices=sorted(CLIENTS))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--n", type=int, default=20000, help="chunks per response")
    parser.add_argument("--reps", type=int, default=1, help="sequential responses (or rounds)")
    parser.add_argument("--trials", type=int, default=1, help="timed trials; the least counts")
    parser.add_argument("--mode", default="burst", choices=("burst", "paced"))
    parser.add_argument("--concurrency", type=int, default=1, help="async streams at once")
    parser.add_argument("--memory", action="store_true", help="long-stream RSS check")
    parser.add_argument("--profile", metavar="FILE", help="cProfile into FILE instead")
    parser.add_argument(
        "--no-gc",
        action="store_true",
        help="turn the cyclic collector off: how much of a client's cost is the collector's",
    )
    args = parser.parse_args(argv)
    client = CLIENTS[args.client]
    if args.no_gc:
        gc.disable()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for module in client.needs:
        try:
            __import__(module)
        except ImportError as exc:
            print(json.dumps({"client": client.name, "skipped": f"not available: {exc}"}))
            return
    if args.profile:
        result = profile(client, args.port, args.n, args.profile)
    elif args.memory:
        result = measure_memory(client, args.port, args.n)
    else:
        result = measure(
            client, args.port, args.n, args.reps, args.trials, args.mode, args.concurrency
        )
    result.update(mode=args.mode, reps=args.reps, concurrency=args.concurrency)
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
