"""``Recorder``: an httpx transport that passes requests on and saves every response."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx

from ._recording import RECORDING_SUFFIXES, recording_file

__all__ = ["Recorder"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Recorder(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Passes requests to a real transport and saves each response as a recording file.

    Files are numbered in request order (``001.sse``, ``002.json``, ...) so a
    :class:`~zhipu_flash.testing.Replay` of the folder answers the same calls in the same
    order. Each starts with ``# `` lines saying where it came from (the live host, or the
    local emulator when the base URL is on loopback) and, for errors, ``# status:``. Request
    headers (the key) are never written.
    """

    def __init__(
        self,
        directory: str | Path,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for old in self.directory.iterdir():
            if old.suffix in RECORDING_SUFFIXES:
                old.unlink()
        self._transport = transport or httpx.HTTPTransport()
        self._async_transport = async_transport or httpx.AsyncHTTPTransport()
        self._count = 0
        self._lock = threading.Lock()

    def _number(self) -> int:
        # Taken when the request is sent, not when its response ends: with concurrent requests
        # the responses may finish in any order, and a Replay answers in request order.
        with self._lock:
            self._count += 1
            return self._count

    def _save(
        self, number: int, request: httpx.Request, response: httpx.Response
    ) -> httpx.Response:
        stream = "event-stream" in response.headers.get("content-type", "")
        host = request.url.host
        origin = (
            "the zhipu-flash GLM emulator on loopback (wire shapes only, not model output)"
            if host in _LOOPBACK
            else f"the live Zhipu API at {host}"
        )
        name = f"{number:03d}.{'sse' if stream else 'json'}"
        (self.directory / name).write_bytes(
            recording_file(response.status_code, response.content, origin)
        )
        return httpx.Response(
            response.status_code,
            headers={"content-type": response.headers.get("content-type", "")},
            content=response.content,
            request=request,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        number = self._number()
        response = self._transport.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        return self._save(number, request, response)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        number = self._number()
        response = await self._async_transport.handle_async_request(request)
        try:
            await response.aread()
        finally:
            await response.aclose()
        return self._save(number, request, response)

    def close(self) -> None:
        self._transport.close()

    async def aclose(self) -> None:
        await self._async_transport.aclose()
