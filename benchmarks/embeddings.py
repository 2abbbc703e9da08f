"""The embedding benchmark: 10,000 short texts through every client, against a plain httpx loop
in the same run.

    python -m benchmarks.embeddings                  # 10,000 texts, 2048 dimensions, 3 rounds
    python -m benchmarks.embeddings --quick          # 2,000 texts, 1 round
    python -m benchmarks.embeddings --texts 10000 --dimensions 256 --rounds 5

Run it from the repository root with the interpreter of a venv that has ``-e .[all]``
(the development venv does; ``--python PATH`` picks another). It starts
:mod:`benchmarks.embedding_server` on loopback, then runs each client in a fresh process
(:func:`run_client`, ``--run NAME``), round after round with the clients alternating, and
writes ``benchmarks/EMBEDDINGS.md`` (``-quick.md`` for ``--quick``) and the raw numbers in
the ``.json`` next to it.

Each run: build the client, embed 64 texts once (imports, connection set-up: not timed), reset
the server's counters, embed all the texts in one call timing wall clock
(``time.perf_counter``) and the process's CPU (``time.process_time``), then read from the
server how many requests and inputs arrived and the most requests it had open at once. The
vectors are checked: one per text, of the asked length, in input order (each vector's first
number is its text's number). A client's best round counts (contention only adds time); a
wrong answer always counts and makes the driver exit non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import os
import platform
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"
WARM_UP = 64
#: Words the texts are made of: English, Chinese and digits, as a knowledge base holds.
_WORDS = [
    *("tea", "harvest", "Hangzhou", "龙井", "茶叶", "leave", "policy", "报销", "expenses"),
    *("river", "长江", "train", "ticket", "hotel", "450", "yuan", "remote", "work", "Friday"),
    *("培训", "budget", "3000", "warehouse", "shop", "staff"),
]


def texts(n: int) -> list[str]:
    """``n`` short texts (25 to 60 characters), each starting with its number: ``#17 ...``."""
    out = []
    for i in range(n):
        words = [_WORDS[(i * 7 + k * 3) % len(_WORDS)] for k in range(4 + i % 5)]
        out.append(f"#{i} " + " ".join(words))
    return out


# -- one client in this process -------------------------------------------------------------


def _call(embed: Any, batch: list[str]) -> Any:
    result = embed(batch)
    return asyncio.run(result) if inspect.isawaitable(result) else result


def _server(base: str, path: str, method: str = "GET") -> dict[str, Any]:
    request = urllib.request.Request(
        f"{base}{path}", method=method, data=b"" if method == "POST" else None
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


def run_client(name: str, port: int, n: int, dimensions: int) -> dict[str, Any]:
    """Measure one client in this process; see the module docstring."""
    from benchmarks.clients.embeddings import CLIENTS

    build, is_async, _ = CLIENTS[name]
    root = f"http://127.0.0.1:{port}"
    base_url = f"{root}/api/paas/v4"
    try:
        embed = build(base_url, dimensions)
    except ImportError as exc:
        return {"client": name, "available": False, "why": str(exc)}
    all_texts = texts(n)
    if is_async:
        # One event loop for the warm-up and the timed call, as an application has.
        async def both() -> tuple[Any, float, float, float, float]:
            await embed(all_texts[:WARM_UP])
            _server(root, "/reset", "POST")
            w0, c0 = time.perf_counter(), time.process_time()
            vectors = await embed(all_texts)
            return vectors, w0, c0, time.perf_counter(), time.process_time()

        vectors, w0, c0, w1, c1 = asyncio.run(both())
    else:
        _call(embed, all_texts[:WARM_UP])
        _server(root, "/reset", "POST")
        w0, c0 = time.perf_counter(), time.process_time()
        vectors = embed(all_texts)
        w1, c1 = time.perf_counter(), time.process_time()
    stats = _server(root, "/stats")
    exact = len(vectors) == n and all(
        len(v) == dimensions and round(v[0] * 1e6) == i for i, v in enumerate(vectors)
    )
    return {
        "client": name,
        "available": True,
        "async": is_async,
        "wall_s": w1 - w0,
        "cpu_s": c1 - c0,
        "exact": exact,
        **stats,
    }


# -- the driver -------------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    # No real key or base URL can leak into a runner; loopback needs no proxy.
    env = {
        k: v
        for k, v in os.environ.items()
        if not any(s in k.upper() for s in ("API_KEY", "API_BASE", "BASE_URL", "PROXY"))
    }
    env.update(NO_PROXY="127.0.0.1,localhost", PYTHONWARNINGS="ignore")
    return env


def _run(python: str, name: str, port: int, n: int, dimensions: int) -> dict[str, Any]:
    command = [python, "-m", "benchmarks.embeddings", "--run", name, "--port", str(port),
               "--texts", str(n), "--dimensions", str(dimensions)]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, env=_child_env(), capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        return {"client": name, "available": True, "exact": False, "error": done.stderr[-2000:]}
    row: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


def _best(rows: list[dict[str, Any]]) -> dict[str, Any]:
    wrong = [r for r in rows if not r.get("exact", True)]
    if wrong:
        return wrong[0]
    best = min(rows, key=lambda r: r["cpu_s"])
    return {**best, "wall_s": min(r["wall_s"] for r in rows), "rounds": len(rows)}


def _report(results: dict[str, Any]) -> str:
    from benchmarks.clients.embeddings import CLIENTS

    rows = results["rows"]
    lines = [
        "# Embedding benchmark",
        "",
        f"`{results['command']}` on {results['machine']}: {results['texts']:,} short texts "
        f"(25 to 60 characters), {results['dimensions']} dimensions, best of "
        f"{results['rounds']} rounds per client in fresh processes, against the loopback "
        "server in `benchmarks/embedding_server.py` (its own process). Ratios are to the plain "
        "httpx loop of the same kind (sync or async) in this run. See "
        "`benchmarks/README.md` for the method.",
        "",
        "| client | what | requests | inputs | peak in flight | wall s | CPU s | wall / floor | "
        "CPU / floor | exact |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, (_, is_async, what) in CLIENTS.items():
        row = rows.get(name)
        if row is None:
            continue
        if not row.get("available", True):
            lines.append(f"| {name} | {what} | not available | | | | | | | |")
            continue
        if "error" in row:
            lines.append(f"| {name} | {what} | failed | | | | | | | no |")
            continue
        floor = rows.get("floor-async" if is_async else "floor", {})
        wall = row["wall_s"] / floor["wall_s"] if floor.get("wall_s") else float("nan")
        cpu = row["cpu_s"] / floor["cpu_s"] if floor.get("cpu_s") else float("nan")
        lines.append(
            f"| {name} | {what} | {row['requests']} | {row['inputs']:,} | "
            f"{row['peak_in_flight']} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} | "
            f"{wall:.2f} | {cpu:.2f} | {'yes' if row['exact'] else '**NO**'} |"
        )
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=None, help="texts to embed (10000)")
    parser.add_argument("--dimensions", type=int, default=2048, choices=(256, 512, 1024, 2048))
    parser.add_argument("--rounds", type=int, default=None, help="rounds per client (3)")
    parser.add_argument("--quick", action="store_true", help="2,000 texts, one round")
    parser.add_argument("--only", help="comma-separated client names (the floors always run)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the runners")
    parser.add_argument("--output", help="report path (default benchmarks/EMBEDDINGS[-quick].md)")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # a runner: one client, one JSON line
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    n = args.texts or (2_000 if args.quick else 10_000)
    if args.run:
        print(json.dumps(run_client(args.run, args.port, n, args.dimensions)))
        return 0

    from benchmarks.clients.embeddings import CLIENTS

    names = list(CLIENTS)
    if args.only:
        wanted = set(args.only.split(",")) | {"floor", "floor-async"}
        names = [name for name in names if name in wanted]
    rounds = args.rounds or (1 if args.quick else 3)
    server = subprocess.Popen(
        [args.python, "-m", "benchmarks.embedding_server"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=_child_env(),
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for r in range(rounds):
            for name in names:
                row = _run(args.python, name, port, n, args.dimensions)
                runs[name].append(row)
                shown = (
                    f"{row['cpu_s']:.2f} s CPU, {row['wall_s']:.2f} s wall, "
                    f"{row['requests']} requests, exact={row['exact']}"
                    if "cpu_s" in row
                    else row.get("why") or row.get("error", "")[-300:]
                )
                print(f"round {r + 1}/{rounds} {name}: {shown}", flush=True)
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(10)
    rows = {
        name: _best(rs) if rs and rs[0].get("available", True) else rs[0]
        for name, rs in runs.items()
    }
    command = "python -m benchmarks.embeddings" + (" " + " ".join(argv or sys.argv[1:])).rstrip()
    results = {
        "command": command.strip(),
        "machine": (
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        ),
        "texts": n,
        "dimensions": args.dimensions,
        "rounds": rounds,
        "rows": rows,
        "runs": runs,
    }
    output = (
        Path(args.output)
        if args.output
        else HERE / ("EMBEDDINGS-quick.md" if args.quick else "EMBEDDINGS.md")
    )
    output.write_text(_report(results), encoding="utf-8")
    output.with_suffix(".json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0 if all(row.get("exact", True) for row in rows.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
