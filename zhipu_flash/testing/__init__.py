"""Run your own chains, agents and query engines offline on recorded GLM responses.

A :class:`Replay` answers HTTP requests from recordings instead of the network. Point any
client at it through its ``http_client`` argument: the core clients, ``ChatZhipuFlash`` and
``ZhipuFlash`` (``http_client=`` / ``async_http_client=``) all take one. Two kinds of
recording:

- a **folder of recorded responses** (or a list of files), served one per request in name
  order: ``*.sse`` (an event-stream body), ``*.json`` (a JSON body; an ``{"error": ...}`` body
  is served with the status given by a ``# status: 429`` header line, else 400). Lines that
  start with ``# `` are provenance and are not served. Good for scripted conversations and
  agent loops.
- a **vcrpy cassette** (``*.yaml``, as recorded with ``pytest --record-mode=once``): each
  request is matched by method, path and JSON body, so the order does not matter and a
  request nobody recorded is a clear error. Needs PyYAML (installed with vcrpy).

Example::

    from zhipu_flash.testing import Replay
    from langchain_zhipu_flash import ChatZhipuFlash

    replay = Replay.from_path("tests/recordings/weather_agent")
    llm = ChatZhipuFlash(api_key="replay", http_client=replay.http_client())
    assert "sunny" in llm.invoke("Weather in Hangzhou?").content
    assert len(replay.requests) == 1

In pytest, add ``pytest_plugins = ["zhipu_flash.testing.pytest_plugin"]`` to a conftest and
use the ``glm_replay`` fixture.

To make recordings, :class:`Recorder` wraps a real transport and writes every response into a
folder in the format above. :func:`recorded` chooses for you: replay when no key is set, live
with a key, and live-and-record with ``ZHIPU_FLASH_RECORD=1``; the cookbook's notebooks use it
so that they run in CI offline and against the API with a key.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from zhipu_flash._client import AsyncZhipuClient, ZhipuClient
from zhipu_flash._constants import api_key_from_env

__all__ = [
    "RecordedSession",
    "Recorder",
    "Recording",
    "Replay",
    "ReplayError",
    "builtin_recording",
    "recorded",
]

_SSE = {"content-type": "text/event-stream; charset=utf-8"}
_JSON = {"content-type": "application/json; charset=utf-8"}
_REPLAY_KEY = "replay-key"
_RECORDING_SUFFIXES = (".sse", ".json", ".jsonl", ".txt")


class ReplayError(AssertionError):
    """A request arrived that the recordings cannot answer (re-record, or add a recording)."""


@dataclass(frozen=True)
class Recording:
    """One recorded response: status, content type and body bytes (provenance stripped)."""

    status: int
    body: bytes
    stream: bool
    source: str = ""
    #: For cassette entries: the request it answers (method, path, parsed JSON body).
    match: tuple[str, str, Any] | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> Recording:
        file = Path(path)
        raw = file.read_bytes()
        status = None
        lines = raw.splitlines(keepends=True)
        for line in lines:
            if line.lower().startswith(b"# status:"):
                status = int(line.split(b":", 1)[1].strip())
        body = b"".join(line for line in lines if not line.startswith(b"# "))
        stream = file.suffix in (".sse", ".txt", ".jsonl")
        if file.suffix == ".jsonl":  # one chunk per line, without SSE framing
            body = b"".join(
                b"data: " + ln.strip() + b"\n\n" for ln in body.splitlines() if ln.strip()
            )
        if status is None:
            status = 400 if not stream and b'"error"' in body[:200] else 200
        return cls(
            status=status,
            body=body.strip() + b"\n" if not stream else body,
            stream=stream,
            source=str(file),
        )


def builtin_recording(name: str) -> Recording:
    """A recording shipped with the package (see ``zhipu_flash/testing/recordings``)."""
    ref = resources.files("zhipu_flash.testing.recordings").joinpath(name)
    with resources.as_file(ref) as path:
        return Recording.from_file(path)


class _Body(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Serves a stream event by event (optionally paced), like a real server would."""

    def __init__(self, body: bytes, delay: float) -> None:
        self._parts = [p + b"\n\n" for p in body.split(b"\n\n") if p.strip()] or [body]
        self._delay = delay

    def __iter__(self) -> Iterator[bytes]:
        for part in self._parts:
            if self._delay:
                time.sleep(self._delay)
            yield part

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self._parts:
            if self._delay:
                await asyncio.sleep(self._delay)
            yield part


class Replay(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport (sync and async) that answers from recordings.

    ``requests`` lists every request it received (``json.loads(r.content)`` gives the body a
    client sent), so tests can assert on what would have gone to the API.
    """

    def __init__(
        self,
        recordings: Sequence[Recording],
        *,
        ordered: bool = True,
        repeat: bool = False,
        delay: float = 0.0,
    ) -> None:
        if not recordings:
            raise ValueError("A Replay needs at least one recording.")
        self.recordings = list(recordings)
        self.ordered = ordered
        self.repeat = repeat
        self.delay = delay
        self.requests: list[httpx.Request] = []
        self._next = 0
        self._lock = threading.Lock()

    # --- constructors -------------------------------------------------------------------

    @classmethod
    def from_path(cls, path: str | Path, **kwargs: Any) -> Replay:
        """A folder of recordings, one recording file, or a vcrpy cassette (``.yaml``)."""
        p = Path(path)
        if p.is_dir():
            files = sorted(
                f for f in p.iterdir() if f.suffix in (".sse", ".json", ".jsonl", ".txt")
            )
            if not files:
                raise ValueError(f"No .sse/.json recordings in {p}.")
            return cls.from_files(files, **kwargs)
        if p.suffix in (".yaml", ".yml"):
            return cls.from_cassette(p, **kwargs)
        return cls.from_files([p], **kwargs)

    @classmethod
    def from_files(cls, files: Iterable[str | Path], **kwargs: Any) -> Replay:
        return cls([Recording.from_file(f) for f in files], **kwargs)

    @classmethod
    def from_cassette(cls, path: str | Path, **kwargs: Any) -> Replay:
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("Reading vcrpy cassettes needs PyYAML: pip install pyyaml") from exc
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        recordings = []
        for item in data.get("interactions", []):
            req, resp = item["request"], item["response"]
            headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
            content_type = " ".join(headers.get("content-type", [""]))
            body = resp["body"]["string"]
            raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
            recordings.append(
                Recording(
                    status=int(resp["status"]["code"]),
                    body=raw,
                    stream="event-stream" in content_type,
                    source=f"{path}",
                    match=(
                        req["method"].upper(),
                        urlsplit(req["uri"]).path,
                        _json(req.get("body")),
                    ),
                )
            )
        kwargs.setdefault("ordered", False)
        kwargs.setdefault("repeat", True)
        return cls(recordings, **kwargs)

    # --- clients --------------------------------------------------------------------------

    def http_client(self) -> httpx.Client:
        return httpx.Client(transport=self)

    def async_http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self)

    def client(self, **kwargs: Any) -> ZhipuClient:
        """A :class:`~zhipu_flash.ZhipuClient` answered by this replay (no key needed)."""
        kwargs.setdefault("api_key", _REPLAY_KEY)
        return ZhipuClient(http_client=self.http_client(), **kwargs)

    def async_client(self, **kwargs: Any) -> AsyncZhipuClient:
        kwargs.setdefault("api_key", _REPLAY_KEY)
        return AsyncZhipuClient(http_client=self.async_http_client(), **kwargs)

    # --- transport --------------------------------------------------------------------------

    def _pick(self, request: httpx.Request) -> Recording:
        with self._lock:
            self.requests.append(request)
            if not self.ordered:
                wanted = (request.method, request.url.path, _json(request.content))
                for rec in self.recordings:
                    if rec.match is None or rec.match == wanted:
                        return rec
                raise ReplayError(
                    f"No recorded response matches this request ({request.method} "
                    f"{request.url.path}, body {request.content[:300]!r}). Re-record the "
                    "cassette, or check that the code under test sends what was recorded."
                )
            if self._next >= len(self.recordings):
                if not self.repeat:
                    raise ReplayError(
                        f"Request #{len(self.requests)} but only {len(self.recordings)} "
                        "recordings: the code made more calls than were recorded."
                    )
                self._next = 0
            rec = self.recordings[self._next]
            self._next += 1
            return rec

    def _response(self, rec: Recording, request: httpx.Request) -> httpx.Response:
        if rec.stream:
            return httpx.Response(
                rec.status, headers=_SSE, stream=_Body(rec.body, self.delay), request=request
            )
        return httpx.Response(rec.status, headers=_JSON, content=rec.body, request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._response(self._pick(request), request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self._response(self._pick(request), request)


def _json(body: Any) -> Any:
    if body is None or body == b"" or body == "":
        return None
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body


_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Recorder(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Passes requests to a real transport and saves each response as a recording file.

    Files are numbered in request order (``001.sse``, ``002.json``, ...) so a :class:`Replay`
    of the folder answers the same calls in the same order. Each starts with ``# `` lines
    saying where it came from (the live host, or the local emulator when the base URL is on
    loopback) and, for errors, ``# status:``. Request headers (the key) are never written.
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
            if old.suffix in _RECORDING_SUFFIXES:
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
        header = f"# SOURCE: recorded by zhipu_flash.testing.Recorder from {origin}\n"
        if response.status_code != 200:
            header += f"# status: {response.status_code}\n"
        name = f"{number:03d}.{'sse' if stream else 'json'}"
        (self.directory / name).write_bytes(header.encode() + response.content)
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


@dataclass
class RecordedSession:
    """HTTP clients for one recorded scenario: pass them to any zhipu-flash client.

    ``mode`` is ``"replay"``, ``"live"`` or ``"record"``; ``http_client`` and
    ``async_http_client`` are None in live mode (the clients then make their own).
    """

    mode: str
    path: Path
    http_client: httpx.Client | None
    async_http_client: httpx.AsyncClient | None

    @property
    def banner(self) -> str:
        if self.mode == "replay":
            return (
                f"OFFLINE REPLAY: no ZHIPUAI_API_KEY set, so answers come from recordings in "
                f"{self.path.name}/ (see their # SOURCE lines), not the live API."
            )
        if self.mode == "record":
            return f"RECORDING: live answers are being saved to {self.path.name}/."
        return "LIVE: answers come from the Zhipu API."

    def close(self) -> None:
        """Close the HTTP clients (and, when recording, the connections to the API)."""
        if self.http_client is not None:
            self.http_client.close()

    async def aclose(self) -> None:
        if self.async_http_client is not None:
            await self.async_http_client.aclose()
        self.close()

    def __enter__(self) -> RecordedSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def client_kwargs(self) -> dict[str, Any]:
        """``{"http_client": ..., "async_http_client": ...}``, the names both adapters take (and
        the core's ``ClientSettings``), or empty in live mode."""
        if self.http_client is None:
            return {}
        return {"http_client": self.http_client, "async_http_client": self.async_http_client}


def recorded(path: str | Path, *, mode: str | None = None) -> RecordedSession:
    """Replay ``path`` offline when no key is set; go live with a key; record with
    ``ZHIPU_FLASH_RECORD=1`` (or ``mode="record"``). The recordings are a folder of files
    that :class:`Replay` reads; recording replaces what the folder held."""
    folder = Path(path)
    if mode is None:
        if os.environ.get("ZHIPU_FLASH_RECORD") == "1":
            mode = "record"
        elif api_key_from_env() is not None:
            mode = "live"
        else:
            mode = "replay"
    if mode == "replay":
        replay = Replay.from_path(folder, repeat=False)
        return RecordedSession(mode, folder, replay.http_client(), replay.async_http_client())
    if mode == "record":
        recorder = Recorder(folder)
        return RecordedSession(
            mode, folder, httpx.Client(transport=recorder), httpx.AsyncClient(transport=recorder)
        )
    if mode == "live":
        return RecordedSession(mode, folder, None, None)
    raise ValueError("mode must be 'replay', 'live' or 'record'.")
