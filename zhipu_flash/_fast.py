"""Text-only chunks read without parsing them: the stream's fused fast path.

Nearly every chunk of a GLM stream is one token of text or of reasoning, and within a stream
such chunks are byte for byte the same apart from that token::

    {"id":"2025…","created":1759304416,"model":"glm-4.5","choices":[{"index":0,"delta":
    {"role":"assistant","content":"<the token>"}}]}

So once pydantic has validated one of them, :func:`learn` keeps the bytes around its token (a
prefix and a suffix) and the state of its three validated objects (chunk, choice, delta) as a
prototype. A later event with the same prefix and suffix is the same chunk with another
string: the token is decoded alone (as UTF-8 when it holds no escape, otherwise by
pydantic-core's own JSON parser, so the text is exactly what validation gives), the token goes
straight into the accumulator's parts (all that ``ChatCompletionAccumulator.add`` does with
such a chunk), and the three objects are copies of the prototype's state with the new text,
each with its own fields-set and extra dict as validation builds them. That costs well under
half of ``validate_json`` and ``add`` (benchmarks/README.md, "Core fast path").

Anything else, including a token the quick checks cannot prove is one JSON string, goes
through validation as before. The fast path only ever returns what validation would:
:func:`learn` refuses a shape unless a copy built from the very event it learns from is equal
to the validated chunk in every part pydantic keeps (``__dict__``, fields set, extra, private).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pydantic_core import from_json

from ._accumulate import TextParts
from .model_copies import new, same, set_dict, set_extra, set_fields_set, set_private
from .types import ChatCompletionChunk, ChoiceDelta, ChunkChoice

__all__ = ["TextChunks", "learn"]

#: A JSON string's content that needs real decoding: an escape, a quote (which would end the
#: string, so the event is not the learned shape) or a control character (invalid raw).
_NEEDS_PARSER = re.compile(rb'["\\\x00-\x1f]').search
#: A JSON string's content up to its closing quote.
_STRING_BODY = re.compile(rb'(?:[^"\\]|\\.)*', re.DOTALL).match
#: Values a copy may share with the prototype: nothing can change them in place.
_IMMUTABLE = (str, int, float, bool, type(None))
_TEXT_FIELDS = ("content", "reasoning_content")
_KEYS = {"content": b'"content":"', "reasoning_content": b'"reasoning_content":"'}


class TextChunks:
    """One learned shape: the events that differ from its prototype only in the token.

    The caller checks ``event.startswith(prefix) and event.endswith(suffix)`` itself (two C
    calls, no Python frame for the events that do not match), then calls :meth:`read`.
    """

    __slots__ = (
        "_choice",
        "_choice_fields",
        "_chunk",
        "_chunk_fields",
        "_delta",
        "_delta_fields",
        "_field",
        "_key",
        "_list",
        "_parts",
        "_proto",
        "_start",
        "_stop",
        "last",
        "prefix",
        "suffix",
    )

    def __init__(
        self,
        proto: ChatCompletionChunk,
        field: str,
        prefix: bytes,
        suffix: bytes,
        parts: TextParts,
        key: object | None = None,
    ) -> None:
        choice = proto.choices[0]
        self._proto = proto
        self.prefix = prefix
        self.suffix = suffix
        self._start = len(prefix)
        self._stop = -len(suffix)
        self._field = field
        self._parts = parts
        self._list = parts.parts  # the same list for the whole stream (join_parts clears it)
        self._chunk = proto.__dict__
        self._chunk_fields = proto.__pydantic_fields_set__
        self._choice = choice.__dict__
        self._choice_fields = choice.__pydantic_fields_set__
        self._delta = choice.delta.__dict__
        self._delta_fields = choice.delta.__pydantic_fields_set__
        # What names this shape to adapters, the same for its framed twin (pydantic models
        # are not hashable, so not the prototype itself).
        self._key = object() if key is None else key
        #: ``(field, text, key)`` of the last chunk :meth:`read` built (see
        #: :attr:`zhipu_flash.Stream.plain`).
        self.last: tuple[str, str, object] | None = None

    def framed(self) -> TextChunks:
        """This shape as a whole network read of one event: ``data: ``, the event and the
        blank line that ends it (how GLM sends each token, one HTTP chunk apiece)."""
        return TextChunks(
            self._proto,
            self._field,
            b"data: " + self.prefix,
            self.suffix + b"\n\n",
            self._parts,
            self._key,
        )

    def read(self, event: bytes) -> ChatCompletionChunk | None:
        """The chunk of an event with this shape's prefix and suffix, its token accumulated;
        None (nothing accumulated) when the quick checks cannot prove the bytes between
        prefix and suffix are one JSON string: the caller then validates the event."""
        raw = event[self._start : self._stop]
        try:
            if _NEEDS_PARSER(raw) is None:
                text = raw.decode()
            else:
                text = from_json(b'"' + raw + b'"')
                if type(text) is not str:
                    return None
        except ValueError:  # UnicodeDecodeError too: validation would refuse the event
            return None
        parts = self._list
        parts.append(text)
        if len(parts) >= TextParts.BLOCK:
            self._parts.join_parts()
        # The three objects spelled out, not a helper called three times: this runs once per
        # token, and a Python call per object costs more than a tenth of building it.
        state = self._delta.copy()
        state[self._field] = text
        delta = new(ChoiceDelta)
        set_dict(delta, state)
        set_fields_set(delta, set(self._delta_fields))
        set_extra(delta, {})
        set_private(delta, None)
        state = self._choice.copy()
        state["delta"] = delta
        choice = new(ChunkChoice)
        set_dict(choice, state)
        set_fields_set(choice, set(self._choice_fields))
        set_extra(choice, {})
        set_private(choice, None)
        state = self._chunk.copy()
        state["choices"] = [choice]
        chunk = new(ChatCompletionChunk)
        set_dict(chunk, state)
        set_fields_set(chunk, set(self._chunk_fields))
        set_extra(chunk, {})
        set_private(chunk, None)
        self.last = (self._field, text, self._key)
        return chunk


def learn(
    chunk: ChatCompletionChunk, event: bytes, parts_of: Callable[[str], TextParts | None]
) -> TextChunks | None:
    """The shape of a validated text-only chunk and the event it came from, or None when the
    chunk is anything else (tool calls, a finish reason, usage, extra fields, both texts) or a
    copy would differ from it. ``parts_of(field)`` is the accumulator's
    :meth:`~._accumulate.ChatCompletionAccumulator.text_parts`."""
    field = _text_field(chunk)
    if field is None:
        return None
    parts = parts_of(field)
    if parts is None:
        return None
    key = _KEYS[field]
    at = event.find(key)
    if at < 0 or event.find(key, at + 1) >= 0:
        return None  # spaced or repeated keys: not the compact shape GLM sends
    start = at + len(key)
    body = _STRING_BODY(event, start)
    if body is None:
        return None
    prefix, suffix = event[:start], event[body.end() :]
    shape = TextChunks(chunk, field, prefix, suffix, TextParts())
    copy = shape.read(event)
    if copy is None or not same(copy, chunk):
        return None
    return TextChunks(chunk, field, prefix, suffix, parts)


def _text_field(chunk: ChatCompletionChunk) -> str | None:
    """``content`` or ``reasoning_content`` when the chunk carries that text and, besides,
    only values a copy may share (the role, the stream's id, created and model): no tool
    calls, finish reason, usage, search results or fields no model names."""
    if type(chunk) is not ChatCompletionChunk or len(chunk.choices) != 1:
        return None
    choice = chunk.choices[0]
    delta = choice.delta
    if type(choice) is not ChunkChoice or type(delta) is not ChoiceDelta:
        return None
    if choice.index != 0 or choice.finish_reason is not None:
        return None
    texts = [f for f in _TEXT_FIELDS if getattr(delta, f) is not None]
    if len(texts) != 1 or not isinstance(getattr(delta, texts[0]), str):
        return None
    for model, own in ((chunk, "choices"), (choice, "delta"), (delta, texts[0])):
        if model.__pydantic_extra__ or model.__pydantic_private__ is not None:
            return None
        # Usage, search results and tool calls are models or lists: never shared.
        if not all(isinstance(v, _IMMUTABLE) for k, v in model.__dict__.items() if k != own):
            return None
    return texts[0]
