"""Each real GLM stream in tests/fixtures/wire through every ZhipuFlash entry point.

The expected values were written by reading the samples (see the comments), not by running
the adapter. ``chat()``/``complete()`` stream under the hood, so the same sample serves all
eight methods.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from tests.llama_index._support import Recorder, make_llm
from tests.wire import wire_body, wire_sse

# The CSS file the glm-4-flash agent wrote in loop 2, transcribed from the sample's escaped
# JSON (each \\n in the sample is a newline here).
_CSS = (
    ":root {\n    --primary-color: #1a1a2e;\n    --secondary-color: #1f2937;\n"
    "    --background-color: #f3f4f6;\n    --font-stack: 'Inter', sans-serif;\n"
    "    --font-stack-serif: 'DM Sans', serif;\n}\n\n* {\n    box-sizing: border-box;\n}\n\n"
    "body {\n    margin: 0;\n    font-family: var(--font-stack);\n"
    "    background-color: var(--background-color);\n}\n\n.container {\n"
    "    max-width: 1200px;\n    margin: 0 auto;\n    padding: 64px;\n}\n\nh1 {\n"
    "    color: var(--primary-color);\n    font-weight: 600;\n    letter-spacing: 0.02em;\n}\n\n"
    ".form-group {\n    margin-bottom: 24px;\n}\n\nlabel {\n    display: block;\n"
    "    margin-bottom: 8px;\n    color: var(--secondary-color);\n    font-size: 14px;\n}\n\n"
    "input {\n    width: 100%;\n    padding: 12px;\n    border: 1px solid #d1d5db;\n"
    "    border-radius: 6px;\n    font-size: 16px;\n}\n\nbutton {\n    width: 100%;\n"
    "    padding: 16px;\n    border: none;\n    border-radius: 6px;\n"
    "    background-color: var(--primary-color);\n    color: white;\n    cursor: pointer;\n"
    "    transition: all 0.2s ease;\n}\n\nbutton:hover {\n"
    "    background-color: var(--primary-color) + 15%;\n}\n\nbutton:focus {\n"
    "    outline: none;\n    box-shadow: 0 0 0 2px var(--primary-color);\n}\n\n"
    "@media (prefers-reduced-motion: reduce) {\n    button {\n        transition: none;\n"
    "    }\n}\n"
)


@dataclass(frozen=True)
class Expected:
    sample: str
    chunks: int  # data events before [DONE]
    content: str
    reasoning: str | None
    tool_calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str = "stop"
    model: str = ""


SAMPLES = [
    # 8 content deltas (the \\u escapes read 人工智能, 助手, 你可以, 叫我), then stop + usage.
    Expected(
        "glm-4_stream_plain_usage_langchain-openai-tests.jsonl",
        chunks=9,
        content="人工智能助手，你可以叫我AI助手。",
        reasoning=None,
        usage={"prompt_tokens": 13, "completion_tokens": 10, "total_tokens": 23},
        model="glm-4",
    ),
    # A leading "\n" content chunk, 32 reasoning deltas, then "\n", "Hi", "!", then stop.
    Expected(
        "glm-4.5_stream_reasoning_usage_cached_nuvin_REPAIRED.sse",
        chunks=37,
        content="\n\nHi!",
        reasoning=(
            'The user just said "hi", which is a simple greeting. I should respond with a '
            "brief greeting back, following the instructions to keep responses concise and "
            "direct."
        ),
        usage={
            "prompt_tokens": 6042,
            "completion_tokens": 39,
            "total_tokens": 6081,
            "cached_tokens": 43,
        },
        model="glm-4.5",
    ),
    # One whole write_file call on a chunk with finish tool_calls, then the repeated finish
    # with content "" and usage.
    Expected(
        "glm-4-flash_stream_loop2_toolcall_only_mini-claude-design.sse",
        chunks=2,
        content="",
        reasoning=None,
        tool_calls=[
            (
                "call_2026051310410914b9cb9d9a1d4168_0",
                "write_file",
                {"path": "styles/main.css", "content": _CSS},
            )
        ],
        usage={"prompt_tokens": 2692, "completion_tokens": 465, "total_tokens": 3157},
        finish_reason="tool_calls",
        model="glm-4-flash",
    ),
    # 27 content deltas, then stop + usage.
    Expected(
        "glm-4-flash_stream_loop4_content_stop_mini-claude-design.sse",
        chunks=28,
        content=(
            "登录页面已成功生成。您可以在项目中查看 `index.html`、`styles/main.css` 和 "
            "`js/main.js` 文件以查看相应的代码。"
        ),
        reasoning=None,
        usage={"prompt_tokens": 3313, "completion_tokens": 35, "total_tokens": 3348},
        model="glm-4-flash",
    ),
]
IDS = [s.sample.split("_")[0] + "-" + s.sample.split("_")[2] for s in SAMPLES]
MESSAGES = [ChatMessage(role="user", content="hi")]


def _llm(sample: Expected) -> Any:
    return make_llm(Recorder(wire_sse(sample.sample)))


def _listed(exp: Expected) -> list[dict[str, Any]]:
    """The calls in the OpenAI shape of additional_kwargs["tool_calls"]."""
    return [
        {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)},
        }
        for call_id, name, args in exp.tool_calls
    ]


def _check_final(response: ChatResponse, exp: Expected) -> None:
    message = response.message
    assert message.role == "assistant"
    assert message.content == exp.content
    thinking = [b for b in message.blocks if isinstance(b, ThinkingBlock)]
    texts = [b for b in message.blocks if isinstance(b, TextBlock)]
    calls = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
    assert [t.text for t in texts] == [exp.content]
    if exp.reasoning is None:
        assert thinking == []
        assert "reasoning_content" not in message.additional_kwargs
    else:
        assert [t.content for t in thinking] == [exp.reasoning]
        assert message.additional_kwargs["reasoning_content"] == exp.reasoning
        assert exp.reasoning not in (message.content or "")
    assert [(c.tool_call_id, c.tool_name, c.tool_kwargs) for c in calls] == exp.tool_calls
    if exp.tool_calls:
        assert message.additional_kwargs["tool_calls"] == _listed(exp)
    else:
        assert "tool_calls" not in message.additional_kwargs
    expected_kwargs = {**exp.usage, "finish_reason": exp.finish_reason, "model": exp.model}
    assert response.additional_kwargs == expected_kwargs


def _check_stream(responses: list[ChatResponse], exp: Expected) -> None:
    assert len(responses) == exp.chunks  # one response per chunk, none skipped
    assert "".join(r.delta or "" for r in responses) == exp.content
    thinking = "".join(r.additional_kwargs.get("thinking_delta", "") for r in responses)
    assert thinking == (exp.reasoning or "")
    for r in responses:
        assert isinstance(r.raw, dict)
        assert r.raw["model"] == exp.model
        # Reasoning never leaks into the answer text.
        if exp.reasoning:
            assert "greeting" not in (r.delta or "")
            assert "greeting" not in (r.message.content or "")
    # Cumulative: each message holds everything so far.
    so_far = ""
    for r in responses:
        so_far += r.delta or ""
        assert r.message.content == so_far
    # Usage arrives once, on the final chunk; the finish reason is never doubled.
    assert all("total_tokens" not in r.additional_kwargs for r in responses[:-1])
    assert all(
        r.additional_kwargs.get("finish_reason") in (None, exp.finish_reason) for r in responses
    )
    _check_final(responses[-1], exp)


@pytest.mark.parametrize("exp", SAMPLES, ids=IDS)
def test_stream_chat(exp: Expected) -> None:
    _check_stream(list(_llm(exp).stream_chat(MESSAGES)), exp)


@pytest.mark.parametrize("exp", SAMPLES, ids=IDS)
async def test_astream_chat(exp: Expected) -> None:
    gen = await _llm(exp).astream_chat(MESSAGES)
    _check_stream([r async for r in gen], exp)


@pytest.mark.parametrize("exp", SAMPLES, ids=IDS)
def test_chat(exp: Expected) -> None:
    response = _llm(exp).chat(MESSAGES)
    _check_final(response, exp)
    assert response.delta is None
    assert response.raw["choices"][0]["finish_reason"] == exp.finish_reason


@pytest.mark.parametrize("exp", SAMPLES, ids=IDS)
async def test_achat(exp: Expected) -> None:
    _check_final(await _llm(exp).achat(MESSAGES), exp)


def _check_completion(text: str, kwargs: dict[str, Any], exp: Expected) -> None:
    assert text == exp.content
    expected = {**exp.usage, "finish_reason": exp.finish_reason, "model": exp.model}
    if exp.reasoning is not None:
        expected["reasoning_content"] = exp.reasoning
    if exp.tool_calls:
        expected["tool_calls"] = _listed(exp)
    assert kwargs == expected


@pytest.mark.parametrize("exp", SAMPLES, ids=IDS)
def test_complete(exp: Expected) -> None:
    response = _llm(exp).complete("hi")
    _check_completion(response.text, response.additional_kwargs, exp)


@pytest.mark.parametrize("exp", SAMPLES, ids=IDS)
async def test_acomplete(exp: Expected) -> None:
    response = await _llm(exp).acomplete("hi")
    _check_completion(response.text, response.additional_kwargs, exp)


@pytest.mark.parametrize("exp", SAMPLES, ids=IDS)
def test_stream_complete(exp: Expected) -> None:
    responses = list(_llm(exp).stream_complete("hi"))
    assert len(responses) == exp.chunks
    assert "".join(r.delta or "" for r in responses) == exp.content
    last = responses[-1]
    kwargs = {k: v for k, v in last.additional_kwargs.items() if k != "thinking_delta"}
    _check_completion(last.text, kwargs, exp)


@pytest.mark.parametrize("exp", SAMPLES, ids=IDS)
async def test_astream_complete(exp: Expected) -> None:
    gen = await _llm(exp).astream_complete("hi")
    responses = [r async for r in gen]
    assert len(responses) == exp.chunks
    assert "".join(r.delta or "" for r in responses) == exp.content
    _check_completion(responses[-1].text, responses[-1].additional_kwargs, exp)


def test_request_body_for_a_plain_chat() -> None:
    recorder = Recorder(wire_sse(SAMPLES[0].sample))
    make_llm(recorder).chat(MESSAGES)
    assert recorder.bodies == [
        {"model": "glm-4.7-flash", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    ]


@pytest.mark.parametrize(
    ("sample", "content", "calls", "usage", "finish"),
    [
        # A non-stream body (answered to a stream request) goes through chat() as well.
        (
            "glm-4-flash_nonstream_plain_curl_unidentified-repo.json",
            "你好👋！很高兴见到你，有什么可以帮助你的吗？",
            [],
            {"prompt_tokens": 6, "completion_tokens": 16, "total_tokens": 22},
            "stop",
        ),
        (
            "glm-4-flash_nonstream_toolcall_swarm-swift.json",
            "",
            [
                (
                    "call_9131157062184528331",
                    "get_current_weather",
                    {"location": "Boston, MA", "unit": "fahrenheit"},
                )
            ],
            {"prompt_tokens": 207, "completion_tokens": 20, "total_tokens": 227},
            "tool_calls",
        ),
    ],
)
def test_json_body_samples_through_chat(
    sample: str, content: str, calls: list[Any], usage: dict[str, int], finish: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json"}
        return httpx.Response(200, headers=headers, content=wire_body(sample))

    response = make_llm(handler).chat(MESSAGES)
    assert response.message.content == content
    blocks = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
    assert [(b.tool_call_id, b.tool_name, b.tool_kwargs) for b in blocks] == calls
    assert response.additional_kwargs == {**usage, "finish_reason": finish, "model": "glm-4-flash"}


@pytest.mark.parametrize("exp", SAMPLES, ids=IDS)
def test_chat_returns_the_last_streamed_message(exp: Expected) -> None:
    # One accumulator: chat() is built from the core's final completion, stream_chat() from
    # the chunks; a consumer sees the same message either way.
    last = list(_llm(exp).stream_chat(MESSAGES))[-1]
    whole = _llm(exp).chat(MESSAGES)
    assert whole.message.model_dump() == last.message.model_dump()
    streamed = {k: v for k, v in last.additional_kwargs.items() if k != "thinking_delta"}
    assert whole.additional_kwargs == streamed


@pytest.mark.parametrize("exp", [s for s in SAMPLES if s.reasoning], ids=lambda s: s.model)
async def test_reasoning_in_blocks_only(exp: Expected) -> None:
    llm = make_llm(Recorder(wire_sse(exp.sample)), reasoning_in_additional_kwargs=False)
    for response in [llm.chat(MESSAGES), list(llm.stream_chat(MESSAGES))[-1]]:
        message = response.message
        assert "reasoning_content" not in message.additional_kwargs
        assert [b.content for b in message.blocks if isinstance(b, ThinkingBlock)] == [
            exp.reasoning
        ]
    gen = await llm.astream_chat(MESSAGES)
    streamed = [r async for r in gen]
    assert "".join(r.additional_kwargs.get("thinking_delta", "") for r in streamed) == (
        exp.reasoning
    )
    assert all("reasoning_content" not in r.message.additional_kwargs for r in streamed)
