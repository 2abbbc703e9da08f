"""A fault-injecting GLM server on 127.0.0.1: real HTTP/1.1 over real sockets.

Standard library only: an asyncio server on its own event loop in one background thread,
so a test controls every byte and every pause a client sees. Each request is answered by
the next :data:`Reply` of a *script*; scripts are chosen per request by a key, taken from
the URL path (``/f/<key>/api/paas/v4/chat/completions``: give a client
``base_url=server.url(key)``) or, for one client serving many scripted streams, from the
request body's ``user_id``. The last reply of a script repeats.

    with fault_server() as server:
        url = server.script("flaky", error(503, None, "busy"), sse(*frames))
        ...                               # a client with base_url=url
        assert server.count("flaky") == 2

Replies:

- :class:`Respond`: a complete response (status, headers, body with Content-Length), or
  one whose body stops after ``cut_at`` bytes (then a close or a stall).
- :class:`Drop`: no response at all: ``"reset"`` sends an RST (``SO_LINGER`` 0), ``"close"``
  a FIN, ``"stall"`` keeps the socket open and silent.
- :class:`Stream`: a 200 ``text/event-stream`` body written as :class:`Write` and
  :class:`Stall` steps (TCP_NODELAY is on, so writes separated by a pause arrive as separate
  reads), then an ending: ``"complete"`` (chunked terminator, connection kept alive),
  ``"cut"`` (FIN without the terminator), ``"reset"`` (RST mid-body), or, with
  ``chunked=False``, a body delimited by the close of the connection (a clean EOF).

Lifetimes are bounded: a stall lasts at most ``max_stall`` seconds (or until the client
hangs up, which the server records), and :meth:`FaultServer.stop` cancels every connection,
closes every socket and joins the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from glm_emulator import frames

__all__ = [
    "ALL",
    "BASE_PATH",
    "Drop",
    "FaultServer",
    "Received",
    "Reply",
    "Respond",
    "Stall",
    "Stream",
    "Write",
    "drip",
    "error",
    "fault_server",
    "sse",
]

BASE_PATH = "/api/paas/v4"
#: The pseudo-key under which requests in flight are counted across all scripts.
ALL = "*"
_MAX_HEADER_BYTES = 64 * 1024
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 429: "Too Many Requests"}
_REASONS.update({500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"})


@dataclass(frozen=True)
class Respond:
    """A complete response with a Content-Length body; the connection stays alive."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    #: Send only this many body bytes (after a Content-Length for all of it), then ``then``.
    cut_at: int | None = None
    then: Literal["close", "stall"] = "close"


@dataclass(frozen=True)
class Drop:
    """No response: ``reset`` (RST), ``close`` (FIN) or ``stall`` (silence, bounded)."""

    how: Literal["reset", "close", "stall"]


@dataclass(frozen=True)
class Write:
    """Write ``data`` (one HTTP chunk, one socket write) after sleeping ``pause`` seconds."""

    data: bytes
    pause: float = 0.0


@dataclass(frozen=True)
class Stall:
    """Send nothing for up to ``seconds`` (the server's ``max_stall`` if None), or until the
    client hangs up; a hang-up ends the response."""

    seconds: float | None = None


@dataclass(frozen=True)
class Stream:
    """A 200 event-stream body: ``steps`` in order, then ``ending``."""

    steps: tuple[Write | Stall, ...]
    ending: Literal["complete", "cut", "reset"] = "complete"
    chunked: bool = True
    content_type: str = "text/event-stream; charset=utf-8"


Reply = Respond | Drop | Stream


@dataclass(frozen=True)
class Received:
    """One request as the server read it."""

    key: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def error(
    status: int,
    code: str | None,
    message: str,
    *,
    retry_after: str | None = None,
    body: bytes | None = None,
) -> Respond:
    """A GLM error answer (``{"error": {"code", "message"}}``), optionally with Retry-After."""
    content = body if body is not None else frames.compact(frames.error(code, message))
    headers = [("Content-Type", "application/json; charset=UTF-8")]
    if retry_after is not None:
        headers.append(("Retry-After", retry_after))
    return Respond(status, content, tuple(headers))


def sse(
    *pieces: bytes | Write | Stall,
    ending: Literal["complete", "cut", "reset"] = "complete",
    chunked: bool = True,
    pause: float = 0.0,
) -> Stream:
    """A stream of ``pieces``: bytes become :class:`Write` steps with ``pause`` before each."""
    steps = tuple(p if isinstance(p, (Write, Stall)) else Write(p, pause) for p in pieces)
    return Stream(steps, ending=ending, chunked=chunked)


def drip(data: bytes, size: int = 1, pause: float = 0.002) -> list[Write]:
    """``data`` as ``size``-byte writes, ``pause`` seconds apart."""
    return [Write(data[i : i + size], pause) for i in range(0, len(data), size)]


class _Hangup(Exception):
    """The client closed its end while the server was waiting or writing."""


@dataclass
class _Stats:
    requests: dict[str, list[Received]] = field(default_factory=lambda: defaultdict(list))
    hangups: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    peak: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    connections_opened: int = 0
    connections_open: int = 0


class FaultServer:
    """The server; use :func:`fault_server` to run one for the length of a ``with`` block."""

    def __init__(self, *, max_stall: float = 5.0) -> None:
        self.max_stall = max_stall
        self.port = 0
        self._scripts: dict[str, tuple[Reply, ...]] = {}
        self._stats = _Stats()
        self._cond = threading.Condition()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None

    # --- the test-side API -------------------------------------------------------------

    def url(self, key: str | None = None) -> str:
        """A base URL for the client: ``key`` picks the script; None lets ``user_id`` pick."""
        prefix = f"/f/{key}" if key is not None else ""
        return f"http://127.0.0.1:{self.port}{prefix}{BASE_PATH}"

    def script(self, key: str, *replies: Reply) -> str:
        """Answer requests for ``key`` with ``replies`` in order (the last repeats)."""
        if not replies:
            raise ValueError("a script needs at least one reply")
        with self._cond:
            self._scripts[key] = replies
        return self.url(key)

    def count(self, key: str) -> int:
        """How many requests the server received for ``key``."""
        with self._cond:
            return len(self._stats.requests.get(key, ()))

    def received(self, key: str) -> list[Received]:
        with self._cond:
            return list(self._stats.requests.get(key, ()))

    def hangups(self, key: str) -> int:
        """How many times the client closed the connection while ``key`` was being answered."""
        with self._cond:
            return self._stats.hangups.get(key, 0)

    def peak_in_flight(self, key: str = ALL) -> int:
        """The most requests for ``key`` (default: any script) being answered at once."""
        with self._cond:
            return self._stats.peak.get(key, 0)

    @property
    def connections_opened(self) -> int:
        with self._cond:
            return self._stats.connections_opened

    @property
    def connections_open(self) -> int:
        with self._cond:
            return self._stats.connections_open

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait until ``predicate()`` holds (re-checked whenever the server's state changes)."""
        with self._cond:
            return bool(self._cond.wait_for(predicate, timeout))

    def wait_no_connections(self, timeout: float = 5.0) -> bool:
        return self.wait_for(lambda: self._stats.connections_open == 0, timeout)

    def wait_hangups(self, key: str, n: int = 1, timeout: float = 5.0) -> bool:
        return self.wait_for(lambda: self._stats.hangups.get(key, 0) >= n, timeout)

    # --- lifetime ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fault-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10.0):
            raise RuntimeError("the fault server did not start")
        if self._failure is not None:
            raise RuntimeError("the fault server failed to start") from self._failure

    def stop(self) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already finished
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(10.0)
            if thread.is_alive():
                raise RuntimeError("the fault server thread did not stop")
        if self._failure is not None:
            raise RuntimeError("the fault server crashed") from self._failure

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported by start()/stop() in the test thread
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(
            self._connection, "127.0.0.1", 0, limit=_MAX_HEADER_BYTES, backlog=1024
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await server.wait_closed()

    # --- serving -----------------------------------------------------------------------

    def _changed(self, update: Any) -> None:
        with self._cond:
            update(self._stats)
            self._cond.notify_all()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def opened(s: _Stats) -> None:
            s.connections_opened += 1
            s.connections_open += 1

        self._changed(opened)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                if not await self._answer(request, reader, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away mid-request: nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

            def closed(s: _Stats) -> None:
                s.connections_open -= 1

            self._changed(closed)
            self._tasks.discard(task)

    async def _read_request(self, reader: asyncio.StreamReader) -> Received | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                return None  # a kept-alive connection closed by the client: normal
            raise
        lines = head.decode("latin-1").split("\r\n")
        _method, path, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        key = "default"
        if path.startswith("/f/"):
            key = path.split("/", 3)[2]
        else:
            with contextlib.suppress(ValueError, AttributeError):
                key = str(json.loads(body).get("user_id") or key)
        return Received(key, path, headers, body)

    async def _answer(
        self, request: Received, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; True if the connection can serve another."""
        key = request.key
        with self._cond:
            replies = self._scripts.get(key, (Respond(404, b'{"error":{"code":"1211"}}'),))
            seen = self._stats.requests[key]
            reply = replies[min(len(seen), len(replies) - 1)]
            seen.append(request)
            for name in (key, ALL):
                self._stats.in_flight[name] += 1
                self._stats.peak[name] = max(self._stats.peak[name], self._stats.in_flight[name])
            self._cond.notify_all()
        try:
            return await self._reply(reply, reader, writer)
        except (_Hangup, ConnectionError):
            self._changed(lambda s: s.hangups.__setitem__(key, s.hangups[key] + 1))
            return False
        finally:

            def done(s: _Stats) -> None:
                s.in_flight[key] -= 1
                s.in_flight[ALL] -= 1

            self._changed(done)

    async def _reply(
        self, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        if isinstance(reply, Respond):
            head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}"]
            head += [f"{k}: {v}" for k, v in reply.headers]
            head.append(f"Content-Length: {len(reply.body)}")
            body = reply.body if reply.cut_at is None else reply.body[: reply.cut_at]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            await writer.drain()
            if reply.cut_at is None:
                return True
            if reply.then == "stall":
                await self._stall(reader, None)
            return False
        if isinstance(reply, Drop):
            if reply.how == "reset":
                _reset(writer)
            elif reply.how == "stall":
                await self._stall(reader, None)
            return False
        framing = "Transfer-Encoding: chunked" if reply.chunked else "Connection: close"
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: {reply.content_type}\r\n{framing}\r\n\r\n".encode()
        )
        await writer.drain()
        for step in reply.steps:
            if isinstance(step, Stall):
                await self._stall(reader, step.seconds)
                continue
            if step.pause:
                await asyncio.sleep(step.pause)
            if reply.chunked:
                writer.write(b"%x\r\n%s\r\n" % (len(step.data), step.data))
            else:
                writer.write(step.data)
            await writer.drain()
        if reply.ending == "reset":
            _reset(writer)
            return False
        if reply.ending == "cut" or not reply.chunked:
            return False
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _stall(self, reader: asyncio.StreamReader, seconds: float | None) -> None:
        """Stay silent; a client hang-up (EOF or reset) raises :class:`_Hangup`."""
        limit = self.max_stall if seconds is None else min(seconds, self.max_stall)
        deadline = time.monotonic() + limit
        while (left := deadline - time.monotonic()) > 0:
            try:
                data = await asyncio.wait_for(reader.read(65536), left)
            except asyncio.TimeoutError:
                return
            if not data:
                raise _Hangup


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST instead of a FIN: linger on, timeout zero."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@contextlib.contextmanager
def fault_server(*, max_stall: float = 5.0) -> Iterator[FaultServer]:
    """Run a :class:`FaultServer` for the ``with`` block; it is stopped and joined after."""
    server = FaultServer(max_stall=max_stall)
    server.start()
    try:
        yield server
    finally:
        server.stop()
