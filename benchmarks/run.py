"""Reproduce every benchmark number with one command.

    python -m benchmarks            # full run: 26 minutes on 2 cores, 20 of them callgrind
    python -m benchmarks --quick    # small sizes (--no-instructions skips callgrind)

The driver needs only the standard library. It creates (or reuses) a separate benchmark venv
(``--venv``, default ``.bench-venv`` in the repo root), installs ``-e .[all]`` plus
``benchmarks/requirements.txt`` (the alternatives and measuring tools, which never become
dependencies of the project), starts the loopback server (benchmarks/server.py) in its own
process, runs every client in a fresh process per scenario (benchmarks/runner.py), and writes
the ratios to the floor of this same run to ``benchmarks/RESULTS.md`` (``RESULTS-quick.md``
for ``--quick``), with a PNG chart when matplotlib is available.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks import concurrency, startup
from benchmarks.report import fmt, issue21_targets, targets, write_report
from benchmarks.scenarios import Scenario, scenarios

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "benchmarks"

PACKAGES = [
    "zhipu-flash",
    "httpx",
    "pydantic",
    "pydantic-core",
    "httpx-sse",
    "langchain-core",
    "langchain-openai",
    "langchain-deepseek",
    "langchain-community",
    "openai",
    "llama-index-core",
    "llama-index-llms-openai",
    "llama-index-llms-openai-like",
]


# -- the benchmark venv --------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(venv: Path, install: bool) -> Path:
    """Create the venv and (re)install when pyproject.toml or requirements.txt changed."""
    python = venv_python(venv)
    if not python.exists():
        print(f"creating the benchmark venv at {venv}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    stamp = venv / ".zhipu-flash-bench-stamp"
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + (HERE / "requirements.txt").read_bytes()
    ).hexdigest()
    if install and (not stamp.exists() or stamp.read_text() != digest):
        print("installing -e .[all] and benchmarks/requirements.txt into it", flush=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-e", ".[all]", "-r",
             str(HERE / "requirements.txt")],
            check=True,
            cwd=ROOT,
        )  # fmt: skip
        stamp.write_text(digest)
    return python


def child_env() -> dict[str, str]:
    """The runners' environment: no real keys, no tracing, no proxy for loopback."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not any(s in k.upper() for s in ("API_KEY", "API_BASE", "BASE_URL", "PROXY"))
    }
    env.update(
        NO_PROXY="127.0.0.1,localhost",
        LANGCHAIN_TRACING_V2="false",
        LANGSMITH_TRACING="false",
        PYTHONWARNINGS="ignore",
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("PYTHONPATH", None)
    return env


# -- the server --------------------------------------------------------------------------------


class LoopbackServer:
    def __init__(self, python: Path, lifetime: float) -> None:
        self.proc = subprocess.Popen(
            [str(python), "-m", "benchmarks.server", "--watch-stdin",
             "--lifetime", str(lifetime), "--prerender", "200", "20000"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=child_env(),
            text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            self.stop()
            raise RuntimeError(f"the loopback server did not start: {line}")
        self.port = int(line[1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# -- running -------------------------------------------------------------------------------------


def run_one(
    python: Path, port: int, client: str, sc: Scenario, timeout: float, extra: list[str] = ()
) -> dict[str, Any]:
    cmd = [str(python), "-m", "benchmarks.runner", "--client", client, "--port", str(port),
           "--n", str(sc.n), "--reps", str(sc.reps), "--trials", str(sc.trials), "--mode", sc.mode,
           "--concurrency", str(sc.concurrency), *extra]  # fmt: skip
    if sc.memory:
        cmd.append("--memory")
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=child_env(), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"client": client, "failed": f"timed out after {timeout:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"client": client, "failed": f"exit {proc.returncode}: {tail[:300]}"}
    return json.loads(lines[-1])


def run_all(
    args: argparse.Namespace, python: Path
) -> tuple[dict[str, list[dict[str, Any]]], Any, list[dict[str, Any]]]:
    wanted = set(args.only.split(",")) if args.only else None
    results: dict[str, list[dict[str, Any]]] = {}
    profile_top = None
    instructions: list[dict[str, Any]] = []
    deadline = time.monotonic() + args.budget
    # The budget covers the timed runs; the callgrind counts come after them and take up to
    # half an hour with the adapters and their peers. The server also exits with its parent.
    server = LoopbackServer(python, lifetime=args.budget + 3600)
    try:
        for sc in scenarios(args.quick):
            if args.scenarios and sc.key not in args.scenarios.split(","):
                continue
            print(f"\n== {sc.title}", flush=True)
            rows = results.setdefault(sc.key, [])
            chosen = [c for c in sc.clients if not wanted or c in wanted or c == sc.floor]
            best: dict[str, dict[str, Any]] = {}
            repeated = [c for c in chosen if c in sc.repeat]
            for round_ in range(sc.rounds if repeated else 0):
                for client in repeated:
                    left = deadline - time.monotonic()
                    if left < 10:
                        break
                    row = run_one(python, server.port, client, sc, min(args.timeout, left))
                    print(f"  round {round_ + 1}: " + _progress(row), flush=True)
                    if client not in best or _worse_or_faster(row, best[client]):
                        best[client] = row
            for client in chosen:
                if client in best:
                    rows.append({**best[client], "rounds": sc.rounds})
                    continue
                left = deadline - time.monotonic()
                if left < 10:
                    rows.append({"client": client, "failed": "skipped: time budget spent"})
                    continue
                row = run_one(python, server.port, client, sc, min(args.timeout, left))
                rows.append(row)
                print("  " + _progress(row), flush=True)
        if not args.no_profile and (not args.scenarios or "profile" in args.scenarios):
            n = 2_000 if args.quick else 20_000
            print(f"\n== cProfile of the core on one {n:,}-chunk response", flush=True)
            sc = Scenario("profile", "", ["core"], n)
            out = Path(args.venv) / "profile-core.pstats"  # inside the ignored venv
            profile_top = run_one(python, server.port, "core", sc, args.timeout,
                                  ["--profile", str(out)])  # fmt: skip
            for r in (profile_top.get("top") or [])[:12]:
                print(f"  {r['tot_us_per_chunk']:7.2f} us/chunk  {r['func']}")
        # Last: valgrind keeps both cores busy, which would disturb the timed runs.
        if not args.no_instructions and (
            not args.scenarios or "instructions" in args.scenarios.split(",")
        ):
            print("\n== instructions per chunk under callgrind", flush=True)
            instructions = count_instructions(
                python, server.port, args.quick, max(args.timeout, 900)
            )
            if not instructions:
                print("  valgrind is not installed: skipped")
            for r in instructions:
                print(f"  {r['scenario']:<10} {r['client']:<12} {fmt(r['ir_per_chunk'], ',.0f')}")
    finally:
        server.stop()
    return results, profile_top, instructions


# -- instruction counts -----------------------------------------------------------------------


def instruction_cases(quick: bool) -> list[tuple[str, str, str, list[list[str]], int]]:
    """(scenario, row name, client, runner arguments for a shorter and a longer run, chunks
    between them). Fixed costs (start-up, imports, the warm-up request) cancel in the
    difference."""
    lo, hi = (1_000, 5_000) if quick else (2_000, 12_000)
    r_lo, r_hi = (2, 7) if quick else (2, 12)
    cases = []
    # The adapters, their peers and the frameworks' own machinery over the core, on the same
    # response (issue 21's targets 1 and 2).
    sync = ("floor", "core", "core-langchain", "core-llamaindex", "chatzhipuflash",
            "chatopenai", "zhipuflash", "openailike")  # fmt: skip
    asynchronous = ("floor-async", "core-async", "core-langchain-async",
                    "core-llamaindex-async", "chatzhipuflash-async", "chatopenai-async",
                    "zhipuflash-async", "openailike-async")  # fmt: skip
    for key, clients in (("big", sync), ("big-async", asynchronous)):
        for client in clients:
            runs = [["--n", str(lo)], ["--n", str(hi)]]
            cases.append((key, client, client, runs, hi - lo))
        # LangChain's stream keeps every chunk until the stream ends, so the collector scans
        # an adapter's chunks (the pre-built chunk of the baseline is one object): the same
        # adapter with the collector off shows how much of its layer that is.
        client = "chatzhipuflash" + ("-async" if key == "big-async" else "")
        runs = [["--n", str(lo), "--no-gc"], ["--n", str(hi), "--no-gc"]]
        cases.append((key, client + " (collector off)", client, runs, hi - lo))
    for client in ("floor", "core"):
        runs = [["--n", "200", "--reps", str(r_lo)], ["--n", "200", "--reps", str(r_hi)]]
        cases.append(("small", client, client, runs, (r_hi - r_lo) * 200))
    return cases


def count_instructions(
    python: Path, port: int, quick: bool, timeout: float
) -> list[dict[str, Any]]:
    """CPU instructions per chunk under callgrind: deterministic, so unlike process time it
    does not drift with the host's load (valgrind runs the client about 50 times slower).
    Empty when valgrind is not installed.

    Every run has the same hash seed. The count per chunk is the difference of two runs, and
    with a random seed each the fixed part (imports alone are billions of instructions) does
    not cancel: a client measured twice differed by up to 2% (zhipuflash-async: 203,656 and
    208,442), against 0.2% with one seed."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return []

    def collected(client: str, extra: list[str]) -> tuple[int | None, dict[str, Any]]:
        cmd = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", str(python),
               "-m", "benchmarks.runner", "--client", client, "--port", str(port),
               "--trials", "1", *extra]  # fmt: skip
        try:
            proc = subprocess.run(
                cmd, cwd=ROOT, env={**child_env(), "PYTHONHASHSEED": "0"},
                capture_output=True, text=True, timeout=timeout,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return None, {}
        found = re.search(r"Collected : (\d+)", proc.stderr)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
        row = json.loads(lines[-1]) if lines else {}
        return (int(found.group(1)) if found and row.get("ok") else None), row

    cases = instruction_cases(quick)
    jobs = [(client, extra) for _, _, client, runs, _ in cases for extra in runs]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        done = list(pool.map(lambda job: collected(*job), jobs))
    out = []
    for i, (key, name, client, _, chunks) in enumerate(cases):
        (low, _), (high, row) = done[2 * i], done[2 * i + 1]
        per = (high - low) / chunks if low is not None and high is not None else None
        label = row.get("label", client) + name[len(client) :]
        out.append({"scenario": key, "client": name, "label": label, "ir_per_chunk": per})
    return out


def _worse_or_faster(row: dict[str, Any], kept: dict[str, Any]) -> bool:
    """Whether ``row`` replaces ``kept`` among repeated runs: a failed or inexact run is
    never hidden by a good one; otherwise the least CPU per chunk wins."""
    if "us_per_chunk" not in kept or not kept["ok"]:
        return False
    if "us_per_chunk" not in row or not row["ok"]:
        return True
    return bool(row["us_per_chunk"] < kept["us_per_chunk"])


def _progress(row: dict[str, Any]) -> str:
    if "failed" in row or "skipped" in row:
        return f"{row['client']:<22} {row.get('failed') or row.get('skipped')}"
    flag = "ok" if row["ok"] else "WRONG: " + "; ".join(row["errors"])
    return (
        f"{row['client']:<22} {row['us_per_chunk']:8.1f} us/chunk  {row['chunks_per_s']:9.0f}/s"
        f"  ttfc {row['ttfc_ms']:7.2f} ms  rss+{row['rss_growth_mib']:6.1f} MiB  {flag}"
    )


def machine(python: Path) -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    probe = (
        "import json, platform, importlib.metadata as m\n"
        "v = {}\n"
        f"for p in {PACKAGES!r}:\n"
        "    try: v[p] = m.version(p)\n"
        "    except m.PackageNotFoundError: v[p] = None\n"
        "print(json.dumps({'python': platform.python_version(), 'packages': v}))\n"
    )
    out = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, check=True, env=child_env()
    )
    info = json.loads(out.stdout)
    info.update(cpu=cpu, cores=os.cpu_count(), os=platform.platform())
    return info


def make_plot(python: Path, results_json: Path, png: Path, key: str) -> bool:
    proc = subprocess.run(
        [str(python), "-m", "benchmarks.plot", str(results_json), str(png), key],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    if proc.returncode != 0:
        print("no plot:", (proc.stderr.strip().splitlines() or ["?"])[-1])
    return proc.returncode == 0


def run_extra(args: argparse.Namespace, python: Path) -> dict[str, Any]:
    """The scenarios with drivers of their own: ``startup`` (benchmarks/startup.py) and
    ``concurrency`` (benchmarks/concurrency.py), run unless ``--scenarios`` leaves them out."""
    chosen = args.scenarios.split(",") if args.scenarios else None
    out: dict[str, Any] = {}
    if chosen is None or "startup" in chosen:
        print("\n== start-up: import times and client construction, fresh processes", flush=True)
        out["startup"] = startup.measure(str(python), 3 if args.quick else 7)
        print("\n".join(startup.table(out["startup"])), flush=True)
        out["startup_instructions"] = startup.instructions(str(python))
        print("\n".join(startup.instruction_lines(out["startup"], out["startup_instructions"])))
    if chosen is None or "concurrency" in chosen:
        print("\n== 100 vs 5,000 concurrent paced streams through one client", flush=True)
        out["concurrency"] = concurrency.run(str(python), args.quick)
    return out


def append_extra(report: Path, extra: dict[str, Any]) -> list[str]:
    """Add the start-up and concurrency sections to the report; their target lines."""
    lines: list[str] = []
    found: list[str] = []
    if "startup" in extra:
        counts = extra.get("startup_instructions", {})
        found += startup.targets(extra["startup"], counts)
        lines += ["", "## Start-up", "", "Best of fresh processes "
                  "(benchmarks/startup.py); the statement alone is timed. Wall time moves with "
                  "the host's load; the core's import is judged on the instructions below.", "",
                  *startup.table(extra["startup"]), "",
                  *startup.instruction_lines(extra["startup"], counts)]  # fmt: skip
    if "concurrency" in extra:
        found += concurrency.targets(extra["concurrency"])
        lines += ["", "## 100 vs 5,000 concurrent streams", "",
                  "One client, its own pool, paced streams (benchmarks/concurrency.py).", "",
                  *concurrency.table(extra["concurrency"])]  # fmt: skip
    if lines:
        with report.open("a") as f:
            f.write("\n".join([*lines, "", *(f"- {t}" for t in found), ""]))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--venv", default=str(ROOT / ".bench-venv"), help="benchmark venv path")
    parser.add_argument("--no-install", action="store_true", help="use the venv as it is")
    parser.add_argument("--only", help="comma-separated client names (floors always run)")
    parser.add_argument(
        "--scenarios", help="comma-separated scenario keys (and 'profile', 'instructions')"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile run")
    parser.add_argument(
        "--no-instructions", action="store_true", help="skip the callgrind instruction counts"
    )
    parser.add_argument("--output", help="report path (default benchmarks/RESULTS[-quick].md)")
    parser.add_argument("--timeout", type=float, default=240, help="seconds per client run")
    parser.add_argument("--budget", type=float, default=None, help="seconds for the whole run")
    args = parser.parse_args(argv)
    if args.budget is None:
        args.budget = 420.0 if args.quick else 1500.0
    command = "python -m benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:])
    started = time.monotonic()
    python = ensure_venv(Path(args.venv), install=not args.no_install)
    info = machine(python)
    print(f"{info['cpu']}, {info['cores']} cores, Python {info['python']}", flush=True)
    results, profile_top, instructions = run_all(args, python)
    extra = run_extra(args, python)
    suffix = "-quick" if args.quick else ""
    report = Path(args.output) if args.output else HERE / f"RESULTS{suffix}.md"
    raw = report.with_suffix(".json")
    raw.write_text(json.dumps({"machine": info, "command": command, "results": results,
                               "profile": profile_top, "instructions": instructions,
                               **extra}, indent=1))  # fmt: skip
    png = report.with_suffix(".png")
    plot = png.name if make_plot(python, raw, png, "big") else None
    write_report(
        report, results, profile_top, instructions, info, command.strip(), args.quick,
        time.monotonic() - started, plot,
    )  # fmt: skip
    extra_targets = append_extra(report, extra)
    print("\n" + "\n".join([*issue21_targets(results, instructions), *extra_targets]))
    print("\n" + "\n".join(targets(results, instructions)))
    print(f"\nwrote {report} and {raw}" + (f" and {png}" if plot else ""))
    bad = [r for rows in results.values() for r in rows if r.get("ok") is False]
    bad += [r for r in extra.get("concurrency", []) if r.get("ok") is False]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
