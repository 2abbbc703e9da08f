"""Property tests for the SSE decoder and the stream parser: any byte split of a valid stream
decodes identically, and no input raises anything but our typed errors."""

from __future__ import annotations

import contextlib
import itertools
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zhipu_flash as zf
from glm_emulator import frames
from zhipu_flash._sse import SSEDecoder, SSEEvent
from zhipu_flash._stream import StreamParser

# Deterministic and modest: the same examples on every run, quick enough for every commit.
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Text that is hard for line splitting and UTF-8: CJK, emoji, U+2028/2029/0085, CR/LF.
TRICKY = st.text(
    alphabet=st.sampled_from(list('ab :{}"\\\r\n你好，界🌍é\u2028\u2029\u0085\x00\x1c')),
    max_size=12,
)
LINE_TEXT = TRICKY.map(lambda s: s.replace("\r", "").replace("\n", ""))


def _splits(data: bytes) -> st.SearchStrategy[list[bytes]]:
    """``data`` cut at arbitrary points (possibly inside a character or a CRLF)."""

    def cut(points: list[int]) -> list[bytes]:
        bounds = [0, *sorted(points), len(data)]
        return [data[a:b] for a, b in itertools.pairwise(bounds)]

    return st.lists(st.integers(0, len(data)), max_size=12).map(cut)


# --- SSE decoder ---------------------------------------------------------------------------


def _decode(pieces: list[bytes], max_line: int = 1 << 20) -> list[SSEEvent]:
    decoder = SSEDecoder(max_line)
    events: list[SSEEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.flush())
    return events


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[bytes, list[SSEEvent]]:
    """A valid SSE stream and the events it must decode to."""
    ending = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    out: list[bytes] = []
    expected: list[SSEEvent] = []
    for _ in range(draw(st.integers(0, 5))):
        lines: list[bytes] = []
        if draw(st.booleans()):
            lines.append(b":" + draw(LINE_TEXT).encode())
        event = draw(st.sampled_from(["", "message", "error"]))
        if event:
            lines.append(b"event: " + event.encode())
        data = [draw(LINE_TEXT).encode() for _ in range(draw(st.integers(1, 3)))]
        for value in data:
            space = b" " if draw(st.booleans()) or value[:1] == b" " else b""
            lines.append(b"data:" + space + value)
        out.append(b"".join(line + ending for line in lines) + ending)
        expected.append(SSEEvent(b"\n".join(data), event or "message"))
    return b"".join(out), expected


@FUZZ
@given(st.data())
def test_decoder_any_split_gives_the_same_events(data: st.DataObject) -> None:
    stream, expected = data.draw(sse_streams())
    pieces = data.draw(_splits(stream))
    assert _decode([stream]) == expected
    assert _decode(pieces) == expected


@FUZZ
@given(sse_streams())
def test_decoder_one_event_per_read_gives_the_same_events(
    case: tuple[bytes, list[SSEEvent]],
) -> None:
    """GLM frames every event as its own HTTP chunk, so each read holds exactly one event:
    the decoder's shortcut for that case must agree with the line machinery, whatever the
    line endings, comments, event names or multi-line data."""
    stream, expected = case
    ending = b"\r\n\r\n" if b"\r\n" in stream else b"\r\r" if b"\r" in stream else b"\n\n"
    events = [e + ending for e in stream.split(ending)[:-1]]
    assert b"".join(events) == stream
    assert _decode(events) == expected


@FUZZ
@given(st.binary(max_size=300), st.data())
def test_decoder_arbitrary_bytes_only_typed_errors(raw: bytes, data: st.DataObject) -> None:
    pieces = data.draw(_splits(raw))
    try:
        events = _decode(pieces, max_line=64)
    except zf.StreamDecodeError:
        return
    # With a bound no line reaches, the split does not matter either.
    assert events == _decode([raw], max_line=64) == _decode(pieces, max_line=1 << 20)


# --- stream parser -------------------------------------------------------------------------

JSON_SCALARS = st.none() | st.booleans() | st.integers(-3, 3) | TRICKY
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TRICKY, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def tool_call_deltas(draw: st.DrawFn) -> dict[str, Any]:
    call: dict[str, Any] = {"index": draw(st.sampled_from([0, 1, -1]))}
    if draw(st.booleans()):
        call["id"] = draw(st.sampled_from(["call_a", "call_b"]))
        call["type"] = "function"
    function: dict[str, Any] = {}
    if draw(st.booleans()):
        function["name"] = draw(st.sampled_from(["f", "g", "工具"]))
    function["arguments"] = draw(st.none() | TRICKY | st.just({"x": "é"}))
    call["function"] = function
    return call


@st.composite
def chunk_objects(draw: st.DrawFn) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": "assistant"}
    if draw(st.booleans()):
        delta["content"] = draw(st.none() | TRICKY)
    if draw(st.booleans()):
        delta["reasoning_content"] = draw(TRICKY)
    if draw(st.booleans()):
        delta["tool_calls"] = draw(st.lists(tool_call_deltas(), max_size=2))
    choice: dict[str, Any] = {"index": 0, "delta": delta}
    finish = draw(st.sampled_from([None, None, "stop", "tool_calls", "length", "sensitive"]))
    if finish:
        choice["finish_reason"] = finish
    obj: dict[str, Any] = {"id": "r", "created": 1, "model": "glm-4.7-flash", "choices": [choice]}
    if draw(st.booleans()):
        obj["usage"] = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    return obj


@st.composite
def chunk_streams(draw: st.DrawFn) -> bytes:
    # Framed by glm_emulator.frames; the objects are drawn here, nulls and odd shapes
    # included, which the builder of valid GLM chunks does not make.
    events = [
        frames.event(json.dumps(o, ensure_ascii=False).encode())
        for o in draw(st.lists(chunk_objects(), max_size=6))
    ]
    events.append(draw(st.sampled_from([frames.DONE, b"", b"data: [DONE]"])))
    return b"".join(events)


def _parse(pieces: list[bytes], **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    parser = StreamParser(**kwargs)
    chunks: list[zf.ChatCompletionChunk] = []
    for piece in pieces:
        chunks.extend(parser.feed(piece))
    chunks.extend(parser.end())
    return [c.model_dump() for c in chunks], parser.completion.model_dump()


def _outcome(pieces: list[bytes], **kwargs: Any) -> Any:
    """The chunks and final completion, or the typed error with its partial output."""
    try:
        return _parse(pieces, **kwargs)
    except zf.ZhipuError as exc:
        partial = exc.partial.model_dump() if exc.partial is not None else None
        return type(exc), exc.code, partial


@FUZZ
@given(st.data())
def test_parser_any_split_gives_the_same_result(data: st.DataObject) -> None:
    stream = data.draw(chunk_streams())
    pieces = data.draw(_splits(stream))
    markers = data.draw(st.booleans())
    assert _outcome(pieces, strip_markers=markers) == _outcome([stream], strip_markers=markers)


def _only_typed_errors(pieces: list[bytes]) -> None:
    for on_malformed in ("skip", "raise"):
        with contextlib.suppress(zf.ZhipuError):
            _parse(pieces, on_malformed=on_malformed, max_line_bytes=256)


@FUZZ
@given(st.binary(max_size=400), st.data())
def test_parser_arbitrary_bytes_only_typed_errors(raw: bytes, data: st.DataObject) -> None:
    _only_typed_errors(data.draw(_splits(raw)))


@FUZZ
@given(st.lists(JSON_VALUES, max_size=4), st.sampled_from(["", "error", "message"]))
def test_parser_arbitrary_json_frames_only_typed_errors(values: list[Any], event: str) -> None:
    head = f"event: {event}\n".encode() if event else b""
    _only_typed_errors([head + frames.event(json.dumps(v).encode()) for v in values])
    # The same values where GLM puts them: as a chunk's fields and as an error body.
    for value in values:
        _only_typed_errors([frames.event(json.dumps({"error": value}).encode())])
        shaped = {"id": value, "choices": [{"index": 0, "delta": {"content": value}}]}
        _only_typed_errors([frames.event(json.dumps(shaped).encode())])


@FUZZ
@given(chunk_streams(), st.lists(st.tuples(st.integers(0, 10_000), st.binary(max_size=3))))
def test_parser_corrupted_valid_streams_only_typed_errors(
    stream: bytes, edits: list[tuple[int, bytes]]
) -> None:
    corrupted = bytearray(stream)
    for position, replacement in edits:
        at = position % (len(corrupted) + 1)
        corrupted[at : at + len(replacement)] = replacement
    _only_typed_errors([bytes(corrupted)])
