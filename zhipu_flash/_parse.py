"""GLM's response payloads as typed objects: stream events into chunks, JSON bodies into
completions. Sans-I/O, and nothing is accumulated here.

:class:`ChunkReader` reads one SSE event at a time (what :meth:`SSEDecoder.feed_payloads`
gives), hands each chunk it carries to its sink (the accumulator) and returns them:

- a data event holds one chunk; ``[DONE]`` ends the stream: ``read`` returns None for it and
  for every event after it;
- ``{"error": {...}}`` (with or without ``event: error``) raises the typed error for its code;
- two frames fused on one line (seen on glm-4.7 and glm-5.1) keep the complete tail; lines of
  an event sent without blank-line separators are parsed one by one;
- anything still undecodable is logged with its text, counted (``malformed``) and skipped
  (``on_malformed="skip"``, the default: one bad frame should not cost a long answer), or
  raised as :class:`~zhipu_flash.StreamDecodeError` (``on_malformed="raise"``).

Errors raised here carry no ``partial``: the stream parser that owns the accumulator attaches
it.

:func:`parse_completion` turns a whole JSON answer (``create()``, or a JSON body answering a
stream request) into a :class:`~zhipu_flash.types.ChatCompletion`, markers stripped where the
model uses them; :func:`completion_as_chunk` is that answer as the one chunk a stream hands out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import ValidationError

from ._accumulate import TextParts
from ._exceptions import APIStatusError, StreamDecodeError, error_from_body
from ._fast import TextChunks, learn
from ._markers import strip_message
from ._sse import PayloadOrEvent, SSEEvent
from .types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    FunctionCallDelta,
    ToolCallDelta,
)

__all__ = ["ChunkReader", "OnMalformed", "completion_as_chunk", "parse_completion"]

logger = logging.getLogger("zhipu_flash")

OnMalformed = Literal["skip", "raise"]
_DONE = b"[DONE]"
_LOG_EXCERPT = 500
#: Validated chunks looked at to learn the fast path's shapes (see ChunkReader.__init__).
_LEARN_TRIES = 8


def _chunk_validator() -> Callable[[bytes], ChatCompletionChunk]:
    """The validator itself: ``model_validate_json`` is a Python wrapper around this call,
    which runs once per streamed chunk. Looked up per stream, not at import: the wire models
    build their schemas on first use (``defer_build``), and this lookup is that first use."""
    validate: Callable[[bytes], ChatCompletionChunk] = (
        ChatCompletionChunk.__pydantic_validator__.validate_json
    )
    return validate


class ChunkReader:
    """One stream event in, the chunks it carries out (see the module docstring)."""

    __slots__ = (
        "_learning",
        "_on_malformed",
        "_parts_of",
        "_shapes",
        "_sink",
        "_validate",
        "done",
        "framed",
        "malformed",
    )

    def __init__(
        self,
        sink: Callable[[ChatCompletionChunk], object],
        on_malformed: OnMalformed = "skip",
        parts_of: Callable[[str], TextParts | None] | None = None,
    ) -> None:
        self._sink = sink
        self._validate = _chunk_validator()
        self._on_malformed = on_malformed
        #: The fast path (:mod:`._fast`): the text-only shapes learned so far, and how many
        #: more validated chunks may be looked at to learn one (a stream of tool calls or of
        #: another shape stops paying for the look after a few chunks). ``parts_of`` is where
        #: a fast chunk's text accumulates; without it every event is validated.
        self._shapes: tuple[TextChunks, ...] = ()
        #: The same shapes as whole network reads (:meth:`TextChunks.framed`), for the
        #: stream's fused path (:meth:`StreamParser.fast`).
        self.framed: tuple[TextChunks, ...] = ()
        self._parts_of = parts_of
        self._learning = _LEARN_TRIES if parts_of is not None else 0
        #: ``[DONE]`` was read: the stream is over, whatever follows.
        self.done = False
        #: Events that could not be decoded and were skipped.
        self.malformed = 0

    def read(self, event: PayloadOrEvent) -> Sequence[ChatCompletionChunk] | None:
        """The chunks of one event, each handed to the sink first: usually one, none for a
        skipped malformed event, several only for a recovered one; None once the stream is
        over (``[DONE]``). Raises for an error event."""
        if self.done:
            return None
        if event.__class__ is bytes:
            for shape in self._shapes:
                if event.startswith(shape.prefix) and event.endswith(shape.suffix):
                    fast = shape.read(event)
                    if fast is not None:
                        return (fast,)
                    break
        elif isinstance(event, SSEEvent):  # a named event such as "error"
            if event.event == "error" and event.data != _DONE:
                raise _error_event(event.data)
            event = event.data
        if event == _DONE:
            self.done = True
            return None
        try:
            chunk = self._validate(event)
        except ValidationError:
            return self._recover(event)
        if chunk.error is not None:
            raise _chunk_error(chunk)
        self._sink(chunk)
        if self._learning:
            self._learn(chunk, event)
        return (chunk,)

    def _learn(self, chunk: ChatCompletionChunk, event: bytes) -> None:
        assert self._parts_of is not None  # _learning is 0 without it
        self._learning -= 1
        shape = learn(chunk, event, self._parts_of)
        if shape is not None and all(s.prefix != shape.prefix for s in self._shapes):
            self._shapes = (*self._shapes, shape)
            self.framed = (*self.framed, shape.framed())
            if len(self._shapes) == 2:  # one for content, one for reasoning: all there is
                self._learning = 0

    def _recover(self, data: bytes) -> list[ChatCompletionChunk] | None:
        """An event that did not parse: salvage what the known corruptions allow (None when
        what it held was ``[DONE]`` alone)."""
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
                if chunk.error is not None:
                    raise _chunk_error(chunk)
                self._sink(chunk)
            self.done = self.done or done
            return parsed if parsed else None
        if done:
            self.done = True
            return None
        self._malformed(data, recovered=False)
        return []

    def _malformed(self, data: bytes, *, recovered: bool) -> None:
        self.malformed += 1
        excerpt = data[:_LOG_EXCERPT].decode("utf-8", "replace")
        if recovered:
            logger.warning("fused SSE frames: dropped the head, kept the tail: %r", excerpt)
            return
        if self._on_malformed == "raise":
            raise StreamDecodeError(f"Undecodable stream frame: {excerpt!r}")
        logger.warning("skipped an undecodable stream frame: %r", excerpt)


def _chunk_error(chunk: ChatCompletionChunk) -> APIStatusError:
    # The frame's other top-level fields (its request_id) are part of the error body.
    body = {**(chunk.__pydantic_extra__ or {}), "error": chunk.error}
    return error_from_body(body, status_code=None)


def _error_event(data: bytes) -> APIStatusError:
    try:
        body = json.loads(data)
    except ValueError:
        body = {"error": {"message": data.decode("utf-8", "replace")}}
    return error_from_body(body, status_code=None)


def parse_completion(body: Any, *, strip_markers: bool) -> ChatCompletion:
    """A whole answer's JSON body (already checked for ``error``) as a completion. Every
    top-level field is kept (``web_search``, ``request_id``, fields no model names);
    ``strip_markers`` moves the think and box markers out of the content."""
    completion = ChatCompletion.model_validate(body)
    if strip_markers:
        for choice in completion.choices:
            strip_message(choice.message)
    return completion


def completion_as_chunk(completion: ChatCompletion) -> ChatCompletionChunk:
    """A whole answer as the one chunk a stream hands out for it: the message as the delta,
    with the top-level fields (usage, ``web_search``, ``request_id``, fields no model names)
    a final chunk would carry."""
    message = completion.message
    carried: dict[str, Any] = dict(completion.model_extra or {})
    if completion.request_id is not None:
        carried["request_id"] = completion.request_id
    return ChatCompletionChunk(
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
                            mcp=t.mcp,
                        )
                        for i, t in enumerate(message.tool_calls or ())
                    ]
                    or None,
                ),
            )
        ],
    )
