"""The stream's fast path (zhipu_flash/_fast.py): text-only chunks copied from a learned
prototype instead of validated must be exactly what validation builds, and everything the
quick checks cannot prove goes through validation.

The reference here is independent of the reader: each event decoded by SSEDecoder.feed,
validated with ``model_validate_json`` and folded by the accumulator's ``add``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import zhipu_flash as zf
from glm_emulator import frames
from tests.unit._helpers import Server, make_client, sse
from tests.wire import wire_sse
from zhipu_flash import _parse
from zhipu_flash._accumulate import ChatCompletionAccumulator
from zhipu_flash._sse import SSEDecoder
from zhipu_flash._stream import StreamParser

ID, CREATED, MODEL = "20260101000000abcdef", 1767225600, "glm-4.7-flash"


def text_chunk(
    content: str | None = None, reasoning: str | None = None, *, ascii_only: bool = False
) -> bytes:
    body = frames.chunk(content=content, reasoning=reasoning, id=ID, created=CREATED, model=MODEL)
    if ascii_only:
        return json.dumps(body, separators=(",", ":")).encode()
    return frames.compact(body)


def event(payload: bytes) -> bytes:
    return b"data: " + payload + b"\n\n"


def final() -> bytes:
    return frames.compact(
        frames.chunk(content="", finish="stop", usage={"prompt_tokens": 1, "completion_tokens": 2,
                                                       "total_tokens": 3}, id=ID, created=CREATED,
                     model=MODEL)
    )  # fmt: skip


def reference(
    reads: list[bytes], *, strip_markers: bool = False
) -> tuple[list[zf.ChatCompletionChunk], zf.ChatCompletion, int]:
    """Chunks, final completion and skipped events, without the fast path."""
    decoder = SSEDecoder()
    acc = ChatCompletionAccumulator(strip_markers=strip_markers)
    chunks: list[zf.ChatCompletionChunk] = []
    skipped = 0
    for payload in [e.data for read in reads for e in decoder.feed(read)] + [
        e.data for e in decoder.flush()
    ]:
        if payload == b"[DONE]":
            break
        try:
            chunk = zf.ChatCompletionChunk.model_validate_json(payload)
        except ValueError:
            skipped += 1
            continue
        acc.add(chunk)
        chunks.append(chunk)
    return chunks, acc.snapshot(malformed_frames=skipped), skipped


def parsed(
    reads: list[bytes], *, strip_markers: bool = False
) -> tuple[list[zf.ChatCompletionChunk], zf.ChatCompletion, int]:
    """The same through StreamParser as the stream shells drive it (fast, events, read)."""
    parser = StreamParser(strip_markers=strip_markers)
    chunks: list[zf.ChatCompletionChunk] = []
    for read in reads:
        fast = parser.fast(read)
        if fast is not None:
            chunks.append(fast)
            continue
        for e in parser.events(read):
            got = parser.read(e)
            if got is None:
                break
            chunks.extend(got)
    chunks.extend(parser.end())
    completion = parser.completion
    return chunks, completion, completion.malformed_frames


def state(value: Any) -> Any:
    """Everything pydantic keeps of a value, recursively, with types and key order."""
    if isinstance(value, BaseModel):
        return (
            type(value),
            [(k, state(v)) for k, v in value.__dict__.items()],
            sorted(value.__pydantic_fields_set__),
            value.__pydantic_extra__,
            value.__pydantic_private__,
        )
    if isinstance(value, list):
        return [state(v) for v in value]
    return (type(value), value)


def assert_same(reads: list[bytes], *, strip_markers: bool = False) -> list[zf.ChatCompletionChunk]:
    want, want_final, want_skipped = reference(reads, strip_markers=strip_markers)
    got, got_final, got_skipped = parsed(reads, strip_markers=strip_markers)
    assert [state(c) for c in got] == [state(c) for c in want]
    assert [c.model_dump_json() for c in got] == [c.model_dump_json() for c in want]
    assert got == want
    assert got_final == want_final
    assert got_skipped == want_skipped
    return got


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The events the reader validated (the ones the fast path did not take)."""
    seen: list[bytes] = []
    real = _parse._chunk_validator

    def counting() -> Callable[[bytes], zf.ChatCompletionChunk]:
        validate = real()

        def counted(data: bytes) -> zf.ChatCompletionChunk:
            seen.append(data)
            return validate(data)

        return counted

    monkeypatch.setattr(_parse, "_chunk_validator", counting)
    return seen


def long_answer(n: int = 200) -> list[bytes]:
    tokens = ["你好", " world", "\n", 'say "hi"', "\\", "é", "\t", "😀", "</think>"]
    reads = [event(text_chunk(reasoning=f"r{i}")) for i in range(n // 4)]
    reads += [event(text_chunk(content=tokens[i % len(tokens)] + str(i))) for i in range(n)]
    return [*reads, event(final()), frames.DONE]


# --- what the fast path builds ----------------------------------------------------------


def test_a_long_answer_is_validated_three_times_and_built_exactly(
    validations: list[bytes],
) -> None:
    reads = long_answer()
    chunks = assert_same(reads)
    assert len(chunks) == 251
    # The first reasoning chunk, the first text chunk and the final chunk: the rest were
    # copies (a test that fails when the fast path stops being taken).
    assert len(validations) == 3


@pytest.mark.parametrize("piece", [1, 5, 64, 1 << 20])
def test_reads_of_any_size_give_the_same_chunks(piece: int) -> None:
    body = b"".join(long_answer(40))
    assert_same([body[i : i + piece] for i in range(0, len(body), piece)])


@pytest.mark.parametrize(
    "name",
    [
        "glm-4.5_stream_reasoning_usage_cached_nuvin_REPAIRED.sse",
        "glm-4-flash_stream_loop4_content_stop_mini-claude-design.sse",
        "glm-4-flash_stream_loop2_toolcall_only_mini-claude-design.sse",
        "glm-4_stream_plain_usage_langchain-openai-tests.jsonl",
        "DOCS-SYNTHETIC_glm-4.7_stream_example_docs.z.ai.txt",
        # Not DOCS_glm-4-plus_stream_finish-length_...: its events have no blank lines
        # between them, one event the reader splits (tests/unit/test_stream.py).
    ],
)
def test_real_captures_event_by_event(name: str) -> None:
    body = wire_sse(name)
    reads = [part + b"\n\n" for part in body.split(b"\n\n") if part.strip()]
    assert_same(reads)


TRICKY = [
    'a "quoted" word',
    "back\\slash",
    "new\nline",
    "\u2028 and \u2029 and \u0085",
    "\x00\x01\x1f",
    "😀 astral",
    "",
    " ",
    '"',
    "\\",
    "\\u0041",
    '"}}]}',
    "data: ",
]


@pytest.mark.parametrize("token", TRICKY)
@pytest.mark.parametrize("ascii_only", [False, True])
def test_tokens_that_need_escapes(token: str, ascii_only: bool) -> None:
    reads = [event(text_chunk(content="first", ascii_only=ascii_only))]
    reads += [event(text_chunk(content=token, ascii_only=ascii_only))] * 2
    assert_same([*reads, event(final()), frames.DONE])


def head(field: str = "content") -> bytes:
    whole = text_chunk(content="x") if field == "content" else text_chunk(reasoning="x")
    return whole[: whole.index(b'"x"') + 1]


@pytest.mark.parametrize(
    "odd",
    [
        head() + b'a","extra":"kept"}}]}',  # another key after the text, same suffix
        head() + b'a\\\\","extra":"kept"}}]}',  # an escaped backslash, then another key
        head() + b'\\ud800"}}]}',  # a lone surrogate: validation refuses it
        head() + b'raw\x01control"}}]}',  # a raw control character: invalid JSON
        head() + b'\xff\xfe"}}]}',  # not UTF-8
        head() + b'\xed\xa0\x80"}}]}',  # a UTF-8-encoded surrogate
        head() + b'a"}}],"usage":{"prompt_tokens":1}}',  # a different suffix
        head() + b'a"}}]}',  # the plain case, for contrast
    ],
)
def test_events_the_quick_checks_cannot_prove(odd: bytes) -> None:
    reads = [event(text_chunk(content="first")), event(odd), event(text_chunk(content="last"))]
    assert_same([*reads, event(final()), frames.DONE])


def test_two_events_in_one_read_that_look_like_one() -> None:
    # Prefix and suffix match the read as a whole; the bytes between hold a quote.
    one, two = event(text_chunk(content="one")), event(text_chunk(content="two"))
    reads = [event(text_chunk(content="first")), one + two, event(final()), frames.DONE]
    chunks = assert_same(reads)
    assert [c.delta.content for c in chunks if c.delta] == ["first", "one", "two", ""]


@pytest.mark.parametrize(
    "framing",
    [
        lambda p: b"data: " + p + b"\r\n\r\n",
        lambda p: b"data:" + p + b"\n\n",
        lambda p: b"id: 7\ndata: " + p + b"\n\n",
        lambda p: b": keep-alive\n\ndata: " + p + b"\n\n",
        lambda p: b"event: message\ndata: " + p + b"\n\n",
    ],
)
def test_other_framings(framing: Callable[[bytes], bytes]) -> None:
    reads = [framing(text_chunk(content=t)) for t in ("a", "b", "c")]
    assert_same([*reads, framing(final()), frames.DONE])


def test_an_event_split_over_reads_then_whole_ones() -> None:
    first = event(text_chunk(content="a"))
    split = event(text_chunk(content="b"))
    reads = [first, split[:30], split[30:], event(text_chunk(content="c")), frames.DONE]
    assert_same(reads)


def test_a_new_response_id_is_validated(validations: list[bytes]) -> None:
    other = frames.compact(frames.chunk(content="b", id="other", created=CREATED, model=MODEL))
    reads = [event(text_chunk(content="a")), event(other), event(text_chunk(content="c"))]
    assert_same([*reads, frames.DONE])
    assert len(validations) == 2  # "a" (learned) and "other"; "c" is a copy


def test_marker_stripping_sees_every_token(validations: list[bytes]) -> None:
    tokens = ["<think>", "plan", "</think>", "answer", "<|begin_of_box|>", "42", "<|end_of_box|>"]
    reads = [event(text_chunk(content=t)) for t in tokens]
    chunks = assert_same([*reads, event(final()), frames.DONE], strip_markers=True)
    assert len(validations) == len(tokens) + 1
    assert "".join(c.delta.content or "" for c in chunks if c.delta) == "answer42"


def test_a_tool_call_stream_stops_looking_for_shapes(validations: list[bytes]) -> None:
    pieces = [f'{{"city": "Bei{"j" * i}"' for i in range(30)]
    calls = frames.tool_call_fragments("call_1", "get_weather", pieces)
    reads = [event(frames.compact(c)) for c in calls] + [frames.DONE]
    assert_same(reads)
    assert len(validations) == len(calls)


# --- the copies behave as validated chunks --------------------------------------------


def fast_chunks() -> list[zf.ChatCompletionChunk]:
    reads = [event(text_chunk(content=t)) for t in ("a", "b", "c")]
    chunks, _, _ = parsed([*reads, frames.DONE])
    return chunks


def test_copies_share_no_mutable_state() -> None:
    _, b, c = fast_chunks()
    b.choices[0].delta.tool_calls = []
    b.choices[0].finish_reason = "stop"
    b.usage = zf.types.Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2)
    b.choices.append(b.choices[0])
    assert c.model_fields_set == {"id", "created", "object", "model", "choices"}
    assert c.choices[0].model_fields_set == {"index", "delta"}
    assert c.choices[0].delta.model_fields_set == {"role", "content"}
    assert len(c.choices) == 1 and c.usage is None and c.choices[0].finish_reason is None
    assert c.model_dump(exclude_unset=True) == {
        "id": ID,
        "created": CREATED,
        "object": "chat.completion.chunk",
        "model": MODEL,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": "c"}}],
    }


def test_copies_pickle_copy_and_serialise_as_validated_chunks() -> None:
    chunk = fast_chunks()[-1]
    validated = zf.ChatCompletionChunk.model_validate_json(text_chunk(content="c"))
    unpickled = pickle.loads(pickle.dumps(chunk))  # noqa: S301 (our own bytes)
    for twin in (unpickled, copy.deepcopy(chunk), chunk.model_copy()):
        assert state(twin) == state(validated)
    assert chunk.model_dump() == validated.model_dump()
    assert chunk.model_dump_json(exclude_none=True) == validated.model_dump_json(exclude_none=True)
    assert chunk.delta == validated.delta and chunk.model_extra == {} == validated.model_extra


# --- through the client, sync and async ---------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_through_the_client(mode: str, validations: list[bytes]) -> None:
    reads = long_answer(60)
    server = Server([sse(reads)])
    client = make_client(mode, server)
    messages = [{"role": "user", "content": "hi"}]
    if mode == "sync":
        with client.stream(model=MODEL, messages=messages) as stream:
            chunks = list(stream)
            completion = stream.get_final_completion()
    else:

        async def main() -> tuple[list[zf.ChatCompletionChunk], zf.ChatCompletion]:
            async with client.stream(model=MODEL, messages=messages) as stream:
                got = [c async for c in stream]
                return got, await stream.get_final_completion()

        chunks, completion = asyncio.run(main())
    want, want_final, _ = reference(reads)
    assert [state(c) for c in chunks] == [state(c) for c in want]
    assert completion == want_final
    assert len(validations) == 3


# --- Stream.plain: what adapters may rely on without reading the chunk ---------------------


def _with_plain(mode: str, reads: list[bytes]) -> list[tuple[zf.ChatCompletionChunk, Any]]:
    """Each chunk of a client stream with the stream's ``plain`` right after it arrived."""
    client = make_client(mode, Server([sse(reads)]))
    messages = [{"role": "user", "content": "hi"}]
    if mode == "sync":
        with client.stream(model=MODEL, messages=messages) as stream:
            return [(chunk, stream.plain) for chunk in stream]

    async def main() -> list[tuple[zf.ChatCompletionChunk, Any]]:
        async with client.stream(model=MODEL, messages=messages) as stream:
            return [(chunk, stream.plain) async for chunk in stream]

    return asyncio.run(main())


def _without_text(chunk: zf.ChatCompletionChunk, field: str) -> Any:
    copy = chunk.model_copy(deep=True)
    setattr(copy.choices[0].delta, field, None)
    return state(copy)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_plain_names_the_text_of_chunks_that_carry_nothing_else(mode: str) -> None:
    got = _with_plain(mode, long_answer(60))
    plain = [(chunk, p) for chunk, p in got if p is not None]
    assert len(plain) == len(got) - 3  # all but the two validated first ones and the last
    for chunk, (field, text, _) in plain:
        delta = chunk.choices[0].delta
        assert getattr(delta, field) == text and isinstance(text, str)
        other = "content" if field == "reasoning_content" else "reasoning_content"
        assert getattr(delta, other) is None
        assert delta.tool_calls is None and chunk.choices[0].finish_reason is None
        assert chunk.usage is None and chunk.web_search is None and not chunk.model_extra
    # One key per shape, and chunks of one shape differ in nothing but that text.
    by_key: dict[object, list[Any]] = {}
    for chunk, (field, _, key) in plain:
        by_key.setdefault(key, []).append(_without_text(chunk, field))
    assert len(by_key) == 2  # reasoning, then text
    for states in by_key.values():
        assert all(s == states[0] for s in states)
    # The finish chunk (validated) says nothing.
    assert got[-1][0].choices[0].finish_reason == "stop" and got[-1][1] is None


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_plain_is_none_for_every_chunk_the_fast_path_does_not_build(mode: str) -> None:
    # Two events per read: every chunk goes through the decoder and validation.
    reads = long_answer(20)
    paired = [reads[i] + reads[i + 1] for i in range(0, len(reads) - 1, 2)] + reads[
        len(reads) // 2 * 2 :
    ]
    got = _with_plain(mode, paired)
    assert got and all(p is None for _, p in got)


# --- any token --------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    tokens=st.lists(st.text(max_size=12), min_size=1, max_size=12),
    reasoning=st.lists(st.text(max_size=6), max_size=4),
    ascii_only=st.booleans(),
)
def test_any_tokens(tokens: list[str], reasoning: list[str], ascii_only: bool) -> None:
    reads = [event(text_chunk(reasoning=t, ascii_only=ascii_only)) for t in reasoning]
    reads += [event(text_chunk(content=t, ascii_only=ascii_only)) for t in tokens]
    assert_same([*reads, event(final()), frames.DONE])
