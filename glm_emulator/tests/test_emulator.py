"""The GLM emulator answers with the wire shapes of the real captures.

The emulator is what integration cassettes are recorded against, so these tests pin the
shapes a client must survive: role in every delta, no ``finish_reason`` key before the end,
the repeated finish on tool-call turns, reasoning before content, the error bodies.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from glm_emulator._prompt import pieces
from glm_emulator.frames import stream_body
from glm_emulator.logic import (
    EMULATOR_HEADER,
    EmulatedResponse,
    check_authorization,
    respond,
    respond_bytes,
    respond_tokenizer,
)
from glm_emulator.server import running_emulator

#: The cookbook's picture, which the emulator's describe rules know.
PICTURE = Path(__file__).resolve().parents[2] / "cookbook" / "assets" / "picture.png"
MAGIC = {
    "type": "function",
    "function": {
        "name": "magic_function",
        "description": "Apply a magic function to an input.",
        "parameters": {
            "type": "object",
            "properties": {
                "input": {"type": "integer", "exclusiveMinimum": -1000, "exclusiveMaximum": 1000}
            },
            "required": ["input"],
        },
    },
}
NO_ARGS = {
    "type": "function",
    "function": {
        "name": "magic_function_no_args",
        "description": "Calculate a magic function.",
        "parameters": {"type": "object", "properties": {}},
    },
}
CUSTOMER = {
    "type": "function",
    "function": {
        "name": "unicode_customer",
        "description": "Create a customer.",
        "parameters": {
            "type": "object",
            "properties": {"customer_name": {"type": "string"}, "description": {"type": "string"}},
            "required": ["customer_name", "description"],
        },
    },
}
MAGIC_PROMPT = "What is the value of magic_function(3)? Use the tool."
PNG_BASE64 = (  # the first bytes of a 64 x 48 PNG: signature and IHDR
    "iVBORw0KGgoAAAANSUhEUgAAAEAAAAAwCAIAAAAuKetIAAAAAA=="
)


def ask(text: str, model: str = "glm-4.7-flash", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def stream(body: dict[str, Any]) -> list[dict[str, Any]]:
    response = respond({**body, "stream": True})
    assert response.status == 200, response.body
    assert response.chunks is not None
    return response.chunks


def message(body: dict[str, Any]) -> dict[str, Any]:
    response = respond(body)
    assert response.status == 200, response.body
    assert response.body is not None
    result: dict[str, Any] = response.body["choices"][0]["message"]
    return result


def error_of(response: EmulatedResponse) -> tuple[int, str, str]:
    assert response.body is not None
    assert response.chunks is None
    error = response.body["error"]
    return response.status, error["code"], error["message"]


def deltas(chunks: list[dict[str, Any]], key: str) -> list[str]:
    return [c["choices"][0]["delta"][key] for c in chunks if key in c["choices"][0]["delta"]]


# --- stream shapes -------------------------------------------------------------------------


def test_every_delta_repeats_role_and_only_the_last_chunk_finishes() -> None:
    chunks = stream(ask("Hello"))
    assert len(chunks) > 3
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1
    for chunk in chunks:
        assert list(chunk)[:5] == ["id", "created", "object", "model", "choices"]
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["choices"][0]["index"] == 0
        assert chunk["choices"][0]["delta"]["role"] == "assistant"
    for chunk in chunks[:-1]:
        assert "finish_reason" not in chunk["choices"][0]
        assert "usage" not in chunk
    last = chunks[-1]
    assert last["choices"] == [
        {"index": 0, "finish_reason": "stop", "delta": {"role": "assistant", "content": ""}}
    ]
    usage = last["usage"]
    assert list(usage) == [
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
    ]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}


def test_thinking_model_reasons_first_then_answers() -> None:
    chunks = stream(ask("Hello"))
    kinds = [
        "reasoning" if "reasoning_content" in c["choices"][0]["delta"] else "content"
        for c in chunks[:-1]
    ]
    assert kinds[0] == "reasoning"
    assert "content" in kinds
    first_content = kinds.index("content")
    assert all(kind == "content" for kind in kinds[first_content:])
    assert len(deltas(chunks, "reasoning_content")) > 3
    assert "".join(deltas(chunks, "content")) == "Hello! How can I help you today?"


@pytest.mark.parametrize("model", ["glm-4-flash-250414", "glm-4-flash", "glm-4v-flash"])
def test_glm4_models_never_reason(model: str) -> None:
    chunks = stream(ask("Hello", model=model, thinking={"type": "enabled"}))
    assert deltas(chunks, "reasoning_content") == []
    assert "reasoning_content" not in message(ask("Hello", model=model))
    # Like the glm-4-flash captures: usage without prompt_tokens_details.
    assert "prompt_tokens_details" not in chunks[-1]["usage"]


def test_disabled_thinking_gives_no_reasoning() -> None:
    body = ask("Hello", thinking={"type": "disabled"})
    assert deltas(stream(body), "reasoning_content") == []
    assert "reasoning_content" not in message(body)


def test_non_stream_body_has_the_captured_keys() -> None:
    response = respond(ask("Hello"))
    assert response.body is not None
    body = response.body
    assert list(body) == ["choices", "created", "id", "model", "request_id", "usage"]
    assert body["request_id"] == body["id"]
    choice = body["choices"][0]
    assert list(choice) == ["finish_reason", "index", "message"]
    assert list(choice["message"]) == ["content", "reasoning_content", "role"]
    assert list(body["usage"]) == [
        "completion_tokens",
        "prompt_tokens",
        "prompt_tokens_details",
        "total_tokens",
    ]
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"


def test_client_request_id_is_echoed() -> None:
    response = respond(ask("Hello", request_id="my-request-1"))
    assert response.body is not None
    assert response.body["request_id"] == "my-request-1"


# --- tool calls ----------------------------------------------------------------------------


def test_streamed_tool_call_is_whole_and_the_finish_is_repeated() -> None:
    chunks = stream(ask(MAGIC_PROMPT, model="glm-4-flash-250414", tools=[MAGIC]))
    call_chunk, last = chunks[-2], chunks[-1]
    response_id = call_chunk["id"]
    assert call_chunk["choices"] == [
        {
            "index": 0,
            "finish_reason": "tool_calls",
            "delta": {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": f"call_{response_id}_0",
                        "index": 0,
                        "type": "function",
                        "function": {"name": "magic_function", "arguments": '{"input": 3}'},
                    }
                ],
            },
        }
    ]
    assert "usage" not in call_chunk
    assert last["choices"] == [
        {"index": 0, "finish_reason": "tool_calls", "delta": {"role": "assistant", "content": ""}}
    ]
    assert set(last["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens"}
    assert len(chunks) == 2  # no reasoning on GLM-4, no text next to the call


def test_thinking_model_reasons_before_its_tool_call() -> None:
    chunks = stream(ask(MAGIC_PROMPT, tools=[MAGIC]))
    assert "reasoning_content" in chunks[0]["choices"][0]["delta"]
    assert "tool_calls" in chunks[-2]["choices"][0]["delta"]
    assert deltas(chunks, "content") == [""]


def test_tool_stream_sends_argument_fragments() -> None:
    chunks = stream(ask(MAGIC_PROMPT, model="glm-4-flash-250414", tools=[MAGIC], tool_stream=True))
    fragments = [d for c in chunks for d in c["choices"][0]["delta"].get("tool_calls", [])]
    head, rest = fragments[0], fragments[1:]
    assert head["id"] == f"call_{chunks[0]['id']}_0"
    assert head["type"] == "function"
    assert head["function"]["name"] == "magic_function"
    assert len(rest) > 2
    assert all(set(f) == {"index", "function"} and f["index"] == 0 for f in rest)
    assert all(set(f["function"]) == {"arguments"} for f in rest)
    arguments = head["function"]["arguments"] + "".join(f["function"]["arguments"] for f in rest)
    assert json.loads(arguments) == {"input": 3}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"]["completion_tokens"] > 0


def test_non_stream_tool_call_has_no_content_key() -> None:
    response = respond(ask(MAGIC_PROMPT, model="glm-4-flash-250414", tools=[MAGIC]))
    assert response.body is not None
    choice = response.body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "tool_calls": [
            {
                "function": {"arguments": '{"input": 3}', "name": "magic_function"},
                "id": f"call_{response.body['id']}_0",
                "index": 0,
                "type": "function",
            }
        ],
    }


def test_tool_without_parameters_gets_empty_object_arguments() -> None:
    prompt = "What is the value of magic_function_no_args()? Use the tool."
    calls = message(ask(prompt, tools=[NO_ARGS]))["tool_calls"]
    assert [c["function"]["arguments"] for c in calls] == ["{}"]


def test_several_call_sites_give_several_calls() -> None:
    prompt = "Compute magic_function(3) and magic_function(5)."
    calls = message(ask(prompt, tools=[MAGIC]))["tool_calls"]
    assert [c["index"] for c in calls] == [0, 1]
    assert [json.loads(c["function"]["arguments"]) for c in calls] == [{"input": 3}, {"input": 5}]


def test_tool_is_chosen_by_a_word_of_its_name_and_arguments_come_from_the_prompt() -> None:
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather.",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        },
    }
    calls = message(ask("What is the weather in San Francisco, CA?", tools=[MAGIC, weather]))[
        "tool_calls"
    ]
    assert [c["function"]["name"] for c in calls] == ["get_weather"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"location": "San Francisco, CA"}


def test_no_matching_tool_means_a_text_answer() -> None:
    answer = message(ask("Hello", tools=[MAGIC]))
    assert "tool_calls" not in answer
    assert answer["content"]


def test_unicode_arguments_stay_raw_on_the_wire() -> None:
    prompt = "Create a customer named '你好啊集团' (Hello Group) - a Chinese technology company"
    chunks = stream(ask(prompt, tools=[CUSTOMER]))
    raw = stream_body(chunks)
    assert "你好啊集团".encode() in raw
    assert b"\\u" not in raw
    (call,) = chunks[-2]["choices"][0]["delta"]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {
        "customer_name": "你好啊集团",
        "description": "a Chinese technology company",
    }


def test_after_a_tool_result_the_answer_reports_it() -> None:
    body = {
        "model": "glm-4.7-flash",
        "tools": [MAGIC],
        "messages": [
            {"role": "user", "content": MAGIC_PROMPT},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "abc",
                        "type": "function",
                        "function": {"name": "magic_function", "arguments": '{"input": 3}'},
                    }
                ],
            },
            {"role": "tool", "content": '{"result": 5}', "tool_call_id": "abc"},
        ],
    }
    answer = message(body)
    assert "tool_calls" not in answer
    assert answer["content"] == "The result is 5."


def test_json_mode_after_tool_results_answers_the_schema_from_the_results() -> None:
    # An agent asked for structured output: the final answer is the JSON object, filled from
    # the question and what the tools returned.
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "temperature_c": {"type": "integer"}},
        "required": ["city", "temperature_c"],
    }
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    messages = [
        {"role": "system", "content": "Answer with JSON:\n" + json.dumps(schema)},
        {"role": "user", "content": "What is the weather in Hangzhou?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "Sunny, 23 degrees.", "tool_call_id": "c1"},
    ]
    with_format = {"model": "glm-4.7-flash", "messages": messages}
    with_format["response_format"] = {"type": "json_object"}
    assert json.loads(message(with_format)["content"]) == {"city": "Hangzhou", "temperature_c": 23}
    # The vision route: no response_format, the system prompt asks for JSON and has a schema.
    vision = {"model": "glm-4.6v-flash", "messages": messages}
    assert json.loads(message(vision)["content"]) == {"city": "Hangzhou", "temperature_c": 23}
    # Without JSON mode the results are reported in words, as before.
    plain = {"model": "glm-4.7-flash", "messages": messages[1:]}
    assert message(plain)["content"] == "The get_weather tool returned: Sunny, 23 degrees."


def test_tokenizer_answers_a_count_or_the_chat_endpoint_errors() -> None:
    body = {"model": "glm-4.7-flash", "messages": [{"role": "user", "content": "你好"}]}
    counted = respond_tokenizer(body)
    assert counted.status == 200 and counted.body is not None
    assert counted.body["usage"]["prompt_tokens"] == respond(body).body["usage"]["prompt_tokens"]  # type: ignore[index]
    assert counted.headers[EMULATOR_HEADER[0]] == EMULATOR_HEADER[1]
    assert respond_tokenizer(body).body == counted.body  # deterministic
    assert error_of(respond_tokenizer({**body, "model": "glm-99"}))[1] == "1211"
    system_only = {"model": "glm-4.7-flash", "messages": [{"role": "system", "content": "x"}]}
    assert error_of(respond_tokenizer(system_only))[1] == "1214"


# --- JSON mode, stop, max_tokens -----------------------------------------------------------


def test_json_mode_answers_an_instance_of_a_schema_in_a_system_message() -> None:
    schema = {
        "title": "Report",
        "type": "object",
        "properties": {
            "setup": {"type": "string", "description": "question to set up a joke"},
            "punchline": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "rating": {"type": "integer", "minimum": 1, "maximum": 5},
            "funny": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "author": {"$ref": "#/$defs/Person"},
            "kind": {"enum": ["pun", "story"]},
        },
        "required": ["setup", "rating"],
        "$defs": {
            "Person": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            }
        },
    }
    body = {
        "model": "glm-4.7-flash",
        "response_format": {"type": "json_object"},
        "messages": [
            {
                "role": "system",
                "content": "Reply with JSON matching this schema:\n" + json.dumps(schema),
            },
            {"role": "user", "content": "Tell me a joke about cats."},
        ],
    }
    content = message(body)["content"]
    assert not content.startswith("```")
    value = json.loads(content)
    assert value["setup"] == "Why did the cat sit on the computer?"
    assert isinstance(value["punchline"], str)
    assert 1 <= value["rating"] <= 5
    assert value["funny"] is True
    assert isinstance(value["tags"], list)
    assert len(value["tags"]) == 1
    assert set(value["author"]) == {"name", "age"}
    assert isinstance(value["author"]["age"], int)
    assert value["kind"] == "pun"
    streamed = "".join(deltas(stream(body), "content"))
    assert json.loads(streamed) == value


def test_json_mode_uses_the_keys_the_prompt_names() -> None:
    prompt = (
        "Tell me a joke about cats. Return the result as a JSON with 'setup' and 'punchline' "
        "keys. Return nothing other than JSON."
    )
    content = message(ask(prompt, response_format={"type": "json_object"}))["content"]
    assert set(json.loads(content)) == {"setup", "punchline"}


def test_a_question_over_given_context_is_answered_from_the_context() -> None:
    # The shape of LlamaIndex's text-QA prompt: metadata lines, documents, then the query.
    prompt = (
        "Context information is below.\n---------------------\nfile_path: docs/leave.txt\n\n"
        "Annual leave\n\nNew employees get 15 days of annual leave.\nLeave is booked in the "
        "portal.\n---------------------\nAnswer the query.\nQuery: {}\nAnswer: "
    )
    answer = message(ask(prompt.format("How many days of leave do new employees get?")))
    assert answer["content"] == "New employees get 15 days of annual leave."
    assert message(ask(prompt.format("Who founded Rome?")))["content"] == (
        "The context does not say."
    )


def test_stop_cuts_the_answer_before_the_stop_string() -> None:
    answer = respond(ask("hi", stop=["you"]))
    assert answer.body is not None
    choice = answer.body["choices"][0]
    assert choice["message"]["content"] == "Hello! How can I help "
    assert choice["finish_reason"] == "stop"


def test_max_tokens_cuts_the_output_and_finishes_with_length() -> None:
    chunks = stream(ask("Write a story about a cat.", max_tokens=30))
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["completion_tokens"] == 30
    assert len(chunks) == 31


# --- errors --------------------------------------------------------------------------------

ILLEGAL = "The messages parameter is illegal. Please check the documentation."


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param({"model": "glm-4.7-flash", "messages": []}, "1214", id="empty-messages"),
        pytest.param(
            {
                "model": "glm-4.7-flash",
                "messages": [
                    {"role": "system", "content": "hi"},
                    {"role": "assistant", "content": "hi"},
                ],
            },
            "1214",
            id="system-and-assistant-only",
        ),
        pytest.param(
            {"model": "glm-4.7-flash", "messages": [{"role": "human", "content": "hi"}]},
            "1214",
            id="unknown-role",
        ),
        pytest.param(
            ask("hi", model="no-such-model"),
            "1211",
            id="unknown-model",
        ),
        pytest.param(ask("hi", stop=["a", "b"]), "1210", id="two-stop-strings"),
        pytest.param(ask("hi", tool_choice="required", tools=[MAGIC]), "1210", id="tool-choice"),
        pytest.param(
            ask("hi", model="glm-4.1v-thinking-flash", thinking={"type": "disabled"}),
            "1210",
            id="thinking-disabled-on-forced",
        ),
        pytest.param(
            ask("hi", response_format={"type": "json_schema"}), "1210", id="json-schema-format"
        ),
    ],
)
def test_rejected_requests(body: dict[str, Any], code: str) -> None:
    status, got_code, text = error_of(respond(body))
    assert (status, got_code) == (400, code)
    if code == "1214":
        assert text == ILLEGAL
    if code == "1211":
        assert text == "模型不存在，请检查模型代码。"


def image_request(model: str, part: dict[str, Any]) -> dict[str, Any]:
    content = [{"type": "text", "text": "Describe this image."}, part]
    return {"model": model, "messages": [{"role": "user", "content": content}]}


@pytest.mark.parametrize(
    ("model", "part", "expected"),
    [
        pytest.param(
            "glm-4.6v-flash",
            {"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}},
            "message[0].content[1] has invalid field(s)",
            id="extra-key-on-part",
        ),
        pytest.param(
            "glm-4.6v-flash",
            {"type": "image_url", "image_url": {"url": PNG_BASE64, "detail": "low"}},
            "has invalid field(s)",
            id="extra-key-in-image-url",
        ),
        pytest.param(
            "glm-4.6v-flash",
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG_BASE64}},
            "bare base64",
            id="data-url",
        ),
        pytest.param(
            "glm-4.7-flash",
            {"type": "image_url", "image_url": {"url": PNG_BASE64}},
            "does not accept image_url",
            id="image-to-text-model",
        ),
        pytest.param(
            "glm-4-flash-250414",
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            "does not accept image_url",
            id="image-to-glm-4-flash-250414",
        ),
    ],
)
def test_rejected_content_parts(model: str, part: dict[str, Any], expected: str) -> None:
    status, code, text = error_of(respond(image_request(model, part)))
    assert (status, code) == (400, "1210")
    assert expected in text


def test_vision_model_describes_a_bare_base64_image() -> None:
    part = {"type": "image_url", "image_url": {"url": PNG_BASE64}}
    answer = message(image_request("glm-4.6v-flash", part))
    assert answer["content"] == "The image shows a PNG picture of 64 by 48 pixels."
    assert answer["reasoning_content"]


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Describe this drawing.", "The image is a simple drawing of a sunset: a yellow sun"),
        ("What colours do you see?", "The image shows a blue sky fading to pink"),
    ],
)
def test_a_picture_it_was_told_about_is_described(prompt: str, expected: str) -> None:
    # The cookbook's picture (= tests/fixtures/picture.png); the emulator cannot see, so its
    # description was written down by a person.
    picture = base64.b64encode(PICTURE.read_bytes()).decode()
    body = {
        "model": "glm-4.6v-flash",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": picture}},
                    {"type": "text", "text": prompt},
                ],
            }
        ],
    }
    assert message(body)["content"].startswith(expected)


def test_an_image_url_is_described_by_its_file_name() -> None:
    url = "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"
    part = {"type": "image_url", "image_url": {"url": url}}
    answer = message(image_request("glm-4.6v-flash", part))["content"]
    assert answer == "The image shows a Camponotus flavomarginatus ant."
    part = {"type": "image_url", "image_url": {"url": "https://example.com/IMG_2041.jpg"}}
    answer = message(image_request("glm-4.6v-flash", part))["content"]
    assert answer == "The image shows the picture IMG_2041.jpg."


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Write a haiku about the Yangtze river.", "Yangtze, wide and brown\n"),
        ("Write a haiku about a cat.", "Morning light spills in\nA cat"),
        ("Tell me a joke about pandas.", "Why do pandas like old movies?"),
        ("Tell me a joke about green tea.", "Why did the green tea"),
    ],
)
def test_haikus_and_jokes_are_about_what_was_asked(prompt: str, expected: str) -> None:
    assert message(ask(prompt, model="glm-4-flash-250414"))["content"].startswith(expected)


def test_thinking_is_ignored_by_a_model_without_reasoning() -> None:
    assert respond(ask("hi", model="glm-4-flash-250414", thinking={"type": "x"})).status == 200


def test_bodies_that_are_not_json_objects_are_rejected() -> None:
    assert error_of(respond_bytes(b"{not json"))[:2] == (400, "1210")
    assert error_of(respond_bytes(b"[]"))[:2] == (400, "1210")


def test_authorization_rules() -> None:
    assert check_authorization("Bearer abc.def") is None
    for missing in (None, "", "  "):
        response = check_authorization(missing)
        assert response is not None
        assert error_of(response)[:2] == (401, "1001")
    for malformed in ("Bearer ", "Basic abc"):
        response = check_authorization(malformed)
        assert response is not None
        assert error_of(response)[:2] == (401, "1002")


# --- determinism and framing ---------------------------------------------------------------


@pytest.mark.parametrize("streaming", [True, False])
def test_identical_requests_get_identical_bytes(streaming: bool) -> None:
    body = ask(MAGIC_PROMPT, tools=[MAGIC], stream=streaming)
    first, second = respond(body), respond(json.loads(json.dumps(body)))
    assert first.payload() == second.payload()
    assert first.headers == second.headers
    other = respond(ask(MAGIC_PROMPT + " ", tools=[MAGIC], stream=streaming))
    assert other.payload() != first.payload()


def test_ids_look_like_glm_ids_and_match_created() -> None:
    response = respond(ask("Hello"))
    assert response.body is not None
    response_id, created = response.body["id"], response.body["created"]
    assert re.fullmatch(r"20\d{12}[0-9a-f]{16}", response_id)
    # The id starts with the creation time in China time (UTC+8), as real ids do.
    stamp = datetime.fromtimestamp(created, timezone(timedelta(hours=8)))
    assert response_id.startswith(stamp.strftime("%Y%m%d%H%M%S"))


def test_sse_bytes_frame_each_chunk_and_end_with_done() -> None:
    chunks: list[dict[str, Any]] = [{"a": "é"}, {"b": [1, 2]}]
    assert stream_body(chunks) == (
        'data: {"a":"é"}\n\ndata: {"b":[1,2]}\n\ndata: [DONE]\n\n'.encode()
    )


def test_pieces_rebuild_the_text() -> None:
    text = "Hello, 世界! It's 12345 o'clock.\n\n  {\"a\": 1} 👋"
    assert "".join(pieces(text)) == text
    assert len(pieces(text)) > 10


@pytest.mark.emulator
def test_server_streams_the_framing_bytes_over_loopback() -> None:
    threads_before = threading.active_count()
    body = ask("Hello", stream=True)
    with running_emulator() as base_url, httpx.Client(base_url=base_url, timeout=5) as client:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/paas/v4", base_url)
        headers = {"Authorization": "Bearer test.key"}
        with client.stream("POST", "/chat/completions", json=body, headers=headers) as reply:
            assert reply.status_code == 200
            assert reply.headers["content-type"] == "text/event-stream; charset=utf-8"
            received = b"".join(reply.iter_raw())
        assert received == respond(body).payload()
        assert received.endswith(b"\n\ndata: [DONE]\n\n")

        plain = client.post("/chat/completions", json=ask("Hello"), headers=headers)
        assert plain.status_code == 200
        assert plain.json()["choices"][0]["message"]["content"]

        denied = client.post("/chat/completions", json=body)
        assert denied.status_code == 401
        assert denied.headers["content-type"] == "application/json; charset=utf-8"
        assert denied.json()["error"]["code"] == "1001"

        rejected = client.post("/chat/completions", json={**body, "messages": []}, headers=headers)
        assert rejected.status_code == 400
        assert rejected.json() == {"error": {"code": "1214", "message": ILLEGAL}}
    assert threading.active_count() == threads_before


# --- late 2026: GLM-5.3 thinking contract, web_search (docs/glm-api.md §3, §6.3) ----------

ALWAYS_THINKS = "该模型始终思考，不支持关闭思考；请使用 low、high 或 max。"
WEB_SEARCH = {"type": "web_search", "web_search": {"enable": True, "search_result": True}}


@pytest.mark.parametrize("model", ["glm-5.3-flash", "glm-5.3"])
def test_glm53_answers_thinking_disabled_and_foreign_efforts_with_1210(model: str) -> None:
    for extra in ({"thinking": {"type": "disabled"}}, {"reasoning_effort": "medium"}):
        assert error_of(respond(ask("hi", model=model, **extra))) == (400, "1210", ALWAYS_THINKS)
    for effort in ("low", "high", "max"):
        chunks = stream(ask("hi", model=model, reasoning_effort=effort))
        assert deltas(chunks, "reasoning_content")  # it always thinks


def test_glm52_takes_its_efforts_and_other_models_ignore_the_field() -> None:
    assert respond(ask("hi", model="glm-5.2", reasoning_effort="xhigh")).status == 200
    assert error_of(respond(ask("hi", model="glm-5.2", reasoning_effort="ultra")))[1] == "1210"
    assert respond(ask("hi", model="glm-5.1", reasoning_effort="low")).status == 200


def test_glm53_flash_takes_images() -> None:
    part = {"type": "image_url", "image_url": {"url": PNG_BASE64}}
    assert message(image_request("glm-5.3-flash", part))["content"].startswith("The image")


def _results(chunks: list[dict[str, Any]]) -> list[tuple[int, list[dict[str, Any]]]]:
    return [(i, c["web_search"]) for i, c in enumerate(chunks) if "web_search" in c]


def test_web_search_results_come_once_on_the_final_chunk_in_glms_shape() -> None:
    chunks = stream(ask("Latest news about the Yangtze?", tools=[WEB_SEARCH]))
    ((where, results),) = _results(chunks)
    assert where == len(chunks) - 1
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop" and "usage" in final
    assert [list(r) for r in results] == [
        ["refer", "title", "link", "content", "media", "icon", "publish_date"]
    ] * 2
    assert all("emulator" in r["content"] and "example.com" in r["link"] for r in results)
    assert "[ref_1][ref_2]" in "".join(deltas(chunks, "content"))


def test_web_search_results_before_the_answer_on_request() -> None:
    tool = {
        "type": "web_search",
        "web_search": {**WEB_SEARCH["web_search"], "result_sequence": "before"},
    }
    chunks = stream(ask("Latest news?", tools=[tool]))
    assert [i for i, _ in _results(chunks)] == [0]


def test_web_search_non_stream_and_without_results() -> None:
    body = respond(ask("Latest news?", tools=[WEB_SEARCH])).body
    assert body is not None and list(body)[-1] == "web_search" and len(body["web_search"]) == 2
    quiet = {"type": "web_search", "web_search": {"enable": True}}
    assert "web_search" not in (respond(ask("Latest news?", tools=[quiet])).body or {})
    off = {"type": "web_search", "web_search": {"enable": False}}
    assert "[ref_1]" not in message(ask("Latest news?", tools=[off])).get("content", "")


# --- what LlamaIndex's pipelines send ------------------------------------------------------

SONG = {
    "type": "function",
    "function": {
        "name": "StructuredRefineResponse",
        "parameters": {
            "type": "object",
            "properties": {
                "query_satisfied": {"type": "boolean"},
                "answer": {"type": "string"},
            },
            "required": ["query_satisfied", "answer"],
        },
    },
}
RIVERS = (
    "Context information is below.\n---------------------\nThe Yangtze is the longest river "
    "in China.\n---------------------\nQuery: Which is the longest river?\nAnswer: "
)


def test_a_lone_schema_tool_is_called_with_the_answer_in_its_shape() -> None:
    (call,) = message(ask(RIVERS, tools=[SONG]))["tool_calls"]
    assert call["function"]["name"] == "StructuredRefineResponse"
    assert json.loads(call["function"]["arguments"]) == {
        "query_satisfied": True,
        "answer": "The Yangtze is the longest river in China.",
    }
    # A snake_case tool is an action: not called unless the prompt asks for it.
    assert "tool_calls" not in message(ask(RIVERS, tools=[MAGIC]))


def test_a_refine_prompt_keeps_a_better_original_answer() -> None:
    refine = (
        "New Context: The Yellow River is second.\nQuery: Which is the longest river in "
        "China?\nOriginal Answer: The Yangtze is the longest river in China.\nNew Answer: "
    )
    assert message(ask(refine))["content"] == "The Yangtze is the longest river in China."


def test_context_in_a_system_message_answers_the_user_question() -> None:
    system = (
        "Use the context information below to assist the user.\n--------------------\n"
        "The Yangtze is 6,300 km long.\nThe Pearl River flows into the South China Sea.\n"
        "--------------------\n"
    )
    body = ask("Where does the Pearl River flow?")
    body["messages"].insert(0, {"role": "system", "content": system})
    assert message(body)["content"] == "The Pearl River flows into the South China Sea."
    body["messages"][-1]["content"] = "Hello"  # nothing in the context: the usual rules
    assert message(body)["content"] == "Hello! How can I help you today?"


@pytest.mark.parametrize(
    "prompt",
    [
        "Rewrite the message to be a standalone question.\n\n<Chat History>\nuser: Hi\n\n"
        "<Follow Up Message>\nAnd the second longest?\n\n<Standalone question>\n",
        "Rephrase the follow up question to be a standalone question.\n\nChat History:\n"
        "user: Hi\n  Follow Up Input: And the second longest?\n  Standalone question:",
    ],
)
def test_a_condense_prompt_gets_the_follow_up_back(prompt: str) -> None:
    assert message(ask(prompt))["content"] == "And the second longest?"


def test_json_asked_for_in_the_prompt_with_escaped_braces() -> None:
    # LlamaIndex's output parsers append the schema with the template's braces doubled.
    prompt = (
        "Make up a song called 'Blue Moon', released in 1999.\n\nHere's a JSON schema to "
        'follow:\n{{"properties": {{"title": {{"type": "string"}}, "year": {{"type": '
        '"integer"}}}}, "required": ["title", "year"], "type": "object"}}\n\nOutput a valid '
        "JSON object but do not repeat the schema."
    )
    assert json.loads(message(ask(prompt))["content"]) == {"title": "Blue Moon", "year": 1999}


@pytest.mark.emulator
def test_server_logs_requests_and_counts_them_in_flight() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from glm_emulator.server import serving_emulator

    headers = {"Authorization": "Bearer test.key"}
    with serving_emulator(hold=3, hold_timeout=5) as server:

        def post(i: int) -> int:
            with httpx.Client(base_url=server.base_url, timeout=10) as client:
                reply = client.post("/chat/completions", json=ask(f"{i} + 1"), headers=headers)
                return reply.status_code

        with ThreadPoolExecutor(3) as pool:
            assert list(pool.map(post, range(3))) == [200, 200, 200]
        # All three were held until all three were open: the count saw them together.
        assert server.peak_in_flight == 3
        assert server.in_flight == 0
        assert sorted(b["messages"][0]["content"] for b in server.bodies()) == [
            "0 + 1",
            "1 + 1",
            "2 + 1",
        ]


@pytest.mark.emulator
def test_server_enforces_a_concurrency_limit_per_model_with_1302() -> None:
    from glm_emulator.server import serving_emulator

    headers = {"Authorization": "Bearer test.key"}
    with (
        serving_emulator(concurrency_limit=1, pace=0.05) as server,
        httpx.Client(base_url=server.base_url, timeout=10) as client,
    ):
        body = {**ask("Hi"), "stream": True}
        with client.stream("POST", "/chat/completions", json=body, headers=headers) as open_:
            lines = open_.iter_lines()
            first = next(lines)
            assert first.startswith("data: ")
            # One stream of the model is open: the next request to it is over the limit,
            # a request to another model is not.
            over = client.post("/chat/completions", json=ask("Hi"), headers=headers)
            other = client.post(
                "/chat/completions",
                json={**ask("Hi"), "model": "glm-4-flash-250414"},
                headers=headers,
            )
            rest = list(lines)
        assert over.status_code == 429
        assert over.json()["error"]["code"] == "1302"
        assert other.status_code == 200
        assert "data: [DONE]" in rest  # the open stream was not disturbed
        # After the stream ended the model takes a request again.
        assert client.post("/chat/completions", json=ask("Hi"), headers=headers).is_success
    assert server.rejected == 1
    assert server.peak_by_model[ask("Hi")["model"]] == 1
