"""Request building: every check and downgrade in zhipu_flash/_request.py's table."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

import zhipu_flash as zf
from tests.conftest import PICTURE

USER = [{"role": "user", "content": "hi"}]
PNG_B64 = base64.b64encode(PICTURE.read_bytes()).decode()


def build(model: str = "glm-4.7-flash", messages: Any = None, **params: Any) -> dict[str, Any]:
    return zf.build_chat_request(model, messages or USER, stream=True, **params)


def test_minimal_body() -> None:
    assert build() == {"model": "glm-4.7-flash", "messages": USER, "stream": True}
    assert "stream" not in zf.build_chat_request("glm-4.7-flash", USER, stream=False)


def test_temperature_zero_becomes_greedy(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "zhipu_flash")
    body = build(temperature=0)
    assert body["do_sample"] is False and "temperature" not in body
    assert "do_sample=false" in caplog.text
    assert build(temperature=0, do_sample=True)["temperature"] == 0.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("temperature", 1.5),
        ("temperature", -0.1),
        ("top_p", 0.0),
        ("top_p", 1.2),
        ("temperature", "hot"),
    ],
)
def test_out_of_range_sampling_is_an_error(name: str, value: Any) -> None:
    with pytest.raises(zf.InvalidRequestInputError, match=name):
        build(**{name: value})


def test_sampling_values_pass_through() -> None:
    body = build(temperature=0.7, top_p=0.9, max_tokens=100, do_sample=True)
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["do_sample"]) == (
        0.7,
        0.9,
        100,
        True,
    )


@pytest.mark.parametrize("bad", [0, -5, 1.5, True])
def test_max_tokens_must_be_positive_int(bad: Any) -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="max_tokens"):
        build(max_tokens=bad)


@pytest.mark.parametrize(
    ("stop", "sent"), [(None, None), ([], None), ("", None), ("x", ["x"]), (["y"], ["y"])]
)
def test_stop(stop: Any, sent: Any) -> None:
    assert build(stop=stop).get("stop") == sent


def test_two_stops_are_an_error() -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="one stop sequence"):
        build(stop=["a", "b"])


TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}


def test_tools_are_normalised() -> None:
    body = build(
        tools=[TOOL, {"name": "noargs"}, {"type": "web_search", "web_search": {"enable": True}}]
    )
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather.",
                "parameters": TOOL["function"]["parameters"],
            },
        },
        {
            "type": "function",
            "function": {
                "name": "noargs",
                "description": "",
                "parameters": {"type": "object", "properties": {}},
            },
        },
        {"type": "web_search", "web_search": {"enable": True}},
    ]


def test_bad_tool_name() -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="Tool name"):
        build(tools=[{"name": "has space"}])


@pytest.mark.parametrize(
    "choice",
    [
        "required",
        "any",
        True,
        "get_weather",
        {"type": "function", "function": {"name": "get_weather"}},
    ],
)
def test_forced_tool_choice_is_downgraded_with_a_warning(
    choice: Any, caplog: pytest.LogCaptureFixture
) -> None:
    body = build(tools=[TOOL], tool_choice=choice)
    assert body["tool_choice"] == "auto"
    assert "tool_choice='auto' only" in caplog.text


def test_a_forced_tool_choice_is_warned_once_per_process_then_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="zhipu_flash"):
        for _ in range(3):
            assert build(tools=[TOOL], tool_choice="required")["tool_choice"] == "auto"
        build(tools=[TOOL], tool_choice="any")
    downgrades = [r for r in caplog.records if "tool_choice='auto' only" in r.getMessage()]
    levels = [(r.levelno, r.getMessage().split(";")[1].split(" was")[0]) for r in downgrades]
    assert levels == [
        (logging.WARNING, " 'required'"),
        (logging.DEBUG, " 'required'"),
        (logging.DEBUG, " 'required'"),
        (logging.WARNING, " 'any'"),
    ]
    assert "once per process" in downgrades[0].getMessage()


def test_tool_choice_auto_and_none() -> None:
    assert build(tools=[TOOL], tool_choice="auto")["tool_choice"] == "auto"
    assert "tool_choice" not in build(tools=[TOOL])
    body = build(tools=[TOOL], tool_choice="none")
    assert "tools" not in body and "tool_choice" not in body


def test_tools_to_a_model_without_tools() -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="does not support tool calling"):
        build("glm-4v-flash", tools=[TOOL])


def test_tool_stream_needs_streaming() -> None:
    assert build(tools=[TOOL], tool_stream=True)["tool_stream"] is True
    assert "tool_stream" not in zf.build_chat_request(
        "glm-4.7-flash", USER, stream=False, tool_stream=True
    )


@pytest.mark.parametrize(
    ("model", "thinking", "clear", "sent"),
    [
        ("glm-4.7-flash", True, None, {"type": "enabled"}),
        ("glm-4.7-flash", False, None, {"type": "disabled"}),
        ("glm-4.7-flash", None, False, {"type": "enabled", "clear_thinking": False}),
        (
            "glm-4.7-flash",
            {"type": "enabled", "clear_thinking": True},
            None,
            {"type": "enabled", "clear_thinking": True},
        ),
        ("glm-4.6v-flash", False, None, {"type": "disabled"}),
        ("glm-4-flash-250414", False, None, None),
        ("glm-4v-flash", None, False, None),
        ("glm-4.1v-thinking-flash", True, None, None),
        ("some-future-model", True, None, {"type": "enabled"}),
        ("glm-4.7-flash", None, None, None),
    ],
)
def test_thinking(model: str, thinking: Any, clear: Any, sent: Any) -> None:
    assert build(model, thinking=thinking, clear_thinking=clear).get("thinking") == sent


def test_thinking_on_a_model_without_it_is_an_error() -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="no thinking mode"):
        build("glm-4-flash-250414", thinking=True)


def test_disabling_thinking_on_an_always_thinking_model_is_an_error() -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="always thinks"):
        build("glm-4.1v-thinking-flash", thinking=False)


def test_bad_thinking_value() -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="thinking must be"):
        build(thinking="yes")


HISTORY = [
    {"role": "user", "content": "q1"},
    {"role": "assistant", "content": "a1", "reasoning_content": "r1"},
    {"role": "user", "content": "q2"},
]


def test_reasoning_in_history_only_sent_with_preserved_thinking() -> None:
    assert "reasoning_content" not in build(messages=HISTORY)["messages"][1]
    assert "reasoning_content" not in build(messages=HISTORY, clear_thinking=True)["messages"][1]
    assert build(messages=HISTORY, clear_thinking=False)["messages"][1]["reasoning_content"] == "r1"


# One turn with a tool loop: a user asks, the assistant reasons and calls a tool, the tool
# answers, the assistant reasons again and calls another tool.
CALL = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}
TOOL_LOOP = [
    *HISTORY,
    {"role": "assistant", "content": "", "reasoning_content": "r2", "tool_calls": [CALL]},
    {"role": "tool", "content": "5", "tool_call_id": "c1"},
    {"role": "assistant", "content": "", "reasoning_content": "r3", "tool_calls": [CALL]},
    {"role": "tool", "content": "6", "tool_call_id": "c1"},
]


def _reasoning(body: dict[str, Any]) -> list[str | None]:
    return [m.get("reasoning_content") for m in body["messages"] if m["role"] == "assistant"]


def test_the_current_tool_loop_gets_its_reasoning_back() -> None:
    # Interleaved thinking: the turn after the last user message keeps its reasoning by
    # default; the earlier turn only with preserved thinking.
    assert _reasoning(build(messages=TOOL_LOOP)) == [None, "r2", "r3"]
    assert _reasoning(build(messages=TOOL_LOOP, clear_thinking=True)) == [None, "r2", "r3"]
    assert _reasoning(build(messages=TOOL_LOOP, clear_thinking=False)) == ["r1", "r2", "r3"]


def test_a_new_user_message_ends_the_tool_loop() -> None:
    history = [
        *TOOL_LOOP,
        {"role": "assistant", "content": "11"},
        {"role": "user", "content": "q3"},
    ]
    assert _reasoning(build(messages=history)) == [None, None, None, None]


def test_a_model_without_thinking_never_gets_reasoning() -> None:
    for clear in (None, False):
        assert _reasoning(build("glm-4-flash-250414", TOOL_LOOP, clear_thinking=clear)) == [
            None,
            None,
            None,
        ]


@pytest.mark.parametrize("fmt", ["json_object", {"type": "json_object"}, "text"])
def test_response_format(fmt: Any) -> None:
    assert build(response_format=fmt)["response_format"]["type"] in ("json_object", "text")


def test_json_schema_response_format_is_an_error() -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="json_object"):
        build(response_format={"type": "json_schema", "json_schema": {}})


def test_request_and_user_ids() -> None:
    body = build(request_id="req-1", user_id="user-123")
    assert (body["request_id"], body["user_id"]) == ("req-1", "user-123")
    with pytest.raises(zf.InvalidRequestInputError, match="user_id"):
        build(user_id="abc")
    with pytest.raises(zf.InvalidRequestInputError, match="request_id"):
        build(request_id="")


def test_extra_body_is_merged_last() -> None:
    assert build(temperature=0.5, extra_body={"temperature": 0.2, "x": 1})["temperature"] == 0.2


# --- messages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "messages",
    [
        [],
        "hi",
        [{"role": "system", "content": "s"}],
        [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}],
    ],
)
def test_conversations_the_api_rejects(messages: Any) -> None:
    with pytest.raises(zf.InvalidRequestInputError):
        zf.build_chat_request("glm-4.7-flash", messages, stream=False)


def test_unknown_role() -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="developer"):
        build(messages=[{"role": "developer", "content": "x"}, {"role": "user", "content": "y"}])


def test_tool_history_is_serialised() -> None:
    messages = [
        {"role": "user", "content": "weather?", "name": "alice"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "index": 0,
                    "function": {"name": "get_weather", "arguments": {"city": "杭州"}},
                },
                {"id": "call_2", "function": {"name": "noargs", "arguments": ""}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "sunny"}]},
        {"role": "tool", "tool_call_id": "call_2", "content": "done"},
    ]
    assert build(messages=messages)["messages"] == [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "杭州"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "noargs", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
        {"role": "tool", "content": "done", "tool_call_id": "call_2"},
    ]


def test_tool_result_without_id() -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="tool_call_id"):
        build(messages=[{"role": "user", "content": "x"}, {"role": "tool", "content": "r"}])


def test_text_parts_flattened_for_text_models_and_foreign_keys_dropped() -> None:
    parts = [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}, "b"]
    assert build(messages=[{"role": "user", "content": parts}])["messages"][0]["content"] == "a\nb"
    vision = build("glm-4.6v-flash", messages=[{"role": "user", "content": parts}])
    assert vision["messages"][0]["content"] == [
        {"type": "text", "text": "a"},
        {"type": "text", "text": "b"},
    ]


def test_images_become_url_or_bare_base64() -> None:
    content = [
        {"type": "text", "text": "what is this?"},
        {
            "type": "image_url",
            "image_url": {"url": "https://example.com/cat.png", "detail": "high"},
        },
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
        {"type": "image_url", "image_url": PICTURE},  # a Path: read on purpose
        {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}},
    ]
    sent = build("glm-4.6v-flash", messages=[{"role": "user", "content": content}])["messages"][0][
        "content"
    ]
    assert sent == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": PNG_B64}},
        {"type": "image_url", "image_url": {"url": PNG_B64}},
        {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}},
    ]


def test_image_to_a_text_model_is_an_error_before_sending() -> None:
    content = [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
    with pytest.raises(zf.InvalidRequestInputError, match="text-only"):
        build("glm-4.7-flash", messages=[{"role": "user", "content": content}])
    # An unknown model may take images: the API decides.
    assert build("glm-9v-future", messages=[{"role": "user", "content": content}])


def test_video_to_an_image_only_model() -> None:
    content = [{"type": "video_url", "video_url": {"url": "https://example.com/a.mp4"}}]
    with pytest.raises(zf.InvalidRequestInputError, match="video"):
        build("glm-4v-flash", messages=[{"role": "user", "content": content}])


def test_files_cannot_mix_with_images() -> None:
    content = [
        {"type": "file_url", "file_url": {"url": "https://example.com/a.pdf"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ]
    with pytest.raises(zf.InvalidRequestInputError, match="file_url"):
        build("glm-4.6v-flash", messages=[{"role": "user", "content": content}])


@pytest.mark.parametrize("part", [{"type": "audio", "data": "x"}, 42, {"type": "image_url"}])
def test_unsupported_parts(part: Any) -> None:
    with pytest.raises(zf.InvalidRequestInputError):
        build("glm-4.6v-flash", messages=[{"role": "user", "content": ["x", part]}])


def test_media_only_in_user_messages() -> None:
    content = [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]
    with pytest.raises(zf.InvalidRequestInputError, match="only user messages"):
        build("glm-4.6v-flash", messages=[{"role": "assistant", "content": content}, *USER])
    with pytest.raises(zf.InvalidRequestInputError, match="only hold text"):
        build("glm-4.6v-flash", messages=[{"role": "system", "content": content}, *USER])


def test_reasoning_effort_is_sent_as_given() -> None:
    assert build("glm-5.2", reasoning_effort="high")["reasoning_effort"] == "high"
    assert "reasoning_effort" not in build()
    with pytest.raises(zf.InvalidRequestInputError, match="reasoning_effort"):
        build(reasoning_effort="")
