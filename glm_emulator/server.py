"""A loopback HTTP/1.1 server that answers like GLM's chat-completions endpoint.

Standard library only. ``POST {base}/chat/completions`` is answered by
:func:`glm_emulator.logic.respond`, ``POST {base}/tokenizer`` by
:func:`glm_emulator.logic.respond_tokenizer`, ``POST {base}/embeddings`` and
``POST {base}/rerank`` by :mod:`glm_emulator.retrieval`; streams go out with chunked transfer
encoding, one chunk (and one socket write) per SSE event, so a client sees them arrive
separately.

    with running_emulator() as base_url:   # "http://127.0.0.1:<port>/api/paas/v4"
        ...
    with serving_emulator(hold=3) as server:   # the server object: base_url, what it got
        ...
        server.bodies("chat/completions"), server.peak_in_flight

The server keeps every request it received (path, JSON body, Authorization header) so tests
can check what a client sent, and counts the requests it is answering at once
(``peak_in_flight``). ``hold=N`` makes each request wait until N are being answered, or
``hold_timeout`` seconds passed, before its answer goes out: requests pile up, so a client
that would ever have N in flight is caught doing it (a wait, never a timed assertion). A
request stops counting just before the last bytes of its answer are written: the client
cannot finish it (and start another in its place) any earlier, so the count never runs ahead
of the client's own.

For tests that check what a client sent and how many requests it had open at once,
:func:`running_emulator_server` yields the server itself: ``server.requests`` holds every
request body (parsed JSON, in arrival order) and ``server.peak_in_flight`` the most requests
open at the same time. With ``hold_until=N`` each request waits before it is answered until
N requests are open (or ``hold_timeout`` seconds pass), so a client that does send N at once
is seen doing so, whatever the scheduling.

``concurrency_limit=N`` makes the server enforce GLM's account limit: a request arriving while
N requests to the same model are being answered gets GLM's 1302 answer (HTTP 429), counted in
``rejected``; ``peak_by_model`` holds the most requests answered at once per model, and
``pace`` seconds between stream events make streams last long enough to overlap. Several
client processes pointed at one server are then checked the way GLM would check them.

Shutting down closes the listening socket and every kept-alive connection, and joins the
handler threads, so nothing outlives the ``with`` block.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import frames
from .logic import EmulatedResponse, check_authorization, error_response, respond_bytes
from .retrieval import respond_retrieval_bytes

__all__ = [
    "BASE_PATH",
    "EmulatorHTTPServer",
    "Received",
    "base_url_of",
    "make_server",
    "running_emulator",
    "serving_emulator",
]

#: The path prefix of the real API; the emulator also answers the Coding Plan prefix.
BASE_PATH = "/api/paas/v4"
_PREFIXES = (BASE_PATH, "/api/coding/paas/v4")
_CHAT = frozenset(f"{prefix}/chat/completions" for prefix in _PREFIXES)
_TOKENIZER = frozenset(f"{prefix}/tokenizer" for prefix in _PREFIXES)
_RETRIEVAL = {
    f"{prefix}/{endpoint}": endpoint
    for prefix in _PREFIXES
    for endpoint in ("embeddings", "rerank")
}
# GLM's words for 1302 (docs/glm-api.md §8.2).
_MSG_1302 = "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。"
# Idle kept-alive connections are dropped after this many seconds.
_IDLE_TIMEOUT = 60.0
# Request bodies above this size are refused (a real request with images stays far below).
_MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True)
class Received:
    """One request as the server read it: its path, its JSON body (None if not JSON) and its
    Authorization header (so tests can check which key went where)."""

    path: str
    body: Any
    authorization: str | None = None


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that tracks its open connections so it can close them, keeps
    the requests it received, and counts those it is answering."""

    daemon_threads = False  # handler threads are joined by server_close()
    block_on_close = True
    # socketserver's default backlog of 5 makes a burst of connections (a client opening
    # hundreds of streams at once) wait for SYN retransmits, seconds each.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        *,
        verbose: bool = False,
        hold: int = 1,
        hold_timeout: float = 0.3,
        concurrency_limit: int | None = None,
        pace: float = 0.0,
    ) -> None:
        self.verbose = verbose
        self.hold = hold
        self.hold_timeout = hold_timeout
        self.concurrency_limit = concurrency_limit
        self.pace = pace
        self.received: list[Received] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.in_flight_by_model: dict[str, int] = {}
        self.peak_by_model: dict[str, int] = {}
        self.rejected = 0  # requests answered 1302 because of concurrency_limit
        self._wave = 0  # counts the times `hold` requests were open at once
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._flight = threading.Condition()
        super().__init__(address, _Handler)

    @property
    def base_url(self) -> str:
        return base_url_of(self)

    def bodies(self, endpoint: str = "chat/completions") -> list[Any]:
        """The JSON bodies received at ``{base}/{endpoint}``, in order."""
        with self._flight:
            return [r.body for r in self.received if r.path.endswith("/" + endpoint)]

    def _record(self, path: str, raw: bytes, authorization: str | None) -> None:
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            body = None
        with self._flight:
            self.received.append(Received(path, body, authorization))

    def _begin(self, model: str) -> bool:
        """Count a request in; False (counted in ``rejected``) when ``concurrency_limit``
        requests to ``model`` are already being answered."""
        with self._flight:
            now = self.in_flight_by_model.get(model, 0)
            if self.concurrency_limit is not None and now >= self.concurrency_limit:
                self.rejected += 1
                return False
            self.in_flight_by_model[model] = now + 1
            self.peak_by_model[model] = max(self.peak_by_model.get(model, 0), now + 1)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            self._flight.notify_all()
            if self.hold <= 1:
                return True
            # A latch per wave: once `hold` requests are open they all go, even those that
            # wake after the first ones have finished (rechecking `in_flight` would strand
            # them until the timeout).
            wave = self._wave
            if self.in_flight >= self.hold:
                self._wave += 1
                self._flight.notify_all()
            else:
                self._flight.wait_for(lambda: self._wave != wave, self.hold_timeout)
            return True

    def _end(self, model: str) -> None:
        with self._flight:
            self.in_flight -= 1
            self.in_flight_by_model[model] -= 1

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        with self._connections_lock:
            self._connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut down every open connection, so idle keep-alive handlers return at once."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Stop serving (if serving), drop connections, close the socket, join handlers."""
        self.close_connections()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "zhipu-flash-emulator"
    timeout = _IDLE_TIMEOUT
    server: EmulatorHTTPServer

    def do_POST(self) -> None:  # the name http.server dispatches to
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self._send(error_response(400, "1210", "The request body could not be read."))
            return
        path = urlsplit(self.path).path.rstrip("/")
        self.server._record(path, body, self.headers.get("Authorization"))
        if path not in _CHAT and path not in _TOKENIZER and path not in _RETRIEVAL:
            self._send(error_response(404, "1222", "The API does not exist."))
            return
        denied = check_authorization(self.headers.get("Authorization"))
        model = _model_of(body)
        if not self.server._begin(model):
            self._send(error_response(429, "1302", _MSG_1302))
            return
        ended = False

        def end() -> None:
            nonlocal ended
            if not ended:
                ended = True
                self.server._end(model)

        try:
            if denied is not None:
                answer = denied
            elif path in _RETRIEVAL:
                answer = respond_retrieval_bytes(body, _RETRIEVAL[path])
            else:
                answer = respond_bytes(body, tokenizer=path in _TOKENIZER)
            self._send(answer, end)
        finally:
            end()

    def do_GET(self) -> None:
        self._send(error_response(405, "1212", "Only POST is supported."))

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:  # the base class's signature
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if not 0 <= length <= _MAX_BODY:
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        data = bytearray()
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                return None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass  # trailers
                return bytes(data)
            data += self.rfile.read(size)
            self.rfile.readline(3)  # the CRLF after each chunk
            if len(data) > _MAX_BODY:
                return None

    def _send(
        self, response: EmulatedResponse, before_last_write: Callable[[], None] | None = None
    ) -> None:
        """Write ``response``; ``before_last_write()`` runs just before its last bytes."""
        last = before_last_write or (lambda: None)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.chunks is None:
                payload = response.payload()
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                last()
                self.wfile.write(payload)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            # One HTTP chunk and one write per SSE event, as a real server streams them.
            for event in frames.stream_events(response.chunks):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                self.wfile.flush()
                if self.server.pace:
                    time.sleep(self.server.pace)
            last()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away mid-response


def _model_of(body: bytes) -> str:
    # Only for counting; the answer checks the body properly.
    with contextlib.suppress(UnicodeDecodeError, ValueError):
        parsed = json.loads(body.decode("utf-8"))
        if isinstance(parsed, dict) and isinstance(parsed.get("model"), str):
            return str(parsed["model"])
    return ""


def make_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    verbose: bool = False,
    hold: int = 1,
    hold_timeout: float = 0.3,
    concurrency_limit: int | None = None,
    pace: float = 0.0,
) -> EmulatorHTTPServer:
    """A bound, not yet serving, emulator server (``port=0`` picks a free port)."""
    return EmulatorHTTPServer(
        (host, port),
        verbose=verbose,
        hold=hold,
        hold_timeout=hold_timeout,
        concurrency_limit=concurrency_limit,
        pace=pace,
    )


def base_url_of(server: EmulatorHTTPServer) -> str:
    """The base URL a client should use, e.g. ``http://127.0.0.1:54321/api/paas/v4``."""
    host, port = server.server_address[:2]
    shown = host.decode() if isinstance(host, bytes) else str(host)
    return f"http://{shown}:{port}{BASE_PATH}"


@contextmanager
def running_emulator(port: int = 0, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the emulator in a background thread; yield its base URL; shut it down cleanly."""
    with serving_emulator(port, host) as server:
        yield server.base_url


@contextmanager
def serving_emulator(
    port: int = 0,
    host: str = "127.0.0.1",
    *,
    hold: int = 1,
    hold_timeout: float = 0.3,
    concurrency_limit: int | None = None,
    pace: float = 0.0,
) -> Iterator[EmulatorHTTPServer]:
    """:func:`running_emulator`, yielding the server itself (its ``base_url``, the requests
    it received, its in-flight counts); ``hold``, ``concurrency_limit`` and ``pace`` as the
    module docstring says."""
    server = make_server(
        host,
        port,
        hold=hold,
        hold_timeout=hold_timeout,
        concurrency_limit=concurrency_limit,
        pace=pace,
    )
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="zhipu-emulator",
        daemon=True,  # never keeps a crashed test run alive; joined below anyway
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.stop()
