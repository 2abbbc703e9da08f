"""The SSE decoder, byte by byte: every split point of every stream must decode the same."""

from __future__ import annotations

import pytest

from zhipu_flash import StreamDecodeError
from zhipu_flash._sse import SSEDecoder, SSEEvent

# One stream exercising the awkward parts: CJK split anywhere, U+2028/U+2029 and U+0085
# raw inside JSON strings (str.splitlines would tear these events apart), a comment, data
# with and without the space, a multi-line event, an event type and an id.
STREAM_LF = (
    ": keep-alive\n"
    'data: {"content":"你好，世界"}\n'
    "\n"
    'data:{"content":"line\u2028sep\u2029para\u0085nel"}\n'
    "\n"
    "event: error\n"
    "id: 7\n"
    'data: {"error":{"code":"1301"}}\n'
    "\n"
    "data: first\n"
    "data: second\n"
    "\n"
    "data: [DONE]\n"
    "\n"
).encode("utf-8")

EXPECTED = [
    SSEEvent('{"content":"你好，世界"}'.encode()),
    SSEEvent('{"content":"line\u2028sep\u2029para\u0085nel"}'.encode()),
    SSEEvent(b'{"error":{"code":"1301"}}', event="error", id="7"),
    SSEEvent(b"first\nsecond", id="7"),
    SSEEvent(b"[DONE]", id="7"),
]

ENDINGS = {"LF": b"\n", "CRLF": b"\r\n", "CR": b"\r"}


def _stream(ending: str) -> bytes:
    return STREAM_LF.replace(b"\n", ENDINGS[ending])


def _decode(pieces: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.flush())
    return events


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_whole_stream(ending: str) -> None:
    assert _decode([_stream(ending)]) == EXPECTED


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_every_two_way_split(ending: str) -> None:
    data = _stream(ending)
    for cut in range(len(data) + 1):
        assert _decode([data[:cut], data[cut:]]) == EXPECTED, f"split at byte {cut}"


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_one_byte_at_a_time(ending: str) -> None:
    data = _stream(ending)
    assert _decode([data[i : i + 1] for i in range(len(data))]) == EXPECTED


def test_every_three_way_split_of_crlf_around_cjk() -> None:
    data = 'data: {"c":"汉字"}\r\n\r\ndata: [DONE]\r\n\r\n'.encode()
    want = [SSEEvent('{"c":"汉字"}'.encode()), SSEEvent(b"[DONE]")]
    for a in range(len(data) + 1):
        for b in range(a, len(data) + 1):
            assert _decode([data[:a], data[a:b], data[b:]]) == want, (a, b)


def test_payload_stays_bytes_until_the_frame_is_complete() -> None:
    # The first two bytes of a three-byte character end the first piece: no decode happens
    # per piece, so nothing is replaced or lost.
    decoder = SSEDecoder()
    raw = 'data: "你"\n\n'.encode()
    cut = raw.index("你".encode()) + 2
    assert decoder.feed(raw[:cut]) == []
    assert decoder.feed(raw[cut:]) == [SSEEvent('"你"'.encode())]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert _decode([b"\n\n\n: comment\n\n"]) == []


def test_event_type_resets_after_dispatch() -> None:
    events = _decode([b"event: error\ndata: a\n\ndata: b\n\n"])
    assert [(e.event, e.data) for e in events] == [("error", b"a"), ("message", b"b")]


def test_field_without_colon_and_unknown_fields() -> None:
    events = _decode([b"data\nfoo: bar\nretry: 1500\ndata: x\n\n"])
    assert events == [SSEEvent(b"\nx", retry=1500)]


def test_flush_dispatches_a_final_event_missing_its_blank_line() -> None:
    assert _decode([b'data: {"a":1}\n\ndata: [DONE]']) == [
        SSEEvent(b'{"a":1}'),
        SSEEvent(b"[DONE]"),
    ]


def test_docs_format_without_blank_lines_joins_data_lines() -> None:
    # The old docs print events with no blank line between them; per the spec that is one
    # event with multi-line data. The stream parser splits it again (see test_stream).
    assert _decode([b"data: {}\ndata: []\ndata: [DONE]\n"]) == [SSEEvent(b"{}\n[]\n[DONE]")]


def test_line_longer_than_bound_is_a_clear_error() -> None:
    decoder = SSEDecoder(max_line_bytes=64)
    decoder.feed(b"data: " + b"x" * 50)
    with pytest.raises(StreamDecodeError, match="64 bytes"):
        decoder.feed(b"y" * 20)


def test_line_at_bound_is_fine_when_it_ends() -> None:
    decoder = SSEDecoder(max_line_bytes=64)
    payload = b"x" * 58
    assert decoder.feed(b"data: " + payload) == []
    assert decoder.feed(b"\n\n") == [SSEEvent(payload)]


def test_cr_at_chunk_end_then_lf_counts_once() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # Had the LF been taken for a second line ending, this would dispatch "a" here.
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r\n") == [SSEEvent(b"a")]


def test_an_empty_read_between_cr_and_lf_changes_nothing() -> None:
    # Found by tests/faults/test_fuzz.py: an empty piece cleared the pending CR, so the LF of
    # the same CRLF then counted as a blank line and dispatched the event early.
    for feed in (SSEDecoder.feed, SSEDecoder.feed_payloads):
        decoder = SSEDecoder()
        assert list(feed(decoder, b"data: a\r")) == []
        assert list(feed(decoder, b"")) == []
        assert list(feed(decoder, b"\ndata: b\r\n")) == []
        assert len(feed(decoder, b"\r\n")) == 1


def test_event_text_and_repr() -> None:
    event = SSEEvent("é".encode())
    assert event.text == "é"
    assert "SSEEvent" in repr(event)
    assert event != "é"
    assert len({event, SSEEvent("é".encode())}) == 1


def test_a_long_line_in_many_pieces_is_linear_and_exact() -> None:
    # 4 MiB in 4 KiB pieces: joining on every read would copy ~2 GiB; parking the pieces
    # copies the line once. The result must be the same line.
    decoder = SSEDecoder()
    payload = b"x" * (4 * 1024 * 1024)
    data = b"data: " + payload + b"\n\n"
    events: list[SSEEvent] = []
    for i in range(0, len(data), 4096):
        events.extend(decoder.feed(data[i : i + 4096]))
    assert events == [SSEEvent(payload)]


def test_line_bound_applies_to_parked_pieces() -> None:
    decoder = SSEDecoder(max_line_bytes=100)
    for _ in range(5):
        decoder.feed(b"y" * 20)
    with pytest.raises(StreamDecodeError, match="100 bytes"):
        decoder.feed(b"y" * 20)
