"""ChatZhipuFlash's configuration surface: every core request parameter is a field that reaches
the wire, unknown arguments are refused by name, the LLM-cache identity covers every setting,
the profile, and the pure helpers behind structured output and token counting."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, ValidationError

from glm_emulator import frames
from langchain_zhipu_flash import ChatZhipuFlash
from langchain_zhipu_flash._structured import schema_errors, split_response_format
from langchain_zhipu_flash._tokens import estimate_messages, estimate_text
from langchain_zhipu_flash.chat_models import REQUEST_PARAMETERS
from tests.langchain._helpers import JSON, Recorder, model_for
from tests.wire import wire_body

OK = frames.compact(
    frames.completion(
        content="ok", usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    )
)


def recorded(**kwargs: Any) -> tuple[ChatZhipuFlash, Recorder]:
    recorder = Recorder(200, JSON, OK)
    return model_for(recorder, **kwargs), recorder


# -- fields and unknown arguments ----------------------------------------------------------------


def test_every_core_request_parameter_is_a_field() -> None:
    # tools and tool_choice are bound per call (bind_tools), as in every LangChain model.
    per_call = {"tools", "tool_choice"}
    assert sorted(REQUEST_PARAMETERS - per_call - set(ChatZhipuFlash.model_fields)) == []


def test_core_parameters_given_to_the_constructor_reach_the_wire() -> None:
    model, recorder = recorded(
        model="glm-5.2",  # reasoning_effort: GLM-5.2 and later
        do_sample=False,
        user_id="u-123456",
        request_id="req-0001",
        reasoning_effort="high",
        response_format={"type": "json_object"},
    )
    assert model.model_kwargs == {}  # each landed in its field
    model.invoke("hi")
    body = recorder.body
    assert body["do_sample"] is False
    assert body["user_id"] == "u-123456"
    assert body["request_id"] == "req-0001"
    assert body["reasoning_effort"] == "high"
    assert body["response_format"] == {"type": "json_object"}


def test_per_call_values_override_fields_and_model_kwargs() -> None:
    model, recorder = recorded(user_id="u-field-1", model_kwargs={"do_sample": True})
    model.invoke("hi", user_id="u-call-22", do_sample=False, request_id="per-call-1")
    assert (recorder.body["user_id"], recorder.body["do_sample"]) == ("u-call-22", False)
    assert recorder.body["request_id"] == "per-call-1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"typo_param": 1}, "'typo_param'"),
        ({"temprature": 0.5}, "'temprature' (did you mean 'temperature'?)"),
        ({"max_token": 9}, "'max_token' (did you mean 'max_tokens'?)"),
        # ChatOpenAI's spelling: both adapters take async_http_client (one name for users).
        ({"http_async_client": None}, "'http_async_client' (did you mean 'async_http_client'?)"),
        (
            {"model_kwargs": {"do_sampel": False}},
            "model_kwargs has unknown argument(s) 'do_sampel'",
        ),
        ({"model_kwargs": {"watermark_enabled": True}}, "extra_body"),
    ],
)
def test_unknown_arguments_are_refused_with_the_nearest_name(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        ChatZhipuFlash(**kwargs)
    assert message in str(info.value)
    assert "extra_body" in str(info.value)


def test_aliases_and_framework_fields_are_accepted() -> None:
    model = ChatZhipuFlash(
        model="glm-4-flash-250414",
        request_timeout=12,
        callbacks=None,
        tags=["t"],
        metadata={"k": "v"},
        disable_streaming="tool_calling",
        output_version="v1",
        rate_limiter=None,
    )
    assert (model.model_name, model.timeout, model.tags) == ("glm-4-flash-250414", 12, ["t"])
    assert ChatZhipuFlash(model_name="glm-4.6v-flash", timeout=3).timeout == 3


def test_max_concurrency_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        ChatZhipuFlash(max_concurrency=0)
    assert ChatZhipuFlash(max_concurrency=3)._client_settings().max_concurrency == 3


def test_identifying_params_cover_every_request_setting() -> None:
    params = ChatZhipuFlash()._identifying_params
    fields = set(ChatZhipuFlash.model_fields)
    request_fields = (REQUEST_PARAMETERS & fields) | {"model_kwargs", "model_name", "base_url"}
    assert request_fields <= set(params)


def test_profile_says_structured_output_through_json_mode_and_no_tool_choice() -> None:
    for name in ("glm-4.7-flash", "glm-4-flash-250414", "glm-4.6v-flash"):
        profile = ChatZhipuFlash(model=name).profile
        assert profile is not None
        assert profile["structured_output"] is True
        assert profile["tool_choice"] is False
    assert ChatZhipuFlash(model="glm-99-unknown").profile is None


def test_a_copy_with_a_plain_string_key_uses_it() -> None:
    model = ChatZhipuFlash(api_key="old.key")
    copied = model.model_copy(update={"api_key": "new.key"})  # model_copy does not validate
    assert copied._client_settings().api_key == "new.key"
    assert model._client_settings().api_key == "old.key"
    assert "new.key" not in repr(copied._client_settings())


# -- response_format json_schema ------------------------------------------------------------------


class Point(BaseModel):
    x: int
    y: int


def test_split_response_format() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"}}}
    assert split_response_format(fmt) == ({"type": "json_object"}, {"type": "object"})
    wire, schema = split_response_format(Point)
    assert wire == {"type": "json_object"} and schema is not None
    assert schema["required"] == ["x", "y"]
    assert split_response_format({"type": "json_object"}) == ({"type": "json_object"}, None)
    assert split_response_format("text") == ("text", None)
    with pytest.raises(ValueError, match="json_schema"):
        split_response_format({"type": "json_schema", "json_schema": {"name": "p"}})


def test_a_bound_json_schema_is_sent_as_json_mode_with_the_schema_prompt() -> None:
    model, recorder = recorded()
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": Point.model_json_schema()}}
    recorder.content = frames.compact(frames.completion(content='{"x": 1, "y": 2}', id="r"))
    message = model.invoke(
        [SystemMessage("Be exact."), HumanMessage("A point.")], response_format=fmt
    )
    assert json.loads(message.text) == {"x": 1, "y": 2}
    body = recorder.body
    assert body["response_format"] == {"type": "json_object"}
    system = body["messages"][0]
    assert system["content"].startswith("Be exact.\n\nYour final answer must be one JSON object")
    assert '"required": ["x", "y"]' in system["content"]


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ({"x": 1, "y": 2}, []),
        ({"x": 1.0, "y": 2}, []),  # JSON has one number type
        ({"x": 1}, ["$ is missing required property 'y'"]),
        ({"x": "1", "y": 2}, ["$.x must be of type integer"]),
        ({"x": True, "y": 2}, ["$.x must be of type integer"]),
        ([1, 2], ["$ must be of type object"]),
    ],
)
def test_schema_errors_on_a_pydantic_schema(value: Any, errors: list[str]) -> None:
    assert schema_errors(value, Point.model_json_schema()) == errors


def test_schema_errors_follow_refs_unions_enums_and_arrays() -> None:
    class Shape(BaseModel):
        kind: str
        points: list[Point]
        label: str | None = None

    schema = Shape.model_json_schema()
    good = {"kind": "line", "points": [{"x": 0, "y": 0}, {"x": 1, "y": 1}], "label": None}
    assert schema_errors(good, schema) == []
    bad = {"kind": "line", "points": [{"x": 0}], "label": 3}
    assert schema_errors(bad, schema) == [
        "$.points[0] is missing required property 'y'",
        "$.label matches none of the anyOf options",
    ]
    closed = {"type": "object", "properties": {"a": {"enum": ["x"]}}, "additionalProperties": False}
    assert schema_errors({"a": "y", "b": 1}, closed) == [
        "$.a must be one of ['x']",
        "$.b is not allowed (additionalProperties is false)",
    ]


# -- token estimate ---------------------------------------------------------------------------

# The real GLM answers in tests/fixtures/wire: (sample, completion_tokens GLM reported).
CAPTURES = [
    ("glm-4-flash_stream_loop4_content_stop_mini-claude-design.sse", 35),
    ("glm-4.5_stream_reasoning_usage_cached_nuvin_REPAIRED.sse", 39),
    ("glm-4_stream_plain_usage_langchain-openai-tests.jsonl", 10),
    ("glm-4-flash_nonstream_plain_curl_unidentified-repo.json", 16),
    ("glm-4-flash_nonstream_toolcall_swarm-swift.json", 20),
    ("glm-4-flash_stream_loop2_toolcall_only_mini-claude-design.sse", 465),
]


def _generated_text(sample: str) -> str:
    parts: list[str] = []
    for line in wire_body(sample).decode("utf-8").splitlines():
        line = line.removeprefix("data:").strip()
        if not line.startswith("{"):
            continue
        for choice in json.loads(line).get("choices", []):
            delta = choice.get("delta") or choice.get("message") or {}
            parts += [delta.get(k) or "" for k in ("reasoning_content", "content")]
            for call in delta.get("tool_calls") or []:
                parts += [call["function"]["name"], call["function"]["arguments"]]
    return "".join(parts)


@pytest.mark.parametrize(("sample", "reported"), CAPTURES, ids=[c[0][:24] for c in CAPTURES])
def test_estimate_is_within_the_documented_bounds_on_real_glm_counts(
    sample: str, reported: int
) -> None:
    # The docstring of _tokens.py says -12%..+11% on these; completion_tokens also count a
    # few special tokens, which the text does not show.
    estimate = estimate_text(_generated_text(sample))
    assert -0.13 <= (estimate - reported) / reported <= 0.12


def test_estimate_counts_cjk_words_and_message_overhead() -> None:
    assert estimate_text("") == 0
    assert estimate_text("你好") == 2 and estimate_text("人工智能助手") == 4
    assert estimate_text("Hello world") == 2 and estimate_text("，。") == 2
    assert estimate_text("12345") == 2
    # GLM reported 6 prompt tokens for a user message of just 你好.
    assert estimate_messages([{"role": "user", "content": "你好"}]) == 3 + 2 + 1 + 1
    image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
    assert estimate_messages([image]) == 3 + 2 + 1024


def test_model_estimate_counts_what_a_request_would_send() -> None:
    model = ChatZhipuFlash(api_key="k.k")
    call = {"name": "get_weather", "args": {"city": "杭州"}, "id": "c1", "type": "tool_call"}
    earlier = AIMessage("晴天", additional_kwargs={"reasoning_content": "想一想" * 10})
    current = AIMessage("", tool_calls=[call], additional_kwargs={"reasoning_content": "要查天气"})
    history = [
        HumanMessage("你好"),
        earlier,
        HumanMessage("杭州天气？"),
        current,
        ToolMessage("晴，23度", tool_call_id="c1"),
    ]
    counted = model.get_num_tokens_from_messages(history)
    # Earlier turns' reasoning is not sent (clear_thinking default); the current turn's is.
    without_old = [m for m in history if m is not earlier] + [AIMessage("晴天")]
    assert counted == model.get_num_tokens_from_messages(without_old)
    preserved = ChatZhipuFlash(api_key="k.k", clear_thinking=False)
    assert preserved.get_num_tokens_from_messages(history) > counted
    no_thinking = ChatZhipuFlash(api_key="k.k", model="glm-4-flash-250414")
    assert no_thinking.get_num_tokens_from_messages(history) < counted
    assert model.get_num_tokens("你好") == 2
    with pytest.raises(NotImplementedError, match="get_num_tokens"):
        model.get_token_ids("hi")
    assert math.isclose(
        model.get_num_tokens_from_messages([HumanMessage("hi")], tools=[Point]),
        3 + 2 + 1 + estimate_text(json.dumps(_tool(Point))),
    )


def _tool(schema: type[BaseModel]) -> dict[str, Any]:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return convert_to_openai_tool(schema)
