"""The streamed responses are copies (zhipu_flash.model_copies) with a hand-built ``raw`` for
plain chunks: they must be exactly what ``model_construct`` and ``model_dump`` built before,
for every chunk shape, whether the core validated the chunk or copied it (its fast path)."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    MessageRole,
    TextBlock,
    ThinkingBlock,
)
from pydantic import BaseModel

import zhipu_flash as zf
from glm_emulator import frames
from llama_index_zhipu_flash import utils
from llama_index_zhipu_flash.utils import ChatResponseBuilder
from zhipu_flash import model_copies
from zhipu_flash._stream import StreamParser

USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
CALL = {"id": "c1", "index": 0, "type": "function", "function": {"name": "f", "arguments": "{}"}}


def _core(**kwargs: Any) -> zf.ChatCompletionChunk:
    return zf.ChatCompletionChunk.model_validate(frames.chunk(**kwargs))


def _slots(obj: BaseModel) -> tuple[Any, ...]:
    return (
        type(obj),
        obj.__dict__,
        obj.__pydantic_fields_set__,
        obj.__pydantic_extra__,
        obj.__pydantic_private__,
    )


def _constructed(response: ChatResponse) -> ChatResponse:
    """The same response built with ``model_construct``, as the builder built it before."""
    message = response.message
    blocks = [type(b).model_construct(**dict(b.__dict__)) for b in message.blocks]
    return ChatResponse.model_construct(
        message=ChatMessage.model_construct(
            role=MessageRole.ASSISTANT,
            blocks=blocks,
            additional_kwargs=dict(message.additional_kwargs),
        ),
        raw=response.raw,
        delta=response.delta,
        logprobs=None,
        additional_kwargs=dict(response.additional_kwargs),
    )


def assert_as_constructed(got: ChatResponse, chunk: zf.ChatCompletionChunk) -> None:
    want = _constructed(got)
    assert got.raw == chunk.model_dump(exclude_none=True)
    assert _slots(got) == _slots(want)
    assert _slots(got.message) == _slots(want.message)
    for block, want_block in zip(got.message.blocks, want.message.blocks, strict=True):
        assert _slots(block) == _slots(want_block)
    assert got == want
    assert repr(got) == repr(want)
    assert got.model_dump() == want.model_dump()
    assert got.model_dump_json() == want.model_dump_json()
    assert got.message.content == want.message.content
    assert pickle.loads(pickle.dumps(got)) == want  # noqa: S301
    assert copy.deepcopy(got) == want
    assert got.model_copy() == want


STREAMS = {
    "text": [_core(content="Hel"), _core(content="lo"), _core(content=" 世界")],
    "reasoning then text": [_core(reasoning="hm"), _core(reasoning=" ok"), _core(content="Hi")],
    "both in one chunk": [_core(content="Hi", reasoning="hm")],
    "empty and role only": [_core(content=""), _core(), _core(content="Hi")],
    "no id or object": [_core(content="Hi", id=None, object=None, created=None, model=None)],
    "tool call": [_core(reasoning="hm"), _core(tool_calls=[CALL])],
    "final with usage": [
        _core(content="Hi"),
        _core(content="", finish="stop", usage=USAGE),
    ],
    "unknown fields": [
        zf.ChatCompletionChunk.model_validate({**frames.chunk(content="Hi"), "request_id": "r"}),
        _core(content="!"),
    ],
    "web search first": [
        _core(content="Hi", web_search=[{"title": "t", "link": "https://x"}]),
        _core(content="!", finish="stop", usage=USAGE),
    ],
}


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("in_kwargs", [True, False])
def test_responses_are_what_model_construct_built(stream: str, in_kwargs: bool) -> None:
    builder = ChatResponseBuilder(reasoning_in_additional_kwargs=in_kwargs)
    for chunk in STREAMS[stream]:
        assert_as_constructed(builder.response_for(chunk), chunk)


def test_each_response_keeps_its_own_message() -> None:
    builder = ChatResponseBuilder()
    first = builder.response_for(_core(reasoning="hm"))
    second = builder.response_for(_core(content="Hi"))
    first.message.additional_kwargs["k"] = 1
    first.additional_kwargs["k"] = 1
    first.raw["k"] = 1
    first.message.blocks.append(TextBlock(text="x"))
    assert second.message.additional_kwargs == {"reasoning_content": "hm"}
    assert second.additional_kwargs == {}
    assert "k" not in second.raw
    assert [type(b) for b in second.message.blocks] == [ThinkingBlock, TextBlock]
    assert second.message.content == "Hi"


def _hinted(*chunks: dict[str, Any]) -> list[tuple[zf.ChatCompletionChunk, Any]]:
    """The chunks as the core's fast path hands them out (one event per read, the first of
    each shape validated, the rest copies), each with what ``Stream.plain`` says of it."""
    parser = StreamParser()
    out: list[tuple[zf.ChatCompletionChunk, Any]] = []
    for read in frames.stream_events(chunks):
        fast = parser.fast(read)
        if fast is not None:
            out.append((fast, parser.plain))
            continue
        for event in parser.events(read):
            out.extend((chunk, None) for chunk in parser.read(event) or ())
    return out


def _fast(*chunks: dict[str, Any]) -> list[zf.ChatCompletionChunk]:
    return [chunk for chunk, _ in _hinted(*chunks)]


FAST = _fast(
    *(frames.chunk(reasoning=t) for t in ("let", " me", " think")),
    *(frames.chunk(content=t) for t in ("Hel", "lo", " 世界", 'a "quote"\n')),
    frames.chunk(content="", finish="stop", usage=USAGE),
)


@pytest.mark.parametrize("in_kwargs", [True, False])
def test_responses_to_the_core_fast_path_chunks(in_kwargs: bool) -> None:
    builder = ChatResponseBuilder(reasoning_in_additional_kwargs=in_kwargs)
    for chunk in FAST:
        assert_as_constructed(builder.response_for(chunk), chunk)


HINTED = _hinted(
    *(frames.chunk(reasoning=t) for t in ("let", " me", " think")),
    *(frames.chunk(content=t) for t in ("Hel", "lo", "", " 世界", 'a "quote"\n')),
    frames.chunk(content="!", id="second-response"),  # a new id: a new shape
    frames.chunk(content="?", id="second-response"),
    frames.chunk(content="", finish="stop", usage=USAGE),
)


@pytest.mark.parametrize("in_kwargs", [True, False])
def test_responses_from_the_streams_plain_hint_are_the_ones_read_from_the_chunk(
    in_kwargs: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[zf.ChatCompletionChunk] = []
    read_chunk = utils._plain_raw

    def counted(chunk: zf.ChatCompletionChunk, fields: dict[str, Any]) -> Any:
        reads.append(chunk)
        return read_chunk(chunk, fields)

    monkeypatch.setattr(utils, "_plain_raw", counted)
    hinted = ChatResponseBuilder(reasoning_in_additional_kwargs=in_kwargs)
    got = [hinted.response_for(chunk, plain) for chunk, plain in HINTED]
    # Hinted: the copies of the two shapes the core learned (reasoning and text; the second
    # response's are validated, as is every first chunk of a shape and the last). Read: the
    # five validated chunks and the first hinted one of each shape, which leaves its
    # template; the other four are built from their shape's.
    assert sum(plain is not None for _, plain in HINTED) == 6
    assert len(reads) == 5 + 2
    reads.clear()
    plain = ChatResponseBuilder(reasoning_in_additional_kwargs=in_kwargs)
    want = [plain.response_for(chunk) for chunk, _ in HINTED]
    for response, expected, (chunk, _) in zip(got, want, HINTED, strict=True):
        assert_as_constructed(response, chunk)
        assert _slots(response) == _slots(expected)
        assert response.raw == expected.raw and list(response.raw) == list(expected.raw)
        assert response.message == expected.message
    # Each response its own raw: changing one (the one that left its shape's template, and
    # one built from it) changes no other, nor the template.
    changing = ChatResponseBuilder(reasoning_in_additional_kwargs=in_kwargs)
    for i, (chunk, plain) in enumerate(HINTED):
        response = changing.response_for(chunk, plain)
        assert response.raw == want[i].raw
        if i in (4, 5):
            response.raw["choices"][0]["delta"]["role"] = "changed"
            response.raw["id"] = "changed"


def test_the_builders_copy_on_this_llama_index() -> None:
    # A copier that fell back to model_construct builds the same objects at four times the
    # cost: a new llama-index field order or field would show here first.
    for make in (utils._text_block, utils._thinking_block, utils._chat_message,
                 utils._chat_response):  # fmt: skip
        assert make.__name__ == "make", make
    assert utils._plain_raw_is_model_dump()


def test_a_copier_falls_back_to_model_construct_when_a_copy_would_differ() -> None:
    class WithPrivate(BaseModel):
        _cache: dict[str, Any] = {}
        text: str = ""

    class WithExtra(BaseModel, extra="allow"):
        text: str = ""

    class TwoFields(BaseModel):
        text: str = ""
        tags: list[str] = []

    for cls, sample in (
        (WithPrivate, {"text": ""}),
        (WithExtra, {"text": ""}),
        (TwoFields, {"text": ""}),  # a field missing: model_construct would add its default
        (TwoFields, {"tags": [], "text": ""}),  # not in the declared order
    ):
        make = model_copies.copier(cls, sample)  # type: ignore[type-var]
        assert make.__name__ == "constructed", cls
        assert _slots(make(dict(sample))) == _slots(cls.model_construct(**sample))
    make = model_copies.copier(TwoFields, {"text": "", "tags": []})
    assert make.__name__ == "make"
    assert _slots(make({"text": "a", "tags": ["x"]})) == _slots(
        TwoFields.model_construct(text="a", tags=["x"])
    )
