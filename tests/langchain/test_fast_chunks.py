"""Text and reasoning chunks are built without their pydantic constructors
(langchain_zhipu_flash._chunks); they must be the constructors' objects in every respect a
user or LangChain can observe. Tool-call chunks and the final chunk keep the constructors."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.load import dumpd, dumps, load
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult

import zhipu_flash as zf
from glm_emulator import frames
from langchain_zhipu_flash import _chunks
from langchain_zhipu_flash._convert import ChunkConverter

from ._helpers import SSE, Recorder, model_for, sse_events

# load() is a beta API of langchain-core; the round trip is what is checked here.
pytestmark = pytest.mark.filterwarnings("ignore:The function `load` is in beta")

META = {"model_provider": "zhipuai"}
META_V1 = {"model_provider": "zhipuai", "output_version": "v1"}
USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}


def _core(**kwargs: Any) -> zf.ChatCompletionChunk:
    kwargs.setdefault("id", "t1")
    return zf.ChatCompletionChunk.model_validate(frames.chunk(**kwargs))


def _reference(
    content: Any,
    additional: dict[str, Any],
    metadata: dict[str, Any],
    id: str | None,
    tool_call_chunks: list[Any] | None = None,
) -> ChatGenerationChunk:
    """The chunk as LangChain's constructors build it (how the adapter built every chunk
    before the copies)."""
    message = AIMessageChunk(
        content=content,
        additional_kwargs=additional,
        tool_call_chunks=tool_call_chunks or [],
        response_metadata=metadata,
        id=id,
    )
    return ChatGenerationChunk(message=message)


def _slots(obj: Any) -> tuple[Any, ...]:
    return (
        type(obj),
        obj.__dict__,
        {k: type(v) for k, v in obj.__dict__.items()},
        obj.__pydantic_fields_set__,
        obj.__pydantic_extra__,
        obj.__pydantic_private__,
    )


def assert_same_message(got: BaseMessage, want: BaseMessage) -> None:
    assert _slots(got) == _slots(want)
    assert got == want
    assert repr(got) == repr(want)
    assert got.model_dump() == want.model_dump()
    assert got.model_dump(exclude_unset=True) == want.model_dump(exclude_unset=True)
    assert got.model_dump_json() == want.model_dump_json()
    assert got.text == want.text and type(got.text) is type(want.text)
    assert got.content_blocks == want.content_blocks
    assert dumpd(got) == dumpd(want)
    assert dumps(got) == dumps(want)
    assert load(dumpd(got), allowed_objects="messages") == want
    assert pickle.loads(pickle.dumps(got)) == want  # noqa: S301
    assert copy.deepcopy(got) == want
    assert got.model_copy() == want


def assert_same(got: ChatGenerationChunk | None, want: ChatGenerationChunk) -> None:
    assert got is not None
    assert _slots(got) == _slots(want)
    assert got == want
    assert got.text == want.text and type(got.text) is type(want.text)
    assert got.model_dump() == want.model_dump()
    assert dumpd(got) == dumpd(want)
    assert pickle.loads(pickle.dumps(got)) == want  # noqa: S301
    assert_same_message(got.message, want.message)


# -- every shape feed() builds ----------------------------------------------------------------

SHAPES = {
    "text": (_core(content="Hi"), "Hi", {}, "t1"),
    "cjk text": (_core(content="你好，世界 🌏"), "你好，世界 🌏", {}, "t1"),
    "reasoning": (_core(reasoning="hm"), "", {"reasoning_content": "hm"}, "t1"),
    "both": (_core(content="Hi", reasoning="hm"), "Hi", {"reasoning_content": "hm"}, "t1"),
    "no id": (_core(content="Hi", id=None), "Hi", {}, None),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_text_and_reasoning_chunks_equal_constructed_ones(shape: str) -> None:
    core, text, additional, id = SHAPES[shape]
    assert_same(ChunkConverter().feed(core), _reference(text, additional, META, id))


@pytest.mark.parametrize("shape", SHAPES)
def test_v1_chunks_equal_constructed_ones(shape: str) -> None:
    core, text, additional, id = SHAPES[shape]
    blocks: list[Any] = []
    if additional:
        blocks.append({"type": "reasoning", "reasoning": "hm", "index": 0})
    if text:
        blocks.append({"type": "text", "text": text, "index": len(blocks)})
    assert_same(ChunkConverter(v1=True).feed(core), _reference(blocks, additional, META_V1, id))


@pytest.mark.parametrize("v1", [False, True])
def test_empty_and_role_only_chunks_yield_nothing(v1: bool) -> None:
    converter = ChunkConverter(v1=v1)
    assert converter.feed(_core(content="")) is None
    assert converter.feed(_core()) is None  # role only
    assert converter.feed(zf.ChatCompletionChunk(id="t1", choices=[])) is None


def test_leading_whitespace_joins_the_first_text() -> None:
    converter = ChunkConverter()
    assert converter.feed(_core(content="\n")) is None
    assert_same(converter.feed(_core(content="Hi")), _reference("\nHi", {}, META, "t1"))


@pytest.mark.parametrize("v1", [False, True])
def test_tool_call_chunks_keep_the_constructors(v1: bool) -> None:
    call = {
        "id": "c1",
        "index": 0,
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    got = ChunkConverter(v1=v1).feed(_core(tool_calls=[call]))
    tools = [{"name": "f", "args": "{}", "id": "c1", "index": 0, "type": "tool_call_chunk"}]
    content: Any = (
        [{"type": "tool_call_chunk", "id": "c1", "name": "f", "args": "{}", "index": 0}]
        if v1
        else ""
    )
    want = _reference(content, {}, META_V1 if v1 else META, "t1", tools)
    assert_same(got, want)
    assert got is not None and got.message.tool_calls == [
        {"name": "f", "args": {}, "id": "c1", "type": "tool_call"}
    ]


def test_final_chunk_carries_usage_finish_reason_and_last() -> None:
    converter = ChunkConverter()
    converter.feed(_core(content="Hi"))
    completion = zf.ChatCompletion.model_validate(
        frames.completion(content="Hi", finish="stop", usage=USAGE, id="t1")
    )
    final = converter.finish(completion)
    metadata = {**META, "finish_reason": "stop", "model_name": "glm-4.7-flash", "id": "t1",
                "token_usage": USAGE}  # fmt: skip
    message = AIMessageChunk(
        content="", additional_kwargs={}, tool_call_chunks=[], response_metadata=metadata, id="t1"
    )
    message.usage_metadata = {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}
    message.chunk_position = "last"
    info = {k: v for k, v in metadata.items() if k != "model_provider"}
    assert_same(final, ChatGenerationChunk(message=message, generation_info=info))


# -- the copies are independent objects --------------------------------------------------------


def test_copies_share_no_mutable_state() -> None:
    converter = ChunkConverter()
    first, second = (converter.feed(_core(content=t, id=None)) for t in ("a", "b"))
    assert first is not None and second is not None
    first.message.id = "lc_run-1"  # what BaseChatModel.stream does to a chunk without id
    first.message.name = "x"
    first.message.tool_calls.append({"name": "f", "args": {}, "id": "1", "type": "tool_call"})
    first.message.tool_call_chunks.append({"name": "f", "args": "", "id": "1", "index": 0})
    first.message.invalid_tool_calls.append(
        {"name": "f", "args": "", "id": "1", "error": None, "type": "invalid_tool_call"}
    )
    first.message.additional_kwargs["k"] = 1
    first.message.response_metadata["k"] = 1
    first.generation_info = {"k": 1}
    assert_same(second, _reference("b", {}, META, None))


def test_aggregation_equals_that_of_constructed_chunks() -> None:
    converter = ChunkConverter()
    cores = [_core(reasoning="Let me "), _core(reasoning="think."), _core(content="\n"),
             _core(content="Hel"), _core(content="lo"), _core(content=" 世界")]  # fmt: skip
    got = [g for g in map(converter.feed, cores) if g is not None]
    want = [
        _reference("", {"reasoning_content": "Let me "}, META, "t1"),
        _reference("", {"reasoning_content": "think."}, META, "t1"),
        _reference("\nHel", {}, META, "t1"),
        _reference("lo", {}, META, "t1"),
        _reference(" 世界", {}, META, "t1"),
    ]
    assert_same(got[0] + got[1:], want[0] + want[1:])
    total, expected = got[0], want[0]
    for g, w in zip(got[1:], want[1:], strict=True):
        total, expected = total + g, expected + w
    assert_same(total, expected)
    message = got[0].message + [g.message for g in got[1:]]
    assert_same_message(message, want[0].message + [w.message for w in want[1:]])
    assert message.content == "\nHello 世界"
    assert message.content_blocks == [
        {"type": "reasoning", "reasoning": "Let me think."},
        {"type": "text", "text": "\nHello 世界"},
    ]


# -- through LangChain's stream(): the same messages and callbacks as constructed chunks --------


class _Reference(BaseChatModel):
    """Streams the chunks built through the constructors that ChatZhipuFlash yields for
    BODY."""

    v1: bool = False

    @property
    def _llm_type(self) -> str:
        return "reference"

    def _generate(self, messages: Any, stop: Any = None, **kwargs: Any) -> ChatResult:
        raise NotImplementedError

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        meta = META_V1 if self.v1 else META
        r, t = ({"type": "reasoning", "reasoning": "hm", "index": 0},
                {"type": "text", "text": "Hi", "index": 1})  # fmt: skip
        yield _reference([r] if self.v1 else "", {"reasoning_content": "hm"}, meta, None)
        yield _reference([t] if self.v1 else "Hi", {}, meta, None)
        info = {"finish_reason": "stop", "model_name": "glm-4.7-flash", "token_usage": USAGE}
        message = AIMessageChunk(
            content=[] if self.v1 else "",
            additional_kwargs={},
            tool_call_chunks=[],
            response_metadata={**meta, **info},
            id=None,
        )
        message.usage_metadata = {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}
        message.chunk_position = "last"
        yield ChatGenerationChunk(message=message, generation_info=info)


BODY = sse_events(
    frames.chunk(reasoning="hm", id=None, object=None),
    frames.chunk(content="Hi", id=None, object=None),
    frames.chunk(content="", finish="stop", usage=USAGE, id=None, object=None),
)


class _Tokens(BaseCallbackHandler):
    def __init__(self) -> None:
        self.seen: list[tuple[Any, Any]] = []

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, **kwargs: Any) -> None:
        self.seen.append((token, chunk.model_dump() if chunk is not None else None))


@pytest.mark.parametrize("v1", [False, True])
def test_stream_yields_what_constructed_chunks_yield(v1: bool) -> None:
    version = "v1" if v1 else "v0"
    ours, theirs = _Tokens(), _Tokens()
    model = model_for(Recorder(200, SSE, BODY), output_version=version)
    got = list(model.stream("x", config={"callbacks": [ours]}))
    want = list(
        _Reference(v1=v1, output_version=version).stream("x", config={"callbacks": [theirs]})
    )
    assert len(got) == len(want) == 3
    for g, w in zip(got, want, strict=True):
        # Neither stream has a GLM id: LangChain gives every chunk its run's id.
        assert g.id is not None and g.id.startswith("lc_run-")
        w.id = g.id
        assert_same_message(g, w)
    assert len(ours.seen) == len(theirs.seen) == 3
    for (token, chunk), (want_token, want_chunk) in zip(ours.seen, theirs.seen, strict=True):
        assert token == want_token
        chunk["message"]["id"] = want_chunk["message"]["id"]
        assert chunk == want_chunk


def test_streaming_invoke_fires_the_same_tokens() -> None:
    ours = _Tokens()
    model = model_for(Recorder(200, SSE, BODY), streaming=True)
    message = model.invoke("x", config={"callbacks": [ours]})
    assert message.content == "Hi"
    assert message.additional_kwargs == {"reasoning_content": "hm"}
    assert [token for token, _ in ours.seen] == ["", "Hi", ""]


# -- when the copies are used ------------------------------------------------------------------


def test_text_chunks_skip_the_constructors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under the langchain-core this suite runs with, only tool-call chunks and the final
    chunk go through ``AIMessageChunk.__init__`` (fails before the copies: one per chunk)."""
    built: list[Any] = []
    init = AIMessageChunk.__init__

    def counting(self: AIMessageChunk, *args: Any, **kwargs: Any) -> None:
        built.append(kwargs.get("content"))
        init(self, *args, **kwargs)

    converter = ChunkConverter()
    monkeypatch.setattr(AIMessageChunk, "__init__", counting)
    chunks = [converter.feed(_core(content=str(i))) for i in range(50)]
    chunks += [converter.feed(_core(reasoning=str(i))) for i in range(50)]
    assert all(c is not None for c in chunks)
    assert built == []


_CONSTRUCTED = _chunks.constructed


def _with_derived_name(*args: Any, **kwargs: Any) -> ChatGenerationChunk:
    chunk = _CONSTRUCTED(*args, **kwargs)
    chunk.message.name = f"derived from {chunk.message.content!r}"
    return chunk


def _with_private_state(*args: Any, **kwargs: Any) -> ChatGenerationChunk:
    chunk = _CONSTRUCTED(*args, **kwargs)
    object.__setattr__(chunk.message, "__pydantic_private__", {"_cache": None})
    return chunk


@pytest.mark.parametrize("constructor", [_with_derived_name, _with_private_state])
def test_constructors_that_build_more_are_used_for_every_chunk(
    monkeypatch: pytest.MonkeyPatch, constructor: Any
) -> None:
    """A langchain-core whose constructors derive a value from the content, or keep private
    state, gets no copies: the check on first use falls back to the constructors."""
    monkeypatch.setattr(_chunks, "constructed", constructor)
    monkeypatch.setattr(_chunks, "_BUILDER", [None])
    build = _chunks.builder()
    assert build is _chunks._fallback
    got = ChunkConverter().feed(_core(content="Hi"))
    assert got is not None
    assert _slots(got.message) == _slots(constructor("Hi", {}, META, "t1").message)


def test_this_langchain_core_gets_copies(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fallback builds the same chunks at five times the cost: a langchain-core that
    # changed what its constructors build would show here first.
    monkeypatch.setattr(_chunks, "_BUILDER", [None])
    assert _chunks.builder() is not _chunks._fallback
