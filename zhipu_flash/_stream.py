"""From response bytes to typed chunks: the sans-I/O parser and its sync and async shells.

``ChunkParser`` owns everything that is not I/O: SSE decoding, ``[DONE]``, in-band error
frames, malformed-frame handling and the accumulator. ``Stream`` and ``AsyncStream`` are the
only code that touches the network, a few lines each, so both behave the same by
construction.

How a stream ends:

- ``[DONE]``: a clean end (logged if no finish reason came first). The stream then reads on to
  the end of the body (a few bytes; see :func:`_drain`) so the connection can be reused.
- End of body without ``[DONE]``: clean if a finish reason arrived, otherwise
  :class:`~zhipu_flash.StreamInterruptedError` carrying what arrived.
- ``finish_reason: "network_error"``: :class:`~zhipu_flash.StreamInterruptedError` once the
  stream ends, carrying what arrived.
- ``sensitive`` and ``model_context_window_exceeded`` are returned as finish reasons and
  logged at WARNING: the text is truncated or filtered, and the caller decides.
- ``{"error": {...}}`` or ``event: error``: the typed error for its code, with ``partial``.

Malformed frames: two frames fused on one line (seen on glm-4.7 and glm-5.1) keep the
complete tail; lines of an event sent without blank-line separators are parsed one by one.
Anything still undecodable is logged with its text, counted in
``ChatCompletion.malformed_frames`` and skipped (``on_malformed="skip"``, the default: one bad
frame should not cost a long answer), or raised as
:class:`~zhipu_flash.StreamDecodeError` with ``on_malformed="raise"``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal

import httpx
from pydantic import ValidationError

from ._accumulate import ChatCompletionAccumulator
from ._constants import DEFAULT_MAX_LINE_BYTES
from ._exceptions import (
    APITimeoutError,
    StreamDecodeError,
    StreamInterruptedError,
    ZhipuError,
    error_from_body,
)
from ._limiter import Release, no_release
from ._sse import SSEDecoder, SSEEvent
from .types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    FunctionCallDelta,
    ToolCallDelta,
)

__all__ = ["AsyncStream", "ChunkParser", "OnMalformed", "Stream"]

logger = logging.getLogger("zhipu_flash")

OnMalformed = Literal["skip", "raise"]
#: What :meth:`ChunkParser.split` returns per event: the payload of a plain data event, or the
#: event itself when it is named (``event: error``).
Frame = bytes | SSEEvent
_DONE = b"[DONE]"
_TRUNCATED_FINISHES = frozenset({"sensitive", "model_context_window_exceeded"})
_LOG_EXCERPT = 500
#: How many bytes after ``[DONE]`` a stream reads to reach the end of the body (see _drain).
DRAIN_LIMIT = 64 * 1024
# The validator itself: ``model_validate_json`` is a Python wrapper around this call, and
# this runs once per streamed chunk.
_validate_chunk = ChatCompletionChunk.__pydantic_validator__.validate_json


class ChunkParser:
    """Bytes in, normalised :class:`ChatCompletionChunk` objects out."""

    __slots__ = ("_decoder", "_on_malformed", "acc", "done")

    def __init__(
        self,
        *,
        strip_markers: bool = False,
        on_malformed: OnMalformed = "skip",
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self._decoder = SSEDecoder(max_line_bytes)
        self._on_malformed = on_malformed
        self.acc = ChatCompletionAccumulator(strip_markers=strip_markers)
        self.done = False

    def feed(self, data: bytes) -> list[ChatCompletionChunk]:
        """Parse network bytes; return the chunks they completed."""
        out: list[ChatCompletionChunk] = []
        for frame in self.split(data):
            out.extend(self.parse(frame))
        return out

    def split(self, data: bytes) -> Sequence[Frame]:
        """The frames ``data`` completes, not yet parsed: payload bytes, or an
        :class:`SSEEvent` for a non-message event. Splitting first and parsing one frame at a
        time (:meth:`parse`) lets a stream hand each chunk out before the next exists, so a
        burst of hundreds of events in one read never holds hundreds of parsed chunks (whose
        garbage-collector traversals cost more than their parsing)."""
        payloads = self._decoder.data_payloads(data)
        if payloads is not None:  # the per-token hot path: whole one-line data events
            return payloads
        try:
            events = self._decoder.feed(data)
        except StreamDecodeError as exc:
            exc.partial = self.snapshot()
            raise
        return [e.data if e.event == "message" else e for e in events]

    def parse(self, frame: Frame) -> Sequence[ChatCompletionChunk]:
        """The chunks of one frame from :meth:`split`: usually one, none for ``[DONE]`` or a
        skipped malformed frame, several only for a recovered frame. Raises for an error
        frame. Frames after ``[DONE]`` are ignored."""
        if self.done:
            return ()
        if isinstance(frame, SSEEvent):  # a named event such as "error"
            if frame.event == "error" and frame.data != _DONE:
                self._raise_error_frame(frame.data)
            frame = frame.data
        if frame == _DONE:
            self.done = True
            return ()
        try:
            chunk = _validate_chunk(frame)
        except ValidationError:
            return self._recover(frame)
        if chunk.error is not None:
            self._raise_chunk_error(chunk)
        self.acc.add(chunk)
        return (chunk,)

    def end(self) -> list[ChatCompletionChunk]:
        """The body ended: parse what is left and decide whether the stream was complete."""
        chunks: list[ChatCompletionChunk] = []
        for event in [] if self.done else self._decoder.flush():
            chunks.extend(self.parse(event.data if event.event == "message" else event))
        acc = self.acc
        if not self.done:
            if acc.finish_reason is None:
                raise StreamInterruptedError(
                    "The stream ended before [DONE] and before any finish reason; the answer "
                    "is incomplete (partial output is on .partial).",
                    partial=self.snapshot(),
                )
            logger.debug("stream ended without [DONE] after finish_reason=%s", acc.finish_reason)
        elif acc.finish_reason is None:
            logger.info("stream sent [DONE] without a finish reason")
        if acc.finish_reason == "network_error":
            raise StreamInterruptedError(
                "GLM ended the stream with finish_reason 'network_error' (an upstream failure); "
                "the answer is incomplete (partial output is on .partial).",
                partial=self.snapshot(),
            )
        if acc.finish_reason in _TRUNCATED_FINISHES:
            logger.warning("GLM finished with %r: the answer was cut short", acc.finish_reason)
        return chunks

    def snapshot(self) -> ChatCompletion:
        return self.acc.snapshot()

    def _take(self, chunk: ChatCompletionChunk, out: list[ChatCompletionChunk]) -> None:
        if chunk.error is not None:
            self._raise_chunk_error(chunk)
        self.acc.add(chunk)
        out.append(chunk)

    def _raise_chunk_error(self, chunk: ChatCompletionChunk) -> None:
        # The frame's other top-level fields (its request_id) are part of the error body.
        body = {**(chunk.__pydantic_extra__ or {}), "error": chunk.error}
        raise error_from_body(body, status_code=None, partial=self.snapshot())

    def _raise_error_frame(self, data: bytes) -> None:
        try:
            body = json.loads(data)
        except ValueError:
            body = {"error": {"message": data.decode("utf-8", "replace")}}
        raise error_from_body(body, status_code=None, partial=self.snapshot())

    def _recover(self, data: bytes) -> list[ChatCompletionChunk]:
        """A frame that did not parse: salvage what the known corruptions allow."""
        out: list[ChatCompletionChunk] = []
        pieces: list[bytes] = []
        if b"data:" in data:
            # Two frames fused: the head is a fragment of another response; the tail after
            # the last embedded "data:" is a whole frame.
            tail = data[data.rfind(b"data:") + 5 :]
            pieces = [tail[1:] if tail[:1] == b" " else tail]
        elif b"\n" in data:
            # Events without blank lines between them (the old docs' format).
            pieces = data.split(b"\n")
        parsed: list[ChatCompletionChunk] = []
        done = False
        for piece in pieces:
            if piece == _DONE:
                done = True
                break
            try:
                parsed.append(ChatCompletionChunk.model_validate_json(piece))
            except ValidationError:
                parsed = []
                break
        fused = b"data:" in data
        if parsed or (done and fused):
            if fused:
                self._malformed(data, recovered=True)
            for chunk in parsed:
                self._take(chunk, out)
            self.done = self.done or done
            return out
        if done:
            self.done = True
            return out
        self._malformed(data, recovered=False)
        return out

    def _malformed(self, data: bytes, *, recovered: bool) -> None:
        self.acc.malformed_frames += 1
        excerpt = data[:_LOG_EXCERPT].decode("utf-8", "replace")
        if recovered:
            logger.warning("fused SSE frames: dropped the head, kept the tail: %r", excerpt)
            return
        if self._on_malformed == "raise":
            raise StreamDecodeError(
                f"Undecodable stream frame: {excerpt!r}", partial=self.snapshot()
            )
        logger.warning("skipped an undecodable stream frame: %r", excerpt)


def _json_body_as_chunks(parser: ChunkParser, content: bytes) -> list[ChatCompletionChunk]:
    """A 200 with a JSON body to a stream request: an error, or a whole completion."""
    try:
        body = json.loads(content)
    except ValueError:
        return parser.feed(content) + parser.end()
    if isinstance(body, dict) and "error" in body:
        raise error_from_body(body, status_code=200, partial=parser.snapshot())
    completion = ChatCompletion.model_validate(body)
    message = completion.message
    # Nothing on the wire is lost: web_search, request_id and every field no model names go
    # into the chunk, and from there into the final completion.
    carried: dict[str, Any] = dict(completion.model_extra or {})
    if completion.request_id is not None:
        carried["request_id"] = completion.request_id
    chunk = ChatCompletionChunk(
        **carried,
        id=completion.id,
        created=completion.created,
        model=completion.model,
        usage=completion.usage,
        web_search=completion.web_search,
        choices=[
            ChunkChoice(
                index=0,
                finish_reason=completion.finish_reason,
                delta=ChoiceDelta(
                    role="assistant",
                    content=message.content,
                    reasoning_content=message.reasoning_content,
                    tool_calls=[
                        ToolCallDelta(
                            index=i,
                            id=t.id,
                            type=t.type,
                            function=FunctionCallDelta(
                                name=t.function.name, arguments=t.function.arguments
                            ),
                        )
                        for i, t in enumerate(message.tool_calls or ())
                    ]
                    or None,
                ),
            )
        ],
    )
    parser.acc.add(chunk)
    parser.done = True
    return [chunk]


def _undecoded(response: httpx.Response) -> bool:
    # With no content-encoding the raw bytes are the body: reading them directly skips
    # httpx's decoder and re-chunking layers, which run once per network read. A response
    # built from bytes (transports in tests, replays) is already read: only iter_bytes serves it.
    encoding = response.headers.get("content-encoding", "identity").lower()
    return encoding in ("", "identity") and not response.is_stream_consumed


def _is_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.startswith("application/json")


def _drain(body: Iterator[bytes]) -> None:
    """After ``[DONE]``, read the rest of the body (normally just the chunked terminator) so
    httpx returns the connection to the pool and the next call skips a TCP and TLS handshake.
    Whatever follows ``[DONE]`` is ignored. Past :data:`DRAIN_LIMIT` bytes, or on a transport
    error, give up: closing the response then discards the connection, as before. A server
    that holds the response open after ``[DONE]`` without ending it delays the end of the
    iteration up to the read timeout; GLM ends it at once (as do the official SDKs, which
    read to the end too)."""
    left = DRAIN_LIMIT
    try:
        for data in body:
            left -= len(data)
            if left < 0:
                logger.debug("more than %d bytes after [DONE]; closing the connection", DRAIN_LIMIT)
                return
    except httpx.TransportError as exc:
        logger.debug("the connection broke after [DONE] (%r); the answer is complete", exc)


async def _adrain(body: AsyncIterator[bytes]) -> None:
    """The asyncio twin of :func:`_drain`."""
    left = DRAIN_LIMIT
    try:
        async for data in body:
            left -= len(data)
            if left < 0:
                logger.debug("more than %d bytes after [DONE]; closing the connection", DRAIN_LIMIT)
                return
    except httpx.TransportError as exc:
        logger.debug("the connection broke after [DONE] (%r); the answer is complete", exc)


def _transport_error(exc: httpx.TransportError, parser: ChunkParser) -> ZhipuError:
    partial = parser.snapshot()
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(
            f"Timed out waiting for the stream to continue ({type(exc).__name__}); partial "
            "output is on .partial.",
            partial=partial,
        )
    return StreamInterruptedError(
        f"The connection broke mid-stream ({type(exc).__name__}: {exc}); partial output is on "
        ".partial.",
        partial=partial,
    )


class Stream:
    """A streamed answer: iterate for chunks, then ``get_final_completion()``.

    Use it as a context manager (``with client.stream(...) as stream:``) so the connection is
    released as soon as the block ends, whether it ends normally, by ``break`` or by an
    exception. Iteration also closes the response when it finishes.
    """

    def __init__(
        self, response: httpx.Response, parser: ChunkParser, release: Release | None = None
    ) -> None:
        self.response = response
        self._parser = parser
        self._release = release or no_release
        self._iterator = self._iter()

    def _iter(self) -> Generator[ChatCompletionChunk, None, None]:
        parser = self._parser
        response = self.response
        try:
            try:
                # The JSON branch is inside the except too: a JSON body cut short is a typed
                # error, not a bare httpx exception (tests/faults found this).
                if _is_json(response):
                    yield from _json_body_as_chunks(parser, response.read())
                    return
                body = response.iter_raw() if _undecoded(response) else response.iter_bytes()
                for data in body:
                    for frame in parser.split(data):
                        # Each chunk is handed out before the next frame is parsed.
                        yield from parser.parse(frame)
                        if parser.done:
                            break
                    if parser.done:
                        _drain(body)
                        break
            except httpx.TransportError as exc:
                raise _transport_error(exc, parser) from exc
            yield from parser.end()
        finally:
            response.close()
            self._release()

    def __iter__(self) -> Iterator[ChatCompletionChunk]:
        return self._iterator

    def __next__(self) -> ChatCompletionChunk:
        return next(self._iterator)

    def get_final_completion(self) -> ChatCompletion:
        """Read the rest of the stream and return the whole answer."""
        for _ in self._iterator:
            pass
        return self._parser.snapshot()

    @property
    def completion(self) -> ChatCompletion:
        """What has arrived so far, as a :class:`ChatCompletion`."""
        return self._parser.snapshot()

    def close(self) -> None:
        self._iterator.close()
        self.response.close()
        self._release()  # the generator's finally never ran if iteration never started

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncStream:
    """The asyncio twin of :class:`Stream`: ``async for`` chunks, ``async with`` to own it."""

    def __init__(
        self, response: httpx.Response, parser: ChunkParser, release: Release | None = None
    ) -> None:
        self.response = response
        self._parser = parser
        self._release = release or no_release
        self._iterator = self._iter()

    async def _iter(self) -> AsyncGenerator[ChatCompletionChunk, None]:
        parser = self._parser
        response = self.response
        try:
            try:
                # Inside the except: see Stream._iter.
                if _is_json(response):
                    for chunk in _json_body_as_chunks(parser, await response.aread()):
                        yield chunk
                    return
                abody = response.aiter_raw() if _undecoded(response) else response.aiter_bytes()
                async for data in abody:
                    for frame in parser.split(data):
                        # Each chunk is handed out before the next frame is parsed.
                        for chunk in parser.parse(frame):
                            yield chunk
                        if parser.done:
                            break
                    if parser.done:
                        await _adrain(abody)
                        break
            except httpx.TransportError as exc:
                raise _transport_error(exc, parser) from exc
            for chunk in parser.end():
                yield chunk
        finally:
            await response.aclose()
            self._release()

    def __aiter__(self) -> AsyncIterator[ChatCompletionChunk]:
        return self._iterator

    async def __anext__(self) -> ChatCompletionChunk:
        return await self._iterator.__anext__()

    async def get_final_completion(self) -> ChatCompletion:
        async for _ in self._iterator:
            pass
        return self._parser.snapshot()

    @property
    def completion(self) -> ChatCompletion:
        return self._parser.snapshot()

    async def aclose(self) -> None:
        await self._iterator.aclose()
        await self.response.aclose()
        self._release()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
