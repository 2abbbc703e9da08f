"""A loopback HTTP/1.1 server that streams Zhipu-format chat completions, standard library only.

Run it on its own (``python -m benchmarks.server``); it prints ``PORT <n>`` and serves
``POST .../chat/completions`` on 127.0.0.1 until its lifetime ends or its parent exits.

What a request gets (benchmarks/_data.py has the content):

- ``n`` chunks (the last with ``finish_reason`` and ``usage``), then ``data: [DONE]``. ``n``
  and the mode come from the last user message (``bench n=20000 mode=burst``, what every SDK
  sends verbatim), else from the query string (``?n=20000&mode=paced``), else a path prefix
  (``/n/20000/paced/...``); the default is 200, burst.
- ``burst``: the whole response is written in 1 MiB writes, as fast as the socket takes it.
  ``paced``: one event per write, ``--interval-ms`` apart (like real tokens).
- Chunked transfer encoding with one HTTP chunk per SSE event, as GLM's servers frame it.
  Every byte is rendered before the first request, per block of tokens, so a 1,000,000-chunk
  body costs the server a few hundred writes, not a million renders.

The server is never the bottleneck: it does no per-chunk work in burst mode, and in paced mode
a single ``write`` per event.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import threading
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

from benchmarks import _data
from glm_emulator import frames

_WRITE = 1 << 20  # bytes per write in burst mode
_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream; charset=utf-8\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"Connection: keep-alive\r\n\r\n"
)
_END = b"0\r\n\r\n"


def _frame(payload: bytes) -> bytes:
    """One SSE event as one HTTP chunk."""
    event = frames.event(payload)
    return b"%x\r\n%s\r\n" % (len(event), event)


class Body:
    """The pre-rendered bytes of one ``n``-chunk response, as (piece, repeat) segments."""

    _blocks: ClassVar[dict[str, tuple[list[bytes], bytes]]] = {}

    def __init__(self, n: int) -> None:
        reasoning, content = _data.split(n)
        r_events, r_block = self._block("r")
        c_events, c_block = self._block("c")
        self.segments: list[tuple[bytes, int]] = []
        for events, block, count in ((r_events, r_block, reasoning), (c_events, c_block, content)):
            whole, rest = divmod(count, len(events))
            if whole:
                # Repeat the block in pieces of about 1 MiB: few writes, bounded memory.
                per = max(1, _WRITE // len(block))
                times, left = divmod(whole, per)
                if times:
                    self.segments.append((block * per, times))
                if left:
                    self.segments.append((block * left, 1))
            if rest:
                self.segments.append((b"".join(events[:rest]), 1))
        self.segments.append((_frame(_data.final_json(n)) + _frame(b"[DONE]") + _END, 1))
        self.n = n

    @classmethod
    def _block(cls, kind: str) -> tuple[list[bytes], bytes]:
        if kind not in cls._blocks:
            if kind == "r":
                events = [_frame(_data.chunk_json(reasoning=t)) for t in _data.REASONING_TOKENS]
            else:
                events = [_frame(_data.chunk_json(content=t)) for t in _data.CONTENT_TOKENS]
            cls._blocks[kind] = (events, b"".join(events))
        return cls._blocks[kind]

    def events(self) -> list[bytes]:
        """Every HTTP chunk on its own (paced mode; only used for small ``n``)."""
        reasoning, content = _data.split(self.n)
        r_events, _ = self._block("r")
        c_events, _ = self._block("c")
        out = [r_events[i % len(r_events)] for i in range(reasoning)]
        out += [c_events[i % len(c_events)] for i in range(content)]
        out.append(_frame(_data.final_json(self.n)))
        out.append(_frame(b"[DONE]") + _END)
        return out


class Server:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._bodies: dict[int, Body] = {}
        self.requests = 0

    def body(self, n: int) -> Body:
        body = self._bodies.get(n)
        if body is None:
            body = self._bodies[n] = Body(n)
        return body

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                body = await _read_body(reader, headers)
                self.requests += 1
                if not urlsplit(target).path.endswith("/chat/completions"):
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                        b"Content-Length: 2\r\n\r\nok"
                    )
                    await writer.drain()
                else:
                    n, mode = _choose(target, body)
                    await self.respond(writer, n, mode)
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def respond(self, writer: asyncio.StreamWriter, n: int, mode: str) -> None:
        body = self.body(n)
        if mode == "paced":
            events = body.events()
            writer.write(_HEAD + events[0])
            await writer.drain()
            for event in events[1:]:
                await asyncio.sleep(self.interval)
                writer.write(event)
                await writer.drain()
            return
        writer.write(_HEAD)
        for piece, times in body.segments:
            for _ in range(times):
                writer.write(piece)
                await writer.drain()


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


def _choose(target: str, body: bytes) -> tuple[int, str]:
    """(n, mode) from the last user message, the query string or a path prefix."""
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        request = json.loads(body)
        for message in reversed(request.get("messages") or []):
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, list):
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            found = _data.parse_prompt(str(content))
            if found:
                return found
            break
    url = urlsplit(target)
    query = parse_qs(url.query)
    if "n" in query:
        return int(query["n"][0]), query.get("mode", ["burst"])[0]
    parts = url.path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "n" and parts[1].isdigit():
        return int(parts[1]), parts[2]
    return 200, "burst"


def _watch_parent(parent: int, stdin: bool) -> None:
    """Exit when the parent exits: EOF on stdin (a pipe the parent holds), or a new parent."""
    if stdin:

        def read_stdin() -> None:
            sys.stdin.buffer.read()
            os._exit(0)

        threading.Thread(target=read_stdin, daemon=True).start()

    def poll() -> None:
        while os.getppid() == parent:
            threading.Event().wait(1.0)
        os._exit(0)

    threading.Thread(target=poll, daemon=True).start()


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


async def serve(
    port: int, lifetime: float, interval: float, prerender: list[int], reuse_port: bool = False
) -> None:
    server = Server(interval)
    for n in prerender:
        server.body(n)
    srv = await asyncio.start_server(
        server.handle, "127.0.0.1", port, backlog=4096, reuse_port=reuse_port or None
    )
    print("PORT", srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(srv.serve_forever(), lifetime)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--lifetime", type=float, default=1800.0, help="seconds, then exit")
    parser.add_argument("--interval-ms", type=float, default=2.0, help="paced mode spacing")
    parser.add_argument("--watch-stdin", action="store_true", help="exit at EOF on stdin")
    parser.add_argument("--prerender", type=int, nargs="*", default=[], help="n to pre-render")
    parser.add_argument(
        "--reuse-port", action="store_true", help="SO_REUSEPORT: several processes, one port"
    )
    args = parser.parse_args(argv)
    _raise_fd_limit()
    _watch_parent(os.getppid(), args.watch_stdin)
    asyncio.run(
        serve(args.port, args.lifetime, args.interval_ms / 1000, args.prerender, args.reuse_port)
    )


if __name__ == "__main__":
    main()
