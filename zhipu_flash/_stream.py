"""From response bytes to typed chunks: the sans-I/O stream parser and its sync and async shells.

:class:`StreamParser` owns everything that is not I/O, one job per part: the SSE decoder
splits bytes into events (:mod:`._sse`), the chunk reader turns an event into chunks
(:mod:`._parse`: ``[DONE]``, in-band error frames, malformed frames), the accumulator folds
them into the final completion (:mod:`._accumulate`), and the parser itself says how the
stream ended. ``Stream`` and ``AsyncStream`` are the only code that touches the network, a few
lines each, so both behave the same by construction.

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
- A JSON body instead of an event stream: an error body raises its typed error; a whole
  answer is parsed as ``create()`` parses one, and handed out as one chunk.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Sequence
from types import TracebackType

import httpx

from ._accumulate import ChatCompletionAccumulator
from ._constants import DEFAULT_MAX_LINE_BYTES
from ._exceptions import (
    APITimeoutError,
    StreamInterruptedError,
    ZhipuError,
    error_from_body,
)
from ._limiter import Release, no_release
from ._parse import ChunkReader, OnMalformed, completion_as_chunk, parse_completion
from ._sse import PayloadOrEvent, SSEDecoder, payload_or_event
from .types import ChatCompletion, ChatCompletionChunk

__all__ = ["AsyncStream", "Stream", "StreamParser"]

logger = logging.getLogger("zhipu_flash")

_TRUNCATED_FINISHES = frozenset({"sensitive", "model_context_window_exceeded"})
#: How many bytes after ``[DONE]`` a stream reads to reach the end of the body (see _drain).
DRAIN_LIMIT = 64 * 1024


class StreamParser:
    """One streamed response, sans I/O: its parts wired together, and the verdict on how the
    stream ended.

    Per network read, the steps of the hot path are the parts' own methods, with no wrapper
    between them and the shell (a call per read and per chunk is what the benchmark counts):
    :meth:`fast` takes a read that is one text-only event of a known shape (most of them);
    otherwise :attr:`events` splits the bytes into events, and :attr:`read` turns one event
    into its chunks and accumulates them, or gives None once the stream is over (``[DONE]``).
    :meth:`feed` does both for a whole read, for callers that want a list. Then :meth:`end`
    when the body ends (or :meth:`answer` for a JSON body instead); :attr:`completion` at any
    time. Errors from ``events`` and ``read`` carry no ``partial`` until
    :meth:`add_partial` gives them the output so far.
    """

    __slots__ = (
        "_acc",
        "_answer",
        "_decoder",
        "_reader",
        "_strip_markers",
        "events",
        "plain",
        "read",
    )

    def __init__(
        self,
        *,
        strip_markers: bool = False,
        on_malformed: OnMalformed = "skip",
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        self._decoder = SSEDecoder(max_line_bytes)
        self._acc = ChatCompletionAccumulator(strip_markers=strip_markers)
        # With markers stripped every token goes through the accumulator's marker state, so
        # there is no fast path, and no shape worth looking for.
        parts_of = None if strip_markers else self._acc.text_parts
        self._reader = ChunkReader(self._acc.add, on_malformed, parts_of)
        self._strip_markers = strip_markers
        self._answer: ChatCompletion | None = None
        self.events: Callable[[bytes], Sequence[PayloadOrEvent]] = self._decoder.feed_payloads
        self.read: Callable[[PayloadOrEvent], Sequence[ChatCompletionChunk] | None] = (
            self._reader.read
        )
        #: What :meth:`fast` read last: see :attr:`Stream.plain`.
        self.plain: tuple[str, str, object] | None = None

    def fast(self, data: bytes) -> ChatCompletionChunk | None:
        """The fused fast path: a network read that is exactly one text-only event of a shape
        the reader has learned (:mod:`._fast`) as its chunk, accumulated, without the decoder
        or validation; None for anything else (nothing consumed), which then goes through
        :attr:`events` and :attr:`read`. Most reads of a GLM stream are such an event."""
        if not self._decoder.idle():
            return None
        for shape in self._reader.framed:
            if data.startswith(shape.prefix) and data.endswith(shape.suffix):
                chunk = shape.read(data)
                if chunk is not None:
                    self.plain = shape.last
                return chunk
        return None

    @property
    def finished(self) -> bool:
        """``[DONE]`` arrived (or a whole JSON answer): nothing after it is parsed."""
        return self._reader.done or self._answer is not None

    @property
    def completion(self) -> ChatCompletion:
        """Everything so far as a :class:`ChatCompletion` (the whole answer once finished)."""
        if self._answer is not None:
            return self._answer
        return self._acc.snapshot(malformed_frames=self._reader.malformed)

    def add_partial(self, exc: ZhipuError) -> None:
        """Give an error from :attr:`events` or :attr:`read` the output so far."""
        if exc.partial is None:
            exc.partial = self.completion

    def feed(self, data: bytes) -> list[ChatCompletionChunk]:
        """The chunks ``data`` completes, parsed and accumulated (none after ``[DONE]``)."""
        out: list[ChatCompletionChunk] = []
        try:
            for event in self.events(data):
                chunks = self.read(event)
                if chunks is None:
                    break
                out.extend(chunks)
        except ZhipuError as exc:
            self.add_partial(exc)
            raise
        return out

    def end(self) -> list[ChatCompletionChunk]:
        """The body ended: parse what is left and decide whether the stream was complete."""
        chunks: list[ChatCompletionChunk] = []
        if not self._reader.done:
            try:
                for event in self._decoder.flush():
                    chunks.extend(self.read(payload_or_event(event)) or ())
            except ZhipuError as exc:
                self.add_partial(exc)
                raise
        self._check_ending()
        return chunks

    def answer(self, content: bytes) -> list[ChatCompletionChunk]:
        """A JSON body answering the stream request: its typed error, or the whole answer
        (every top-level field kept, as ``create()`` keeps them) as one chunk. A body that is
        not JSON after all is read as an event stream."""
        try:
            body = json.loads(content)
        except ValueError:
            return [*self.feed(content), *self.end()]
        if isinstance(body, dict) and "error" in body:
            raise error_from_body(body, status_code=200, partial=self.completion)
        self._answer = parse_completion(body, strip_markers=self._strip_markers)
        return [completion_as_chunk(self._answer)]

    def _check_ending(self) -> None:
        finish = self._acc.finish_reason
        if not self._reader.done:
            if finish is None:
                raise StreamInterruptedError(
                    "The stream ended before [DONE] and before any finish reason; the answer "
                    "is incomplete (partial output is on .partial).",
                    partial=self.completion,
                )
            logger.debug("stream ended without [DONE] after finish_reason=%s", finish)
        elif finish is None:
            logger.info("stream sent [DONE] without a finish reason")
        if finish == "network_error":
            raise StreamInterruptedError(
                "GLM ended the stream with finish_reason 'network_error' (an upstream failure); "
                "the answer is incomplete (partial output is on .partial).",
                partial=self.completion,
            )
        if finish in _TRUNCATED_FINISHES:
            logger.warning("GLM finished with %r: the answer was cut short", finish)


def _undecoded(response: httpx.Response) -> bool:
    # With no content-encoding the raw bytes are the body: reading them directly skips
    # httpx's decoder and re-chunking layers, which run once per network read. A response
    # built from bytes (transports in tests, replays) is already read: only iter_bytes serves it.
    encoding = response.headers.get("content-encoding", "identity").lower()
    return encoding in ("", "identity") and not response.is_stream_consumed


def _body(response: httpx.Response) -> Iterator[bytes]:
    """The body as the transport reads it, or decoded when it has a content-encoding.

    Raw bytes come straight from ``response.stream`` (httpx's transport interface, the
    iterable ``iter_raw`` itself wraps): ``iter_raw`` adds a generator, a re-chunking list and
    a context manager per network read, a few per cent of a token's whole cost. What it does
    besides is done here: the response is marked consumed, and a transport error gets the
    request (see :func:`_transport_error`). ``response.num_bytes_downloaded`` is not counted.
    """
    if not _undecoded(response):
        return response.iter_bytes()
    if response.is_closed:
        raise httpx.StreamClosed()
    stream = response.stream
    if not isinstance(stream, httpx.SyncByteStream):
        raise RuntimeError("Attempted to call a sync iterator on an async stream.")
    response.is_stream_consumed = True
    return iter(stream)


def _abody(response: httpx.Response) -> AsyncIterator[bytes]:
    """The asyncio twin of :func:`_body`."""
    if not _undecoded(response):
        return response.aiter_bytes()
    if response.is_closed:
        raise httpx.StreamClosed()
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):
        raise RuntimeError("Attempted to call an async iterator on a sync stream.")
    response.is_stream_consumed = True
    return stream.__aiter__()


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


def _transport_error(
    exc: httpx.TransportError, parser: StreamParser, response: httpx.Response
) -> ZhipuError:
    exc.request = response.request  # as httpx's own iterators give it (see _body)
    partial = parser.completion
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

    #: For adapters that build objects of their own per token: the last chunk handed out,
    #: when the parser read it by a learned shape, as ``(field, text, shape)``. ``field`` is
    #: ``"content"`` or ``"reasoning_content"`` and ``text`` that field's value; ``shape`` is
    #: an opaque hashable key, the same object for every chunk of one shape, and such
    #: chunks differ only in ``text``: the same id, created, object, model and role, and
    #: nothing else (no tool calls, finish reason, usage, search results or unknown fields).
    #: None for any other chunk, which must then be read as usual.
    plain: tuple[str, str, object] | None

    def __init__(
        self, response: httpx.Response, parser: StreamParser, release: Release | None = None
    ) -> None:
        self.response = response
        self._parser = parser
        self._release = release or no_release
        self.plain = None
        self._iterator = self._iter()

    def _iter(self) -> Generator[ChatCompletionChunk, None, None]:
        parser = self._parser
        response = self.response
        try:
            try:
                # The JSON branch is inside the except too: a JSON body cut short is a typed
                # error, not a bare httpx exception (tests/faults found this).
                if _is_json(response):
                    yield from parser.answer(response.read())
                    return
                body = _body(response)
                events, read, fast = parser.events, parser.read, parser.fast
                for data in body:
                    fast_chunk = fast(data)  # most reads: see StreamParser.fast
                    if fast_chunk is not None:
                        self.plain = parser.plain
                        yield fast_chunk
                        continue
                    self.plain = None
                    for event in events(data):
                        # Each chunk is handed out before the next event is parsed.
                        chunks = read(event)
                        if chunks is None:  # [DONE]
                            break
                        yield from chunks
                    else:
                        continue  # the read held no [DONE]: read on
                    _drain(body)
                    break
            except httpx.TransportError as exc:
                raise _transport_error(exc, parser, response) from exc
            except ZhipuError as exc:
                parser.add_partial(exc)
                raise
            self.plain = None
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
        return self._parser.completion

    @property
    def completion(self) -> ChatCompletion:
        """What has arrived so far, as a :class:`ChatCompletion`."""
        return self._parser.completion

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

    #: As :attr:`Stream.plain`.
    plain: tuple[str, str, object] | None

    def __init__(
        self, response: httpx.Response, parser: StreamParser, release: Release | None = None
    ) -> None:
        self.response = response
        self._parser = parser
        self._release = release or no_release
        self.plain = None
        self._iterator = self._iter()

    async def _iter(self) -> AsyncGenerator[ChatCompletionChunk, None]:
        parser = self._parser
        response = self.response
        try:
            try:
                # Inside the except: see Stream._iter.
                if _is_json(response):
                    for chunk in parser.answer(await response.aread()):
                        yield chunk
                    return
                abody = _abody(response)
                events, read, fast = parser.events, parser.read, parser.fast
                async for data in abody:
                    fast_chunk = fast(data)  # most reads: see StreamParser.fast
                    if fast_chunk is not None:
                        self.plain = parser.plain
                        yield fast_chunk
                        continue
                    self.plain = None
                    for event in events(data):
                        # Each chunk is handed out before the next event is parsed.
                        chunks = read(event)
                        if chunks is None:  # [DONE]
                            break
                        for chunk in chunks:
                            yield chunk
                    else:
                        continue  # the read held no [DONE]: read on
                    await _adrain(abody)
                    break
            except httpx.TransportError as exc:
                raise _transport_error(exc, parser, response) from exc
            except ZhipuError as exc:
                parser.add_partial(exc)
                raise
            self.plain = None
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
        return self._parser.completion

    @property
    def completion(self) -> ChatCompletion:
        return self._parser.completion

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
