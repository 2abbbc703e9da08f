"""Run your own chains, agents and query engines offline on recorded GLM responses.

A :class:`Replay` answers HTTP requests from recordings instead of the network. Point any
client at it through its ``http_client`` argument: the core clients, ``ChatZhipuFlash``
(``http_client=`` / ``http_async_client=``) and ``ZhipuFlash`` all take one. Two kinds of
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
"""

from __future__ import annotations

import asyncio
import json
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

__all__ = ["Recording", "Replay", "ReplayError", "builtin_recording"]

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
