"""ChatZhipuFlash behaviour: request bodies, tools, v1 blocks, errors, closing, secrets."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import (
    ContextOverflowError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelInvalidRequestError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
)
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from pydantic import BaseModel, Field

import zhipu_flash as zf
from glm_emulator import frames
from langchain_zhipu_flash import ChatZhipuFlash
from tests.langchain._helpers import (
    JSON,
    SECRET,
    SSE,
    Recorder,
    TrackedStream,
    model_for,
    sse_events,
)
from tests.wire import wire_body

PNG = (Path(__file__).parents[1] / "fixtures" / "picture.png").read_bytes()
PNG_B64 = base64.b64encode(PNG).decode()

OK_BODY = frames.compact(
    frames.completion(
        content="ok", usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    )
)


def ok_model(**kwargs: Any) -> tuple[ChatZhipuFlash, Recorder]:
    recorder = Recorder(200, JSON, OK_BODY)
    return model_for(recorder, **kwargs), recorder


def _chunk(delta: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A GLM chunk (glm_emulator.frames) with ``delta``'s content, reasoning and tool calls."""
    return frames.chunk(
        content=delta.get("content"),
        reasoning=delta.get("reasoning_content"),
        tool_calls=delta.get("tool_calls"),
        finish=extra.pop("finish_reason", None),
        usage=extra.pop("usage", None),
        id="t1",
        object=None,
        **extra,
    )


USAGE = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}

# Two calls in one turn, index -1 (seen on glm-4.5-flash), text between reasoning and calls,
# and the finish chunk repeated with usage: the shapes GLM really sends.
TWO_CALLS = sse_events(
    _chunk({"reasoning_content": "Need both tools."}),
    _chunk({"content": "\n"}),
    _chunk(
        {
            "tool_calls": [
                {
                    "id": "call_a",
                    "index": -1,
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
                },
            ]
        }
    ),
    _chunk(
        {
            "tool_calls": [
                {
                    "id": "call_b",
                    "index": -1,
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "杭州"}'},
                }
            ]
        },
        finish_reason="tool_calls",
    ),
    _chunk({"content": ""}, finish_reason="tool_calls", usage=USAGE),
)

# tool_stream=True: the documented fragment shape (id and name first, then argument pieces).
FRAGMENTS = sse_events(
    _chunk({"reasoning_content": "Think."}),
    _chunk(
        {
            "tool_calls": [
                {"id": "call_x", "index": 0, "type": "function", "function": {"name": "add"}}
            ]
        }
    ),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a": '}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": "2, "}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"b": 5}'}}]}),
    _chunk(
        {
            "tool_calls": [
                {
                    "id": "call_y",
                    "index": 1,
                    "type": "function",
                    "function": {"name": "noargs", "arguments": ""},
                }
            ]
        }
    ),
    _chunk({"content": ""}, finish_reason="tool_calls", usage=USAGE),
)


def _aggregate(chunks: list[AIMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    return full


# -- construction, identity, secrets --------------------------------------------------------


def test_constructs_without_key_and_fails_at_first_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    recorder = Recorder(200, JSON, OK_BODY)
    model = ChatZhipuFlash(http_client=httpx.Client(transport=httpx.MockTransport(recorder)))
    assert model.api_key is None
    with pytest.raises(ModelAuthenticationError) as info:
        model.invoke("hi")
    assert isinstance(info.value, zf.MissingAPIKeyError)
    assert recorder.bodies == []


def test_key_from_zai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    monkeypatch.setenv("ZAI_API_KEY", "zai-key")
    model = ChatZhipuFlash()
    assert model.api_key is not None
    assert model.api_key.get_secret_value() == "zai-key"


def test_fields_and_aliases() -> None:
    model = ChatZhipuFlash(
        model="glm-4.6v-flash",
        temperature=0.3,
        top_p=0.7,
        max_tokens=99,
        stop=["END"],
        thinking=False,
        clear_thinking=False,
        tool_stream=True,
        timeout=12,
        max_retries=1,
        streaming=True,
        model_kwargs={"user_id": "user-123"},
        extra_body={"x": 1},
    )
    assert model.model_name == "glm-4.6v-flash"
    assert ChatZhipuFlash(model_name="glm-4-flash-250414").model_name == "glm-4-flash-250414"
    assert ChatZhipuFlash().model_name == "glm-4.7-flash"
    assert (model.temperature, model.top_p, model.max_tokens) == (0.3, 0.7, 99)
    assert model.stop == ["END"]
    assert model.max_retries == 1
    assert model.timeout == 12


def test_secret_never_shown() -> None:
    model, _ = ok_model()
    for text in (repr(model), str(model), model.model_dump_json(), repr(model.api_key)):
        assert SECRET not in text


def test_secret_not_in_error_messages() -> None:
    body = b'{"error":{"code":"1002","message":"Authorization Token is invalid"}}'
    model = model_for(Recorder(401, JSON, body))
    with pytest.raises(ModelAuthenticationError) as info:
        model.invoke("hi")
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value)


def test_ls_params_and_identity() -> None:
    model = ChatZhipuFlash(model="glm-4.7-flash", temperature=0.5, max_tokens=10, stop=["x"])
    params = model._get_ls_params()
    assert params == {
        "ls_provider": "zhipuai",
        "ls_model_name": "glm-4.7-flash",
        "ls_model_type": "chat",
        "ls_temperature": 0.5,
        "ls_max_tokens": 10,
        "ls_stop": ["x"],
    }
    assert model._get_ls_params(model="glm-4.6v-flash")["ls_model_name"] == "glm-4.6v-flash"
    assert model.lc_secrets == {"api_key": "ZHIPUAI_API_KEY"}
    assert model._llm_type == "zhipu-flash-chat"
    assert model._identifying_params["model_name"] == "glm-4.7-flash"


def test_profile_from_catalog() -> None:
    text = ChatZhipuFlash(model="glm-4.7-flash").profile
    assert text is not None
    assert text["max_input_tokens"] == 200_000
    assert text["max_output_tokens"] == 128_000
    assert text["reasoning_output"] is True
    assert text["tool_calling"] is True
    assert text["image_inputs"] is False
    assert text["tool_choice"] is False
    vision = ChatZhipuFlash(model="glm-4.6v-flash").profile
    assert vision is not None
    assert vision["image_inputs"] is True
    assert vision["video_inputs"] is True
    assert ChatZhipuFlash(model="glm-99-unknown").profile is None


def test_import_without_langchain_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['langchain_core'] = None\n"
        "try:\n    import langchain_zhipu_flash\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert 'pip install "zhipu-flash[langchain]"' in out


# -- request bodies -------------------------------------------------------------------------


def test_default_body_is_minimal() -> None:
    model, recorder = ok_model(temperature=0, max_tokens=100, stop=[])
    model.invoke("hi")
    assert recorder.body == {
        "model": "glm-4.7-flash",
        "messages": [{"role": "user", "content": "hi"}],
        "do_sample": False,
        "max_tokens": 100,
    }


@pytest.mark.parametrize(
    ("kwargs", "thinking"),
    [
        ({}, None),
        ({"thinking": True}, {"type": "enabled"}),
        ({"thinking": False}, {"type": "disabled"}),
        ({"thinking": {"type": "enabled"}, "clear_thinking": False}, None),
    ],
)
def test_thinking_param(kwargs: dict[str, Any], thinking: dict[str, Any] | None) -> None:
    model, recorder = ok_model(**kwargs)
    model.invoke("hi")
    if "clear_thinking" in kwargs:
        assert recorder.body["thinking"] == {"type": "enabled", "clear_thinking": False}
    else:
        assert recorder.body.get("thinking") == thinking


HISTORY = [
    HumanMessage("What is 2+2?"),
    AIMessage("4", additional_kwargs={"reasoning_content": "Two plus two is four."}),
    HumanMessage("And 3+3?"),
]


def test_preserved_thinking_only_with_clear_thinking_false() -> None:
    model, recorder = ok_model(clear_thinking=False)
    model.invoke(HISTORY)
    assistant = recorder.body["messages"][1]
    assert assistant == {
        "role": "assistant",
        "content": "4",
        "reasoning_content": "Two plus two is four.",
    }
    assert recorder.body["thinking"] == {"type": "enabled", "clear_thinking": False}

    model, recorder = ok_model()
    model.invoke(HISTORY)
    assert recorder.body["messages"][1] == {"role": "assistant", "content": "4"}
    assert "thinking" not in recorder.body


def test_preserved_thinking_from_v1_reasoning_blocks() -> None:
    v1_ai = AIMessage(
        content=[
            {"type": "reasoning", "reasoning": "Carry the one.", "index": 0},
            {"type": "text", "text": "4", "index": 1},
        ],
        response_metadata={"output_version": "v1"},
    )
    model, recorder = ok_model(clear_thinking=False)
    model.invoke([HISTORY[0], v1_ai, HISTORY[2]])
    assert recorder.body["messages"][1] == {
        "role": "assistant",
        "content": "4",
        "reasoning_content": "Carry the one.",
    }


def test_model_override_per_call_and_extra_params() -> None:
    model, recorder = ok_model(model_kwargs={"user_id": "user-123"}, extra_body={"meta": 1})
    model.invoke("hi", model="glm-4-flash-250414", top_p=0.5)
    assert recorder.body["model"] == "glm-4-flash-250414"
    assert recorder.body["user_id"] == "user-123"
    assert recorder.body["meta"] == 1
    assert recorder.body["top_p"] == 0.5


def test_stop_per_call_overrides_field() -> None:
    model, recorder = ok_model(stop=["A"])
    model.invoke("hi", stop=["B"])
    assert recorder.body["stop"] == ["B"]


def test_history_roles_names_and_tool_results() -> None:
    model, recorder = ok_model()
    model.invoke(
        [
            SystemMessage("Be brief."),
            HumanMessage("Add 2 and 3", name="alice"),
            AIMessage(
                content=[
                    {"type": "text", "text": "Calling."},
                    {"type": "tool_use", "id": "call_1", "name": "add", "input": {"a": 2}},
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                ],
                tool_calls=[{"name": "add", "args": {"a": 2, "b": 3}, "id": "call_1"}],
            ),
            ToolMessage("5", tool_call_id="call_1"),
            AIMessage("", tool_calls=[{"name": "w", "args": {"city": "杭州"}, "id": "c2"}]),
            ToolMessage([{"type": "text", "text": "sunny"}], tool_call_id="c2"),
        ]
    )
    assert recorder.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Add 2 and 3"},
        {
            "role": "assistant",
            "content": "Calling.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
                }
            ],
        },
        {"role": "tool", "content": "5", "tool_call_id": "call_1"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "w", "arguments": '{"city": "杭州"}'},
                }
            ],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "c2"},
    ]


# -- tools ----------------------------------------------------------------------------------


class GetWeather(BaseModel):
    """Get the weather in a city."""

    city: str = Field(description="The city")


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def test_bind_tools_all_kinds() -> None:
    model, recorder = ok_model()
    raw = {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look up",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    model.bind_tools([GetWeather, add, multiply, raw], tool_choice="auto").invoke("hi")
    names = [t["function"]["name"] for t in recorder.body["tools"]]
    assert names == ["GetWeather", "add", "multiply", "lookup"]
    assert recorder.body["tool_choice"] == "auto"
    assert recorder.body["tools"][0]["function"]["parameters"]["required"] == ["city"]


@pytest.mark.parametrize("choice", ["any", "required", "GetWeather", True])
def test_forced_tool_choice_downgraded_with_warning(
    choice: Any, caplog: pytest.LogCaptureFixture
) -> None:
    model, recorder = ok_model()
    bound = model.bind_tools([GetWeather], tool_choice=choice)
    with caplog.at_level(logging.WARNING):
        bound.invoke("hi")
        bound.invoke("hi")
    assert recorder.body["tool_choice"] == "auto"
    # Said once, by the core, when the request is built.
    assert caplog.text.count("tool_choice='auto' only") == 1


def test_tool_choice_none_leaves_tools_out() -> None:
    model, recorder = ok_model()
    model.bind_tools([GetWeather], tool_choice="none").invoke("hi")
    assert "tools" not in recorder.body
    assert "tool_choice" not in recorder.body


def test_parallel_tool_calls_and_strict_are_not_sent() -> None:
    model, recorder = ok_model()
    model.bind_tools([GetWeather], strict=True, parallel_tool_calls=False).invoke("hi")
    assert "parallel_tool_calls" not in recorder.body
    assert "strict" not in json.dumps(recorder.body)


@pytest.mark.parametrize("v1", [False, True], ids=["v0", "v1"])
def test_two_tool_calls_one_turn(v1: bool) -> None:
    kwargs = {"output_version": "v1"} if v1 else {}
    model = model_for(Recorder(200, SSE, TWO_CALLS), **kwargs)
    chunks = list(model.stream("hi"))
    indexes = [tc["index"] for c in chunks for tc in c.tool_call_chunks]
    assert indexes == [0, 1]
    full = _aggregate(chunks)
    assert full.tool_calls == [
        {"name": "add", "args": {"a": 2, "b": 3}, "id": "call_a", "type": "tool_call"},
        {"name": "weather", "args": {"city": "杭州"}, "id": "call_b", "type": "tool_call"},
    ]
    assert full.response_metadata["finish_reason"] == "tool_calls"
    assert full.usage_metadata == {"input_tokens": 50, "output_tokens": 20, "total_tokens": 70}
    assert full.additional_kwargs["reasoning_content"] == "Need both tools."
    kinds = [b["type"] for b in full.content_blocks]
    assert kinds == ["reasoning", "text", "tool_call", "tool_call"]
    if v1:
        # One stable index per logical block while streaming; core swaps the finished
        # tool_call_chunk blocks for tool_call blocks on the aggregate.
        streamed = [b for c in chunks for b in c.content if isinstance(b, dict)]
        assert {(b["type"], b["index"]) for b in streamed} == {
            ("reasoning", 0),
            ("text", 1),
            ("tool_call_chunk", 2),
            ("tool_call_chunk", 3),
        }
        assert full.content[2]["args"] == {"a": 2, "b": 3}  # type: ignore[index]


@pytest.mark.parametrize("v1", [False, True], ids=["v0", "v1"])
def test_tool_stream_fragments_merge(v1: bool) -> None:
    kwargs = {"output_version": "v1"} if v1 else {}
    recorder = Recorder(200, SSE, FRAGMENTS)
    model = model_for(recorder, tool_stream=True, **kwargs)
    chunks = list(model.bind_tools([add]).stream("hi"))
    assert recorder.body["tool_stream"] is True
    full = _aggregate(chunks)
    assert full.tool_calls == [
        {"name": "add", "args": {"a": 2, "b": 5}, "id": "call_x", "type": "tool_call"},
        {"name": "noargs", "args": {}, "id": "call_y", "type": "tool_call"},
    ]
    kinds = [b["type"] for b in full.content_blocks]
    assert kinds == ["reasoning", "tool_call", "tool_call"]


def test_tool_calls_via_invoke_match_stream() -> None:
    model = model_for(Recorder(200, SSE, TWO_CALLS), streaming=True)
    msg = model.invoke("hi")
    assert [tc["id"] for tc in msg.tool_calls] == ["call_a", "call_b"]
    assert msg.response_metadata["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("arguments", "args"),
    [
        (None, {}),
        ("", {}),
        ({"city": "杭州", "days": 2}, {"city": "杭州", "days": 2}),
        ('{"city": "杭州"}', {"city": "杭州"}),
    ],
    ids=["null", "empty", "object", "string"],
)
def test_non_streamed_tool_call_arguments_null_or_object(arguments: Any, args: Any) -> None:
    # GLM's OpenAPI types arguments as an object, and a call without arguments may come as
    # null; the stream path accepted both, invoke() raised a raw pydantic ValidationError.
    call = {"id": "call_1", "index": 0, "type": "function"}
    call["function"] = {"name": "weather", "arguments": arguments}
    body = frames.completion(
        tool_calls=[call],
        finish="tool_calls",
        usage={"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
        id="resp-args",
    )
    model = model_for(Recorder(200, JSON, frames.compact(body)))
    message = model.invoke("What is the weather in Hangzhou?")
    assert message.tool_calls == [
        {"name": "weather", "args": args, "id": "call_1", "type": "tool_call"}
    ]
    assert message.invalid_tool_calls == []


# -- output_version="v1" --------------------------------------------------------------------


def test_v1_reasoning_text_blocks_stable_indexes() -> None:
    body = sse_events(
        _chunk({"content": "\n"}),
        _chunk({"reasoning_content": "Think"}),
        _chunk({"reasoning_content": "ing."}),
        _chunk({"content": "Hel"}),
        _chunk({"content": "lo"}),
        _chunk({"content": ""}, finish_reason="stop", usage=USAGE),
    )
    model = model_for(Recorder(200, SSE, body), output_version="v1")
    chunks = list(model.stream("hi"))
    full = _aggregate(chunks)
    assert full.content == [
        {"type": "reasoning", "reasoning": "Thinking.", "index": 0},
        {"type": "text", "text": "\nHello", "index": 1},
    ]
    assert full.response_metadata["output_version"] == "v1"
    assert full.additional_kwargs["reasoning_content"] == "Thinking."
    msg = model_for(Recorder(200, SSE, body), output_version="v1", streaming=True).invoke("hi")
    assert [b["type"] for b in msg.content_blocks] == ["reasoning", "text"]


def test_v1_generate_path() -> None:
    body = frames.compact(
        frames.completion(
            content="Hi",
            reasoning="Greet.",
            usage={
                "prompt_tokens": 3,
                "completion_tokens": 5,
                "total_tokens": 8,
                "completion_tokens_details": {"reasoning_tokens": 2},
            },
            id="g1",
        )
    )
    msg = model_for(Recorder(200, JSON, body), output_version="v1").invoke("hi")
    assert [b["type"] for b in msg.content_blocks] == ["reasoning", "text"]
    assert msg.usage_metadata == {
        "input_tokens": 3,
        "output_tokens": 5,
        "total_tokens": 8,
        "output_token_details": {"reasoning": 2},
    }


def test_astream_events_v2_emit_reasoning() -> None:
    body = sse_events(
        _chunk({"reasoning_content": "Because."}),
        _chunk({"content": "Yes"}),
        _chunk({"content": ""}, finish_reason="stop", usage=USAGE),
    )
    model = model_for(Recorder(200, SSE, body))

    async def collect() -> list[Any]:
        return [e async for e in model.astream_events("hi", version="v2")]

    import asyncio

    events = asyncio.run(collect())
    streamed = [e["data"]["chunk"] for e in events if e["event"] == "on_chat_model_stream"]
    assert "".join(c.additional_kwargs.get("reasoning_content", "") for c in streamed) == (
        "Because."
    )
    end = next(e for e in events if e["event"] == "on_chat_model_end")
    assert [b["type"] for b in end["data"]["output"].content_blocks] == ["reasoning", "text"]


def test_stream_events_v3_emit_reasoning() -> None:
    body = sse_events(
        _chunk({"reasoning_content": "Because."}),
        _chunk({"content": "Yes"}),
        _chunk({"content": ""}, finish_reason="stop", usage=USAGE),
    )
    model = model_for(Recorder(200, SSE, body))
    stream = model.stream_events("hi", version="v3")
    events = list(stream)
    starts = [e["content"]["type"] for e in events if e["event"] == "content-block-start"]
    assert starts == ["reasoning", "text"]
    output = stream.output
    assert [b["type"] for b in output.content_blocks] == ["reasoning", "text"]
    assert output.usage_metadata is not None
    assert output.usage_metadata["total_tokens"] == 70


# -- structured output ----------------------------------------------------------------------


class Joke(BaseModel):
    """A joke."""

    setup: str = Field(description="The setup")
    punchline: str = Field(description="The punchline")


JOKE_BODY = frames.compact(
    frames.completion(content='{"setup": "Why?", "punchline": "Because."}', usage=USAGE, id="j1")
)


@pytest.mark.parametrize("method", ["json_mode", "json_schema"])
def test_structured_output_json_mode_puts_schema_in_system(method: str) -> None:
    recorder = Recorder(200, JSON, JOKE_BODY)
    model = model_for(recorder)
    result = model.with_structured_output(Joke, method=method).invoke(  # type: ignore[arg-type]
        [SystemMessage("You are funny."), HumanMessage("Tell me a joke about cats.")]
    )
    assert result == Joke(setup="Why?", punchline="Because.")
    assert recorder.body["response_format"] == {"type": "json_object"}
    system = recorder.body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("You are funny.\n\n")
    assert '"punchline"' in system["content"]
    assert '"setup"' in system["content"]
    assert len(recorder.body["messages"]) == 2


def test_structured_output_default_include_raw_and_dict_schema() -> None:
    recorder = Recorder(200, JSON, JOKE_BODY)
    schema = Joke.model_json_schema()
    out = model_for(recorder).with_structured_output(schema, include_raw=True).invoke("joke")
    assert isinstance(out, dict)
    assert out["parsed"] == {"setup": "Why?", "punchline": "Because."}
    assert out["parsing_error"] is None
    assert isinstance(out["raw"], AIMessage)
    assert recorder.body["messages"][0]["role"] == "system"


def test_structured_output_parse_error_with_include_raw() -> None:
    body = OK_BODY  # "ok" is not JSON
    out = (
        model_for(Recorder(200, JSON, body))
        .with_structured_output(Joke, include_raw=True)
        .invoke("joke")
    )
    assert isinstance(out, dict)
    assert out["parsed"] is None
    assert out["parsing_error"] is not None


def test_structured_output_function_calling() -> None:
    call = {
        "id": "c1",
        "type": "function",
        "function": {"name": "Joke", "arguments": '{"setup": "A", "punchline": "B"}'},
    }
    body = frames.compact(frames.completion(tool_calls=[call], finish="tool_calls", id="f1"))
    recorder = Recorder(200, JSON, body)
    structured = model_for(recorder).with_structured_output(
        Joke, method="function_calling", strict=True
    )
    assert structured.invoke("joke") == Joke(setup="A", punchline="B")
    assert recorder.body["tool_choice"] == "auto"
    assert "response_format" not in recorder.body


def test_structured_output_reports_format_once() -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Capture(BaseCallbackHandler):
        def __init__(self) -> None:
            self.options: list[dict[str, Any]] = []

        def on_chat_model_start(self, *args: Any, **kwargs: Any) -> None:
            self.options.append(kwargs.get("options") or {})

    handler = Capture()
    model = model_for(Recorder(200, JSON, JOKE_BODY))
    model.with_structured_output(Joke).invoke("joke", config={"callbacks": [handler]})
    formats = [o["ls_structured_output_format"] for o in handler.options if o]
    assert len(formats) == 1
    assert formats[0]["schema"]["title"] == "Joke"
    assert formats[0]["kwargs"]["method"] == "json_mode"


# -- images and media -----------------------------------------------------------------------


def _vision_body(content: list[Any]) -> list[Any]:
    model, recorder = ok_model(model="glm-4.6v-flash")
    model.invoke([HumanMessage(content=content)])
    parts: list[Any] = recorder.body["messages"][0]["content"]
    return parts


@pytest.mark.parametrize(
    ("block", "url"),
    [
        (
            {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
            "https://x.test/a.png",
        ),
        (
            {
                "type": "image_url",
                "image_url": {"url": f"data:image/png;base64,{PNG_B64}", "detail": "low"},
            },
            PNG_B64,
        ),
        ({"type": "image", "url": "https://x.test/b.png"}, "https://x.test/b.png"),
        ({"type": "image", "base64": PNG_B64, "mime_type": "image/png"}, PNG_B64),
        (
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
            },
            PNG_B64,
        ),
        (
            {"type": "image", "source": {"type": "url", "url": "https://x.test/c.png"}},
            "https://x.test/c.png",
        ),
        (
            {"type": "image", "source_type": "url", "url": "https://x.test/d.png"},
            "https://x.test/d.png",
        ),
    ],
    ids=[
        "openai-url",
        "openai-data-url",
        "v1-url",
        "v1-base64",
        "anthropic-b64",
        "anthropic-url",
        "v0-url",
    ],
)
def test_image_forms_reach_the_wire(block: dict[str, Any], url: str) -> None:
    parts = _vision_body(
        [{"type": "text", "text": "What?", "cache_control": {"type": "ephemeral"}}, block]
    )
    assert parts == [
        {"type": "text", "text": "What?"},
        {"type": "image_url", "image_url": {"url": url}},
    ]


def test_video_block_and_part() -> None:
    parts = _vision_body(
        [
            {"type": "video", "url": "https://x.test/v.mp4"},
            {"type": "video_url", "video_url": {"url": "https://x.test/w.mp4"}},
        ]
    )
    assert parts == [
        {"type": "video_url", "video_url": {"url": "https://x.test/v.mp4"}},
        {"type": "video_url", "video_url": {"url": "https://x.test/w.mp4"}},
    ]


@pytest.mark.parametrize(
    "block",
    [
        {"type": "image", "file_id": "file-123"},
        {"type": "audio", "base64": "AAAA", "mime_type": "audio/wav"},
        {"type": "video", "base64": "AAAA", "mime_type": "video/mp4"},
        {"type": "file", "base64": "AAAA", "mime_type": "application/pdf"},
    ],
    ids=["file-id", "audio", "base64-video", "base64-pdf"],
)
def test_unsupported_blocks_raise_before_request(block: dict[str, Any]) -> None:
    model, recorder = ok_model(model="glm-4.6v-flash")
    with pytest.raises(ModelInvalidRequestError) as info:
        model.invoke([HumanMessage(content=[{"type": "text", "text": "x"}, block])])
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, zf.InvalidRequestInputError)
    assert recorder.bodies == []


def test_image_to_text_model_is_clear_error() -> None:
    model, recorder = ok_model(model="glm-4.7-flash")
    with pytest.raises(ValueError, match="text-only"):
        model.invoke([HumanMessage(content=[{"type": "image", "url": "https://x.test/a.png"}])])
    assert recorder.bodies == []


# -- errors ---------------------------------------------------------------------------------


def _error_model(status: int, sample: str) -> tuple[ChatZhipuFlash, Recorder]:
    recorder = Recorder(status, JSON, wire_body(sample))
    return model_for(recorder, max_retries=2), recorder


@pytest.mark.parametrize("streaming", [False, True], ids=["invoke", "stream"])
def test_1113_is_quota_not_retryable(streaming: bool) -> None:
    model, recorder = _error_model(429, "error_1113_no_balance_http429_cowagent-issue-2910.json")
    call = (lambda: list(model.stream("hi"))) if streaming else (lambda: model.invoke("hi"))
    with pytest.raises(zf.QuotaExceededError) as info:
        call()
    err = info.value
    assert isinstance(err, ModelPermissionDeniedError)
    assert not isinstance(err, ModelRateLimitError)
    assert err.is_retryable is False
    assert err.code == "1113"
    assert err.status_code == 429
    assert len(recorder.bodies) == 1  # never retried


async def test_1113_async() -> None:
    model, recorder = _error_model(429, "error_1113_no_balance_http429_cowagent-issue-2910.json")
    with pytest.raises(ModelPermissionDeniedError):
        await model.ainvoke("hi")
    with pytest.raises(zf.QuotaExceededError):
        async for _ in model.astream("hi"):
            pass
    assert len(recorder.bodies) == 2


@pytest.mark.parametrize(
    ("status", "body", "lc_class", "core_class", "retryable"),
    [
        (
            429,
            b'{"error":{"code":"1305","message":"overloaded"}}',
            ModelRateLimitError,
            zf.RateLimitError,
            True,
        ),
        (
            400,
            b'{"error":{"code":"1261","message":"Prompt exceeds max length"}}',
            ContextOverflowError,
            zf.ContextWindowExceededError,
            False,
        ),
        (
            401,
            b'{"error":{"code":"1003","message":"expired"}}',
            ModelAuthenticationError,
            zf.AuthenticationError,
            False,
        ),
        (
            400,
            b'{"error":{"code":"1301","message":"unsafe"}}',
            ModelInvalidRequestError,
            zf.ContentFilterError,
            False,
        ),
        (
            429,
            b'{"error":{"code":"1308","message":"Usage limit reached"}}',
            ModelPermissionDeniedError,
            zf.QuotaExceededError,
            False,
        ),
    ],
    ids=["1305", "1261", "1003", "1301", "1308"],
)
def test_error_classes(
    status: int, body: bytes, lc_class: type, core_class: type, retryable: bool
) -> None:
    model = model_for(Recorder(status, JSON, body), max_retries=0)
    with pytest.raises(lc_class) as info:
        model.invoke("hi")
    assert isinstance(info.value, core_class)
    assert info.value.is_retryable is retryable


def _broken_stream() -> TrackedStream:
    return TrackedStream(
        [
            frames.event(_chunk({"content": "Hel"})),
            frames.event(_chunk({"content": "lo"})),
            b"never sent",
        ],
        fail_after=2,
    )


def test_midstream_break_raises_with_partial() -> None:
    stream = _broken_stream()
    model = model_for(lambda r: httpx.Response(200, headers=SSE, stream=stream))
    got: list[str] = []

    def consume() -> None:
        got.extend(chunk.text for chunk in model.stream("hi"))

    with pytest.raises(ModelConnectionError) as info:
        consume()
    err = info.value
    assert isinstance(err, zf.StreamInterruptedError)
    assert err.is_retryable is True
    assert err.partial is not None
    assert err.partial.content == "Hello"
    assert "".join(got) == "Hello"
    assert stream.closed


async def test_midstream_break_raises_with_partial_async() -> None:
    stream = _broken_stream()
    model = model_for(lambda r: httpx.Response(200, headers=SSE, stream=stream))
    with pytest.raises(zf.StreamInterruptedError) as info:
        async for _ in model.astream("hi"):
            pass
    assert isinstance(info.value, ModelConnectionError)
    assert info.value.partial is not None
    assert info.value.partial.content == "Hello"
    assert stream.closed


def test_invoke_streaming_midstream_break() -> None:
    stream = _broken_stream()
    model = model_for(lambda r: httpx.Response(200, headers=SSE, stream=stream), streaming=True)
    with pytest.raises(ModelConnectionError):
        model.invoke("hi")


# -- closing --------------------------------------------------------------------------------


def _long_stream() -> TrackedStream:
    parts = [frames.event(_chunk({"content": f"w{i} "})) for i in range(50)]
    return TrackedStream(parts)


def test_early_break_closes_response() -> None:
    stream = _long_stream()
    model = model_for(lambda r: httpx.Response(200, headers=SSE, stream=stream))
    iterator = model.stream("hi")
    for i, _ in enumerate(iterator):
        if i == 2:
            break
    iterator.close()  # what CPython's refcounting does at once when the loop variable drops
    assert stream.closed
    assert stream.sent < 50


def test_early_break_without_reference_closes_response() -> None:
    """A plain ``for ... break`` over stream(): the generator is dropped and closed at once."""
    stream = _long_stream()
    model = model_for(lambda r: httpx.Response(200, headers=SSE, stream=stream))
    for i, _ in enumerate(model.stream("hi")):
        if i == 2:
            break
    assert stream.closed
    assert stream.sent < 50


async def test_early_break_closes_response_async() -> None:
    stream = _long_stream()
    model = model_for(lambda r: httpx.Response(200, headers=SSE, stream=stream))
    iterator = model.astream("hi")
    i = 0
    async for _ in iterator:
        i += 1
        if i == 3:
            break
    await iterator.aclose()  # type: ignore[attr-defined]
    assert stream.closed
    assert stream.sent < 50


# -- chains ---------------------------------------------------------------------------------


def test_lcel_chain_streams() -> None:
    body = sse_events(
        _chunk({"reasoning_content": "Short."}),
        _chunk({"content": "Bonjour"}),
        _chunk({"content": " le monde"}),
        _chunk({"content": ""}, finish_reason="stop", usage=USAGE),
    )
    recorder = Recorder(200, SSE, body)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Translate to {language}."), ("human", "{text}")]
    )
    chain = prompt | model_for(recorder) | StrOutputParser()
    pieces = list(chain.stream({"language": "French", "text": "Hello world"}))
    assert "".join(pieces) == "Bonjour le monde"
    assert [p for p in pieces if p] == ["Bonjour", " le monde"]
    assert recorder.body["messages"] == [
        {"role": "system", "content": "Translate to French."},
        {"role": "user", "content": "Hello world"},
    ]


def test_batch_and_callbacks_tokens() -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Tokens(BaseCallbackHandler):
        def __init__(self) -> None:
            self.tokens: list[str] = []

        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            self.tokens.append(token)

    body = sse_events(
        _chunk({"content": "a"}),
        _chunk({"content": "b"}),
        _chunk({"content": ""}, finish_reason="stop", usage=USAGE),
    )
    handler = Tokens()
    model = model_for(Recorder(200, SSE, body), streaming=True)
    results = model.batch(["x", "y"], config={"callbacks": [handler]})
    assert [r.content for r in results] == ["ab", "ab"]
    assert "".join(handler.tokens) == "abab"


def test_structured_output_on_vision_model_uses_prompt_only() -> None:
    """The vision request schema has no response_format: the schema prompt does the work."""
    recorder = Recorder(200, JSON, JOKE_BODY)
    model = model_for(recorder, model="glm-4.6v-flash")
    assert model.with_structured_output(Joke).invoke("joke") == Joke(
        setup="Why?", punchline="Because."
    )
    assert "response_format" not in recorder.body
    assert '"punchline"' in recorder.body["messages"][0]["content"]


def test_an_httpx_timeout_serialises_without_the_key() -> None:
    model = ChatZhipuFlash(api_key="sk.secret-value", timeout=httpx.Timeout(5.0, connect=2.0))
    dumped = json.loads(model.model_dump_json())
    assert dumped["timeout"] == {"connect": 2.0, "read": 5.0, "write": 5.0, "pool": 5.0}
    assert "secret-value" not in model.model_dump_json()
