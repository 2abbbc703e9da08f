"""Messages to the wire (text, images, video, tool history, reasoning) and tool plumbing."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    DocumentBlock,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
    VideoBlock,
)
from llama_index.core.tools import FunctionTool

from tests.llama_index._support import Recorder, answer, chunk, make_llm, sse
from zhipu_flash import InvalidRequestInputError

PICTURE = Path(__file__).parents[1] / "fixtures" / "picture.png"
PICTURE_B64 = base64.b64encode(PICTURE.read_bytes()).decode()


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


TOOLS = [FunctionTool.from_defaults(add), FunctionTool.from_defaults(multiply)]


def _sent(messages: list[ChatMessage], **kwargs: Any) -> dict[str, Any]:
    recorder = Recorder(answer("ok"))
    make_llm(recorder, **kwargs).chat(messages)
    (body,) = recorder.bodies
    return body


# -- images, video, documents -----------------------------------------------------------


def _image_message(block: ImageBlock) -> list[ChatMessage]:
    return [ChatMessage(role="user", blocks=[TextBlock(text="What is this?"), block])]


@pytest.mark.parametrize(
    ("block", "url"),
    [
        (ImageBlock(url="https://example.com/cat.png"), "https://example.com/cat.png"),
        (ImageBlock(path=PICTURE), PICTURE_B64),
        (ImageBlock(image=PICTURE.read_bytes()), PICTURE_B64),
        (ImageBlock(url=f"data:image/png;base64,{PICTURE_B64}"), PICTURE_B64),
    ],
    ids=["url", "path", "bytes", "data-url"],
)
def test_images_reach_the_wire_in_the_accepted_form(
    block: ImageBlock, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_download(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("resolve_image() downloads URLs; it must not be called")

    monkeypatch.setattr(ImageBlock, "resolve_image", no_download)
    body = _sent(_image_message(block), model="glm-4.6v-flash")
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


def test_url_images_are_never_downloaded() -> None:
    requests: list[httpx.Request] = []
    recorder = Recorder(answer("a cat"))

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return recorder(request)

    llm = make_llm(handler, model="glm-4.6v-flash")
    llm.chat(_image_message(ImageBlock(url="https://example.com/cat.png")))
    assert [(r.method, r.url.path) for r in requests] == [("POST", "/api/paas/v4/chat/completions")]


def test_video_url_becomes_video_url_part() -> None:
    block = VideoBlock(url="https://example.com/clip.mp4")
    message = ChatMessage(role="user", blocks=[TextBlock(text="Describe"), block])
    body = _sent([message], model="glm-4.6v-flash")
    assert body["messages"][0]["content"][1] == {
        "type": "video_url",
        "video_url": {"url": "https://example.com/clip.mp4"},
    }


def test_document_url_becomes_file_url_part() -> None:
    message = ChatMessage(
        role="user",
        blocks=[TextBlock(text="Summarise"), DocumentBlock(url="https://example.com/a.pdf")],
    )
    body = _sent([message], model="glm-4.6v-flash")
    assert body["messages"][0]["content"][1] == {
        "type": "file_url",
        "file_url": {"url": "https://example.com/a.pdf"},
    }


def test_image_to_a_text_only_model_fails_before_the_request() -> None:
    recorder = Recorder(answer("never"))
    llm = make_llm(recorder, model="glm-4.7-flash")
    with pytest.raises(InvalidRequestInputError, match="text-only model"):
        llm.chat(_image_message(ImageBlock(url="https://example.com/cat.png")))
    with pytest.raises(InvalidRequestInputError, match="text-only model"):
        llm.stream_chat(_image_message(ImageBlock(path=PICTURE)))
    assert recorder.bodies == []


async def test_image_to_a_text_only_model_fails_before_the_request_async() -> None:
    recorder = Recorder(answer("never"))
    llm = make_llm(recorder, model="glm-4-flash-250414")
    with pytest.raises(InvalidRequestInputError, match="text-only model"):
        await llm.astream_chat(_image_message(ImageBlock(path=PICTURE)))
    assert recorder.bodies == []


def test_local_video_is_refused_clearly(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    message = ChatMessage(role="user", blocks=[TextBlock(text="x"), VideoBlock(path=clip)])
    with pytest.raises(InvalidRequestInputError, match="URL"):
        make_llm(Recorder(answer("never")), model="glm-4.6v-flash").chat([message])


# -- history: roles, tool calls, tool results, reasoning ---------------------------------


def _agent_history() -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content="Use tools."),
        ChatMessage(role="user", content="What is (2+3)*4?"),
        ChatMessage(
            role="assistant",
            blocks=[
                ThinkingBlock(content="Add first, then multiply."),
                TextBlock(text=""),
                ToolCallBlock(tool_call_id="call_a", tool_name="add", tool_kwargs={"a": 2, "b": 3}),
                ToolCallBlock(
                    tool_call_id="call_m", tool_name="multiply", tool_kwargs='{"a": 5, "b": 4}'
                ),
            ],
            additional_kwargs={"reasoning_content": "Add first, then multiply."},
        ),
        ChatMessage(
            role="tool", blocks=[TextBlock(text="5")], additional_kwargs={"tool_call_id": "call_a"}
        ),
        ChatMessage(role="tool", content="20", additional_kwargs={"tool_call_id": "call_m"}),
    ]


def _expected_history(reasoning: bool) -> list[dict[str, Any]]:
    assistant: dict[str, Any] = {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
            },
            {
                "id": "call_m",
                "type": "function",
                "function": {"name": "multiply", "arguments": '{"a": 5, "b": 4}'},
            },
        ],
    }
    if reasoning:
        assistant["reasoning_content"] = "Add first, then multiply."
    return [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "What is (2+3)*4?"},
        assistant,
        {"role": "tool", "content": "5", "tool_call_id": "call_a"},
        {"role": "tool", "content": "20", "tool_call_id": "call_m"},
    ]


def test_the_current_tool_loop_is_serialised_with_ids_and_its_reasoning() -> None:
    # Interleaved thinking: inside the turn's tool loop GLM gets its reasoning back.
    assert _sent(_agent_history())["messages"] == _expected_history(reasoning=True)


def test_earlier_turns_reasoning_is_echoed_only_with_preserved_thinking() -> None:
    later = ChatMessage(role="user", content="And (2+3)*5?")
    body = _sent([*_agent_history(), later])
    assert body["messages"] == [
        *_expected_history(reasoning=False),
        {"role": "user", "content": later.content},
    ]
    body = _sent([*_agent_history(), later], clear_thinking=False)
    assert body["messages"] == [
        *_expected_history(reasoning=True),
        {"role": "user", "content": later.content},
    ]
    assert body["thinking"] == {"type": "enabled", "clear_thinking": False}


def test_other_roles_map_to_glm_roles() -> None:
    messages = [
        ChatMessage(role="developer", content="Be brief."),
        ChatMessage(role="user", content="Hi"),
        ChatMessage(role="model", content="Hello"),
        ChatMessage(role="user", blocks=[TextBlock(text="a"), TextBlock(text="b")]),
    ]
    assert _sent(messages)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "a\nb"},
    ]


def test_tool_result_without_id_is_a_clear_error() -> None:
    messages = [ChatMessage(role="user", content="x"), ChatMessage(role="tool", content="5")]
    with pytest.raises(InvalidRequestInputError, match="tool_call_id"):
        _sent(messages)


# -- _prepare_chat_with_tools --------------------------------------------------------------


def test_prepare_never_mutates_the_callers_history() -> None:
    history = [ChatMessage(role="user", content="first")]
    llm = make_llm(Recorder(answer("ok")))
    prepared = llm._prepare_chat_with_tools(TOOLS, user_msg="second", chat_history=history)
    assert [m.content for m in history] == ["first"]
    assert [m.content for m in prepared["messages"]] == ["first", "second"]
    assert prepared["tool_choice"] == "auto"
    assert [t["function"]["name"] for t in prepared["tools"]] == ["add", "multiply"]


@pytest.mark.parametrize(
    "kwargs",
    [{"tool_required": True}, {"tool_choice": "add"}, {"tool_choice": "required"}],
)
def test_forced_tool_choice_is_sent_as_auto_with_a_warning(
    kwargs: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(answer("ok"))
    llm = make_llm(recorder)
    with caplog.at_level(logging.WARNING):
        llm.chat_with_tools(TOOLS, user_msg="2+3?", **kwargs)
        llm.chat_with_tools(TOOLS, user_msg="2+3?", **kwargs)
    body = recorder.bodies[0]
    assert body["tool_choice"] == "auto"
    assert [t["function"]["name"] for t in body["tools"]] == ["add", "multiply"]
    assert body["tools"][0]["function"]["parameters"]["required"] == ["a", "b"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # the core's, once: the second call is logged at DEBUG
    assert "tool_choice='auto' only" in warnings[0].getMessage()


def test_tool_choice_none_sends_no_tools() -> None:
    recorder = Recorder(answer("ok"))
    make_llm(recorder).chat_with_tools(TOOLS, user_msg="hi", tool_choice="none")
    assert "tools" not in recorder.bodies[0]
    assert "tool_choice" not in recorder.bodies[0]


# -- tool calls in responses ---------------------------------------------------------------

TWO_CALLS = [
    {"id": "call_1", "index": 0, "type": "function",
     "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}},
    {"id": "call_2", "index": 1, "type": "function",
     "function": {"name": "multiply", "arguments": '{"a": 4, "b": 5}'}},
]  # fmt: skip
USAGE = {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70}


def _two_call_stream() -> bytes:
    # GLM repeats the finish on a second chunk; here that chunk repeats the calls too.
    return sse(
        chunk(reasoning="Two tools."),
        chunk(content="\n"),
        chunk(tool_calls=TWO_CALLS, finish="tool_calls"),
        chunk(tool_calls=TWO_CALLS, content="", finish="tool_calls", usage=USAGE),
    )


def test_several_calls_per_turn_without_duplicates() -> None:
    llm = make_llm(Recorder(_two_call_stream()))
    responses = list(llm.stream_chat_with_tools(TOOLS, user_msg="go"))
    assert len(responses) == 4
    last = responses[-1]
    calls = llm.get_tool_calls_from_response(last)
    assert [(c.tool_id, c.tool_name, c.tool_kwargs) for c in calls] == [
        ("call_1", "add", {"a": 2, "b": 3}),
        ("call_2", "multiply", {"a": 4, "b": 5}),
    ]
    assert last.additional_kwargs["finish_reason"] == "tool_calls"
    assert last.additional_kwargs["total_tokens"] == 70
    # The calls are also listed in the OpenAI shape, which llama-index-core reads.
    assert last.message.additional_kwargs == {
        "reasoning_content": "Two tools.",
        "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}},
            {"id": "call_2", "type": "function",
             "function": {"name": "multiply", "arguments": '{"a": 4, "b": 5}'}},
        ],
    }  # fmt: skip
    assert responses[1].delta == "\n"
    # A tool-call-only chunk is yielded, with the calls already in the message.
    assert responses[2].delta == ""
    assert len(llm.get_tool_calls_from_response(responses[2])) == 2


def test_chat_with_tools_keeps_the_first_call_without_parallel_calls() -> None:
    llm = make_llm(Recorder(_two_call_stream()))
    response = llm.chat_with_tools(TOOLS, user_msg="go", allow_parallel_tool_calls=False)
    calls = llm.get_tool_calls_from_response(response)
    assert [c.tool_id for c in calls] == ["call_1"]
    assert [c["id"] for c in response.message.additional_kwargs["tool_calls"]] == ["call_1"]
    response = llm.chat_with_tools(TOOLS, user_msg="go", allow_parallel_tool_calls=True)
    assert [c.tool_id for c in llm.get_tool_calls_from_response(response)] == ["call_1", "call_2"]


def test_index_minus_one_is_handled() -> None:
    call = {"id": "call_x", "index": -1, "type": "function",
            "function": {"name": "add", "arguments": '{"a": 1, "b": 1}'}}  # fmt: skip
    body = sse(chunk(tool_calls=[call], finish="tool_calls"), chunk(content="", usage=USAGE))
    llm = make_llm(Recorder(body))
    response = llm.chat_with_tools(TOOLS, user_msg="1+1")
    assert [(c.tool_id, c.tool_kwargs) for c in llm.get_tool_calls_from_response(response)] == [
        ("call_x", {"a": 1, "b": 1})
    ]


def test_streamed_argument_fragments_are_tolerated_mid_stream() -> None:
    first = {"id": "call_f", "index": 0, "type": "function",
             "function": {"name": "add", "arguments": '{"a": 1'}}  # fmt: skip
    rest = {"index": 0, "function": {"arguments": ', "b": 2}'}}
    body = sse(
        chunk(tool_calls=[first]),
        chunk(tool_calls=[rest], finish="tool_calls"),
        chunk(content="", finish="tool_calls", usage=USAGE),
    )
    llm = make_llm(Recorder(body), tool_stream=True)
    responses = list(llm.stream_chat_with_tools(TOOLS, user_msg="1+2"))
    partial = [b for b in responses[0].message.blocks if isinstance(b, ToolCallBlock)]
    assert partial[0].tool_kwargs == '{"a": 1'  # raw while incomplete
    mid = llm.get_tool_calls_from_response(responses[0], error_on_no_tool_call=False)
    assert [(c.tool_name, c.tool_kwargs) for c in mid] == [("add", {"a": 1})]
    final = llm.get_tool_calls_from_response(responses[-1])
    assert [(c.tool_id, c.tool_kwargs) for c in final] == [("call_f", {"a": 1, "b": 2})]


def test_get_tool_calls_without_calls() -> None:
    llm = make_llm(Recorder(answer("ok")))
    response = ChatResponse(message=ChatMessage(role="assistant", content="no tools"))
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="tool call"):
        llm.get_tool_calls_from_response(response)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [("not json at all", {}), ('{"a": [1, 2', {"a": [1, 2]}), ("[1, 2]", {}), ("", {})],
)
def test_get_tool_calls_never_raises_on_bad_arguments(kwargs: str, expected: Any) -> None:
    llm = make_llm(Recorder(answer("ok")))
    block = ToolCallBlock(tool_call_id="c", tool_name="add", tool_kwargs=kwargs)
    response = ChatResponse(message=ChatMessage(role="assistant", blocks=[block]))
    (call,) = llm.get_tool_calls_from_response(response)
    assert call.tool_kwargs == expected
