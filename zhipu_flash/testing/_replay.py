"""``Replay``: an httpx transport (sync and async) that answers from recordings."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from zhipu_flash._client import AsyncZhipuClient, ZhipuClient

from ._recording import Recording, cassette_recordings, folder_recordings, parsed_body

__all__ = ["Replay", "ReplayError"]

_SSE = {"content-type": "text/event-stream; charset=utf-8"}
_JSON = {"content-type": "application/json; charset=utf-8"}
_REPLAY_KEY = "replay-key"


class ReplayError(AssertionError):
    """A request arrived that the recordings cannot answer (re-record, or add a recording)."""


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
            return cls(folder_recordings(p), **kwargs)
        if p.suffix in (".yaml", ".yml"):
            return cls.from_cassette(p, **kwargs)
        return cls.from_files([p], **kwargs)

    @classmethod
    def from_files(cls, files: Iterable[str | Path], **kwargs: Any) -> Replay:
        return cls([Recording.from_file(f) for f in files], **kwargs)

    @classmethod
    def from_cassette(cls, path: str | Path, **kwargs: Any) -> Replay:
        kwargs.setdefault("ordered", False)
        kwargs.setdefault("repeat", True)
        return cls(cassette_recordings(path), **kwargs)

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
                wanted = (request.method, request.url.path, parsed_body(request.content))
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
