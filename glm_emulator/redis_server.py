"""A throwaway ``redis-server`` on a free loopback port, for the tests and the benchmark of the
shared concurrency limit (``concurrency_url``). Not part of the GLM emulation: it lives here
because this is the development package both the test suite and ``benchmarks/`` may import.

    with running_redis() as server:   # server.url == "redis://127.0.0.1:<port>/0"
        ...
        server.stop()                 # a Redis that goes away mid-run
        server.restart()              # ... and comes back, empty, on the same port

No persistence (no RDB, no AOF), nothing written outside a temporary directory; the process
is stopped and reaped when the block ends. :data:`REDIS_SERVER` is the binary (Debian's
``redis-server`` package, or ``$REDIS_SERVER``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["REDIS_SERVER", "RedisServer", "find_redis_server", "running_redis"]

REDIS_SERVER = "redis-server"
_START_TIMEOUT = 10.0


def find_redis_server() -> str | None:
    """The path of ``redis-server`` (``$REDIS_SERVER`` first), or None if not installed."""
    given = os.environ.get("REDIS_SERVER")
    if given:
        return given if Path(given).exists() else None
    return shutil.which(REDIS_SERVER) or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One running ``redis-server`` process."""

    def __init__(self, binary: str, workdir: str, port: int | None = None) -> None:
        self.binary, self.workdir = binary, workdir
        self.port = port or _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._start()

    def _start(self) -> None:
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.workdir,
            "--daemonize", "no",
            "--loglevel", "warning",
        ]  # fmt: skip
        self.process = subprocess.Popen(  # noqa: S603 (a fixed binary and arguments)
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"redis-server exited at start: {error.strip()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn,
            ):
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"redis-server did not answer on port {self.port} in time")

    def restart(self) -> None:
        """Start a stopped server again, empty, on the same port (a Redis that came back)."""
        self.stop()
        self._start()

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Stop the server now (SIGKILL: a Redis that vanishes, not one that says goodbye)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stderr is not None:
            self.process.stderr.close()


@contextlib.contextmanager
def running_redis(binary: str | None = None) -> Iterator[RedisServer]:
    """Start a ``redis-server`` for the block; ``RuntimeError`` if none is installed."""
    path = binary or find_redis_server()
    if path is None:
        raise RuntimeError(
            "redis-server is not installed: apt-get install redis-server (Debian/Ubuntu), "
            "or set REDIS_SERVER to its path."
        )
    with tempfile.TemporaryDirectory(prefix="zhipu-flash-redis-") as workdir:
        server = RedisServer(path, workdir)
        try:
            yield server
        finally:
            server.stop()
