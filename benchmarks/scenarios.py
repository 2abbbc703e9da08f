"""What the benchmark runs: the clients of each kind of scenario, and the scenarios (full and
quick sizes)."""

from __future__ import annotations

from dataclasses import dataclass

SYNC = [
    "floor",
    "httpx-sse",
    "core",
    "core-langchain",
    "core-llamaindex",
    "chatzhipuflash",
    "zhipuflash",
    "chatopenai",
    "chatdeepseek",
    "chatzhipuai",
    "openailike",
]
ASYNC = [
    "floor-async",
    "httpx-sse-async",
    "core-async",
    "core-langchain-async",
    "core-llamaindex-async",
    "chatzhipuflash-async",
    "zhipuflash-async",
    "chatopenai-async",
    "chatdeepseek-async",
    "chatzhipuai-async",
    "openailike-async",
]


@dataclass
class Scenario:
    key: str
    title: str
    clients: list[str]
    n: int
    reps: int = 1
    trials: int = 1
    mode: str = "burst"
    concurrency: int = 1
    memory: bool = False
    floor: str | None = "floor"  # which client the ratios divide by (sync or async floor)
    # Clients run ``rounds`` times, interleaved, keeping the least CPU per chunk: the floor
    # and the core are within a few percent of each other, less than this host's drift
    # between two runs, so one run each would decide the comparison by chance.
    repeat: tuple[str, ...] = ()
    rounds: int = 1


def scenarios(quick: bool) -> list[Scenario]:
    big = 5_000 if quick else 20_000
    trials = 3
    rounds = 2 if quick else 4
    sync_pair, async_pair = ("floor", "core"), ("floor-async", "core-async")
    return [
        Scenario(
            "big",
            f"one {big:,}-chunk response, burst",
            SYNC,
            big,
            trials=trials,
            repeat=sync_pair,
            rounds=rounds,
        ),
        Scenario(
            "big-async",
            f"one {big:,}-chunk response, burst, async",
            ASYNC,
            big,
            trials=trials,
            floor="floor-async",
            repeat=async_pair,
            rounds=rounds,
        ),
        Scenario(
            "small",
            "200-chunk responses, burst, sequential",
            SYNC,
            200,
            reps=10,
            trials=trials,
            repeat=sync_pair,
            rounds=rounds,
        ),
        Scenario(
            "paced",
            "50-chunk responses, paced (one event per write, 2 ms apart)",
            ["floor", "core", "chatzhipuflash", "zhipuflash"] if quick else SYNC,
            50,
            reps=5 if quick else 10,
            mode="paced",
        ),
        Scenario(
            "conc100",
            "100 concurrent 200-chunk streams on one event loop",
            ASYNC,
            200,
            trials=2,
            concurrency=100,
            floor="floor-async",
        ),
        Scenario(
            "conc1000",
            "1,000 concurrent 200-chunk streams on one event loop",
            ["floor-async", "httpx-sse-async", "core-async"],
            100 if quick else 200,
            trials=1 if quick else 2,
            concurrency=1000,
            floor="floor-async",
        ),
        Scenario(
            "li-long",
            f"one {10_000 if quick else 100_000:,}-chunk response through LlamaIndex "
            "(cumulative message cost)",
            ["floor", "zhipuflash", "openailike"],
            10_000 if quick else 100_000,
            trials=2,
        ),
        Scenario(
            "memory",
            f"one {100_000 if quick else 1_000_000:,}-chunk response, nothing kept (RSS check)",
            ["floor", "core", "core-async"],
            100_000 if quick else 1_000_000,
            memory=True,
        ),
    ]
