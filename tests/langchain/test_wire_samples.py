"""Every real stream in tests/fixtures/wire through stream(), astream() and invoke().

The expected values were written by reading the samples (see each file's header), not by
running the code. Streams are served byte-for-byte through ``httpx.MockTransport``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage

from glm_emulator import frames
from tests.langchain._helpers import JSON, SSE, Recorder, model_for
from tests.wire import wire_body, wire_sse

REASONING_45 = (
    'The user just said "hi", which is a simple greeting. I should respond with a brief '
    "greeting back, following the instructions to keep responses concise and direct."
)
CSS_HEAD = ":root {\n    --primary-color: #1a1a2e;\n"
CSS_TAIL = (
    "@media (prefers-reduced-motion: reduce) {\n    button {\n        transition: none;\n    }\n}\n"
)


@dataclass
class Expected:
    sample: str
    model: str
    id: str
    content: str
    finish_reason: str
    usage: dict[str, Any]
    reasoning: str | None = None
    tool_names: list[str] = field(default_factory=list)


STREAMS = [
    Expected(
        "glm-4_stream_plain_usage_langchain-openai-tests.jsonl",
        "glm-4",
        "20240722102053e7277a4f94e848248ff9588ed37fb6e6",
        "人工智能助手，你可以叫我AI助手。",
        "stop",
        {"input_tokens": 13, "output_tokens": 10, "total_tokens": 23},
    ),
    Expected(
        "glm-4.5_stream_reasoning_usage_cached_nuvin_REPAIRED.sse",
        "glm-4.5",
        "20251001154016c72e2da818044216",
        # a "\n" before the reasoning, another after it, then "Hi" and "!"
        "\n\nHi!",
        "stop",
        {
            "input_tokens": 6042,
            "output_tokens": 39,
            "total_tokens": 6081,
            "input_token_details": {"cache_read": 43},
        },
        reasoning=REASONING_45,
    ),
    Expected(
        "glm-4-flash_stream_loop2_toolcall_only_mini-claude-design.sse",
        "glm-4-flash",
        "2026051310410914b9cb9d9a1d4168",
        "",
        "tool_calls",
        {"input_tokens": 2692, "output_tokens": 465, "total_tokens": 3157},
        tool_names=["write_file"],
    ),
    Expected(
        "glm-4-flash_stream_loop4_content_stop_mini-claude-design.sse",
        "glm-4-flash",
        "20260513104134e4128b53108b4934",
        "登录页面已成功生成。您可以在项目中查看 `index.html`、`styles/main.css` 和 "
        "`js/main.js` 文件以查看相应的代码。",
        "stop",
        {"input_tokens": 3313, "output_tokens": 35, "total_tokens": 3348},
    ),
    Expected(
        "DOCS-SYNTHETIC_glm-4.7_stream_example_docs.z.ai.txt",
        "glm-4.7",
        "1",
        "Spring comes with",
        "stop",
        {
            "input_tokens": 8,
            "output_tokens": 262,
            "total_tokens": 270,
            "input_token_details": {"cache_read": 0},
        },
    ),
    Expected(
        "DOCS_glm-4-plus_stream_finish-length_old-open.bigmodel.cn-dev-api.txt",
        "glm-4-plus",
        "8313807536837492492",
        "土星，主要由",
        "length",
        {"input_tokens": 60, "output_tokens": 100, "total_tokens": 160},
    ),
]


def _stream_model(exp: Expected, **kwargs: Any) -> Any:
    recorder = Recorder(200, SSE, wire_sse(exp.sample))
    return model_for(recorder, model=exp.model, **kwargs)


def _check_message(msg: BaseMessage, exp: Expected) -> None:
    assert isinstance(msg, AIMessage)
    assert msg.content == exp.content
    assert msg.id == exp.id
    assert msg.additional_kwargs.get("reasoning_content") == exp.reasoning
    assert msg.usage_metadata == exp.usage
    assert msg.response_metadata["finish_reason"] == exp.finish_reason
    assert msg.response_metadata["model_name"] == exp.model
    assert msg.response_metadata["model_provider"] == "zhipuai"
    assert [tc["name"] for tc in msg.tool_calls] == exp.tool_names
    assert msg.invalid_tool_calls == []
    kinds = [b["type"] for b in msg.content_blocks]
    expected_kinds = (
        (["reasoning"] if exp.reasoning else [])
        + (["text"] if exp.content else [])
        + ["tool_call"] * len(exp.tool_names)
    )
    assert kinds == expected_kinds


def _check_chunks(chunks: list[AIMessageChunk], exp: Expected) -> None:
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    # Metadata that LangChain would concatenate or sum arrives exactly once, on the last chunk.
    assert [c.chunk_position for c in chunks].count("last") == 1
    assert chunks[-1].chunk_position == "last"
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    assert chunks[-1].usage_metadata == exp.usage
    assert sum(1 for c in chunks if "finish_reason" in c.response_metadata) == 1
    assert sum(1 for c in chunks if "model_name" in c.response_metadata) == 1
    assert all(c.response_metadata["model_provider"] == "zhipuai" for c in chunks)
    assert all(c.id == exp.id for c in chunks)
    streamed_reasoning = "".join(c.additional_kwargs.get("reasoning_content", "") for c in chunks)
    assert streamed_reasoning == (exp.reasoning or "")
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert full.content == exp.content
    assert full.additional_kwargs.get("reasoning_content") == exp.reasoning
    assert full.usage_metadata == exp.usage
    assert full.response_metadata["finish_reason"] == exp.finish_reason
    assert full.response_metadata["model_name"] == exp.model
    assert [tc["name"] for tc in full.tool_calls] == exp.tool_names


@pytest.mark.parametrize("exp", STREAMS, ids=lambda e: e.sample.split("_")[0] + e.model)
def test_stream(exp: Expected) -> None:
    _check_chunks(list(_stream_model(exp).stream("hi")), exp)


@pytest.mark.parametrize("exp", STREAMS, ids=lambda e: e.sample.split("_")[0] + e.model)
async def test_astream(exp: Expected) -> None:
    chunks = [c async for c in _stream_model(exp).astream("hi")]
    _check_chunks(chunks, exp)


@pytest.mark.parametrize("exp", STREAMS, ids=lambda e: e.sample.split("_")[0] + e.model)
def test_invoke_streaming(exp: Expected) -> None:
    _check_message(_stream_model(exp, streaming=True).invoke("hi"), exp)


@pytest.mark.parametrize("exp", STREAMS, ids=lambda e: e.sample.split("_")[0] + e.model)
async def test_ainvoke_streaming(exp: Expected) -> None:
    _check_message(await _stream_model(exp, streaming=True).ainvoke("hi"), exp)


def test_tool_call_stream_arguments_exact() -> None:
    exp = STREAMS[2]
    msg = _stream_model(exp, streaming=True).invoke("hi")
    (call,) = msg.tool_calls
    assert call["id"] == "call_2026051310410914b9cb9d9a1d4168_0"
    assert call["name"] == "write_file"
    assert set(call["args"]) == {"path", "content"}
    assert call["args"]["path"] == "styles/main.css"
    assert call["args"]["content"].startswith(CSS_HEAD)
    assert call["args"]["content"].endswith(CSS_TAIL)


def test_repeated_tool_finish_gives_one_call_and_one_finish_reason() -> None:
    """GLM repeats finish_reason "tool_calls" on the last two chunks."""
    chunks = list(_stream_model(STREAMS[2]).stream("hi"))
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert len(full.tool_calls) == 1
    assert len(full.tool_call_chunks) == 1
    assert full.tool_call_chunks[0]["index"] == 0
    assert full.response_metadata["finish_reason"] == "tool_calls"
    assert full.response_metadata["model_name"] == "glm-4-flash"


NONSTREAM = [
    (
        "glm-4-flash_nonstream_plain_curl_unidentified-repo.json",
        "202411301403051925a900b08f4e23",
        "你好👋！很高兴见到你，有什么可以帮助你的吗？",
        None,
        "stop",
        {"input_tokens": 6, "output_tokens": 16, "total_tokens": 22},
        [],
    ),
    (
        "glm-4-flash_nonstream_toolcall_swarm-swift.json",
        "2024102120110097adab97583348f1",
        "",
        None,
        "tool_calls",
        {"input_tokens": 207, "output_tokens": 20, "total_tokens": 227},
        [
            {
                "name": "get_current_weather",
                "args": {"location": "Boston, MA", "unit": "fahrenheit"},
                "id": "call_9131157062184528331",
                "type": "tool_call",
            }
        ],
    ),
    (
        "DOCS-SYNTHETIC_glm-4.7_nonstream_thinking_example_docs.z.ai.json",
        None,
        "Artificial intelligence has tremendous application prospects in medical diagnosis...",
        "Let me analyze this question from multiple angles. First, I need to consider the "
        "technical advantages of AI in medical diagnosis...",
        "stop",
        {
            "input_tokens": 8,
            "output_tokens": 239,
            "total_tokens": 247,
            "input_token_details": {"cache_read": 0},
        },
        [],
    ),
]


@pytest.mark.parametrize(
    ("sample", "msg_id", "content", "reasoning", "finish", "usage", "calls"),
    NONSTREAM,
    ids=["plain", "toolcall", "thinking"],
)
@pytest.mark.parametrize("use_async", [False, True], ids=["invoke", "ainvoke"])
async def test_nonstream_samples(
    sample: str,
    msg_id: str | None,
    content: str,
    reasoning: str | None,
    finish: str,
    usage: dict[str, Any],
    calls: list[dict[str, Any]],
    use_async: bool,
) -> None:
    recorder = Recorder(200, JSON, wire_body(sample))
    model = model_for(recorder)
    msg = await model.ainvoke("hi") if use_async else model.invoke("hi")
    assert recorder.body.get("stream") is None
    assert msg.content == content
    assert msg.additional_kwargs.get("reasoning_content") == reasoning
    assert msg.response_metadata["finish_reason"] == finish
    assert msg.usage_metadata == usage
    assert msg.tool_calls == calls
    if msg_id is not None:
        assert msg.id == msg_id
    assert json.loads(json.dumps(msg.additional_kwargs)) == msg.additional_kwargs


def test_streamed_and_generated_messages_agree() -> None:
    """invoke() through _stream and through _generate give the same message."""
    exp = STREAMS[1]
    streamed = _stream_model(exp, streaming=True).invoke("hi")
    completion = frames.completion(
        content=exp.content,
        reasoning=exp.reasoning,
        usage={
            "prompt_tokens": 6042,
            "completion_tokens": 39,
            "total_tokens": 6081,
            "prompt_tokens_details": {"cached_tokens": 43},
        },
        id=exp.id,
        created=1759304416,
        model=exp.model,
    )
    generated = model_for(Recorder(200, JSON, frames.compact(completion)), model=exp.model).invoke(
        "hi"
    )
    for attr in ("content", "additional_kwargs", "usage_metadata", "tool_calls", "id"):
        assert getattr(streamed, attr) == getattr(generated, attr), attr
    assert streamed.response_metadata == generated.response_metadata


def test_stream_chunks_are_json_plain() -> None:
    """additional_kwargs and response_metadata hold plain JSON values only."""
    for chunk in _stream_model(STREAMS[1]).stream("hi"):
        assert json.loads(json.dumps(chunk.additional_kwargs)) == chunk.additional_kwargs
        assert json.loads(json.dumps(chunk.response_metadata)) == chunk.response_metadata


def test_content_null_delta_is_accepted() -> None:
    body = (
        b'data: {"id":"x","model":"glm-4.7-flash","choices":[{"index":0,"delta":'
        b'{"role":"assistant","content":null,"reasoning_content":"r"}}]}\n\n'
        b'data: {"id":"x","model":"glm-4.7-flash","choices":[{"index":0,"finish_reason":"stop",'
        b'"delta":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":1,'
        b'"completion_tokens":2,"total_tokens":3}}\n\ndata: [DONE]\n\n'
    )
    msg = model_for(Recorder(200, SSE, body), streaming=True).invoke("hi")
    assert msg.content == "ok"
    assert msg.additional_kwargs["reasoning_content"] == "r"
