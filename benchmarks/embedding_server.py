"""A loopback HTTP/1.1 server that answers Zhipu-format embedding requests, standard library only.

Run it on its own (``python -m benchmarks.embedding_server``); it prints ``PORT <n>`` and
serves on 127.0.0.1 until its parent closes its stdin:

- ``POST .../embeddings``: GLM's answer shape (the keys and order of
  ``glm_emulator.retrieval.respond_embeddings``: ``data[{embedding, index, object}]``,
  ``model``, ``object``, ``usage``), with GLM's 1210 error body for more than 64 inputs, an
  empty input or a ``dimensions`` embedding-3 does not take. The vectors are not the
  emulator's hashed features, which would make this server the bottleneck: every input of a
  benchmark is numbered (``#123 ...``), and its vector is that number times 1e-6 followed by
  one fixed tail of ``dimensions - 1`` six-decimal numbers rendered once. A client that puts
  vectors in the wrong order, drops or duplicates one, is caught by the check of the first
  number.
- ``GET /stats``: ``{"requests", "inputs", "peak_in_flight"}`` since the last ``POST /reset``.

The server does no per-number work: one ``json.loads`` of the request and a join of
pre-rendered strings per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import threading
from typing import Any

MAX_INPUTS = 64
DIMENSIONS = (256, 512, 1024, 2048)
_ERROR_1210 = "API 调用参数有误，请检查文档。"


class Stats:
    def __init__(self) -> None:
        self.requests = 0
        self.inputs = 0
        self.in_flight = 0
        self.peak_in_flight = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "inputs": self.inputs,
            "peak_in_flight": self.peak_in_flight,
        }


_TAILS: dict[int, str] = {}


def _tail(dimensions: int) -> str:
    tail = _TAILS.get(dimensions)
    if tail is None:
        rng = random.Random(dimensions)  # the same numbers on every run
        tail = _TAILS[dimensions] = "".join(
            f",{rng.uniform(-0.08, 0.08):.6f}" for _ in range(dimensions - 1)
        )
    return tail


def _number(text: str) -> int:
    # "#123 some words" -> 123; any other text -> 0 (its vector is still well formed).
    if text.startswith("#"):
        head = text[1:].split(" ", 1)[0]
        if head.isdigit():
            return int(head)
    return 0


def embeddings_body(body: dict[str, Any]) -> tuple[int, bytes]:
    """The status and JSON bytes answering one parsed request body."""
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    dimensions = body.get("dimensions", 2048)
    if (
        not isinstance(texts, list)
        or not texts
        or len(texts) > MAX_INPUTS
        or any(not isinstance(t, str) or not t.strip() for t in texts)
        or dimensions not in DIMENSIONS
    ):
        error = {"error": {"code": "1210", "message": _ERROR_1210}}
        return 400, json.dumps(error, ensure_ascii=False).encode()
    tail = _tail(dimensions)
    items = ",".join(
        f'{{"embedding":[{_number(t) * 1e-6:.6f}{tail}],"index":{i},"object":"embedding"}}'
        for i, t in enumerate(texts)
    )
    tokens = sum(max(1, len(t) // 2) for t in texts)
    usage = f'{{"completion_tokens":0,"prompt_tokens":{tokens},"total_tokens":{tokens}}}'
    model = json.dumps(body.get("model", "embedding-3"))
    return 200, f'{{"data":[{items}],"model":{model},"object":"list","usage":{usage}}}'.encode()


def _response(status: int, payload: bytes) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Connection: keep-alive\r\n\r\n"
    )
    return head.encode() + payload


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stats: Stats) -> None:
    try:
        while True:
            request_line = await reader.readline()
            if not request_line:
                return
            method, path, _ = request_line.decode("latin-1").split(" ", 2)
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            raw = await reader.readexactly(length) if length else b""
            if method == "POST" and path.endswith("/embeddings"):
                stats.requests += 1
                stats.in_flight += 1
                stats.peak_in_flight = max(stats.peak_in_flight, stats.in_flight)
                try:
                    body = json.loads(raw)
                    texts = body.get("input")
                    stats.inputs += len(texts) if isinstance(texts, list) else 1
                    # One loop turn, so requests that arrive together are seen in flight
                    # together (as a real server's latency would show them).
                    await asyncio.sleep(0)
                    status, payload = embeddings_body(body)
                finally:
                    stats.in_flight -= 1
            elif path == "/stats":
                status, payload = 200, json.dumps(stats.as_dict()).encode()
            elif method == "POST" and path == "/reset":
                stats.__init__()  # type: ignore[misc]
                status, payload = 200, b"{}"
            else:
                status, payload = 404, b'{"error":{"code":"404","message":"not found"}}'
            writer.write(_response(status, payload))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    except asyncio.CancelledError:
        return  # the server is stopping: its idle keep-alive connections end here
    finally:
        writer.close()


async def _serve(port: int) -> None:
    stats = Stats()
    server = await asyncio.start_server(
        lambda r, w: _handle(r, w, stats), "127.0.0.1", port, limit=1 << 24
    )
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def watch_stdin() -> None:
        # The parent closes our stdin (or exits): stop, never outlive it.
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    async with server:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
