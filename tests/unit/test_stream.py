"""Streams through the client, sync and async from the same tests: the real samples in
tests/fixtures/wire replayed exactly, then each GLM quirk and each way a stream can end."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

import zhipu_flash as zf
from glm_emulator import frames
from tests.unit._helpers import DONE, USAGE, Server, chunk, make_client, run_stream, sse
from tests.wire import wire_body, wire_sse
from zhipu_flash._stream import StreamParser

MODES = ["sync", "async"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


# --- the real samples -------------------------------------------------------------------


@pytest.mark.parametrize("piece", [1, 7, 100, 1 << 20])
def test_glm45_reasoning_sample(mode: str, piece: int) -> None:
    server = Server(
        [sse(_pieces(wire_sse("glm-4.5_stream_reasoning_usage_cached_nuvin_REPAIRED.sse"), piece))]
    )
    chunks, final = run_stream(mode, server)
    assert final.content == "\n\nHi!"
    assert final.reasoning_content == (
        'The user just said "hi", which is a simple greeting. I should respond with a brief '
        "greeting back, following the instructions to keep responses concise and direct."
    )
    assert final.tool_calls == []
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (6042, 39)
    assert final.usage.total_tokens == 6081
    assert final.usage.cached_tokens == 43
    assert final.id == "20251001154016c72e2da818044216"
    assert final.model == "glm-4.5"
    assert final.malformed_frames == 0
    # Every frame became a chunk (the leading "\n" content chunk included: bytes are kept).
    assert len(chunks) == 37
    assert chunks[0].delta is not None and chunks[0].delta.content == "\n"


def test_glm4_plain_sample(mode: str) -> None:
    server = Server([sse([wire_sse("glm-4_stream_plain_usage_langchain-openai-tests.jsonl")])])
    _, final = run_stream(mode, server)
    assert final.content == "人工智能助手，你可以叫我AI助手。"
    assert final.reasoning_content == ""
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert final.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 13,
        "completion_tokens": 10,
        "total_tokens": 23,
    }


def test_glm4_flash_content_sample(mode: str) -> None:
    body = wire_sse("glm-4-flash_stream_loop4_content_stop_mini-claude-design.sse")
    _, final = run_stream(mode, Server([sse(_pieces(body, 13))]))
    assert final.content == (
        "登录页面已成功生成。您可以在项目中查看 `index.html`、`styles/main.css` 和 "
        "`js/main.js` 文件以查看相应的代码。"
    )
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert final.usage.total_tokens == 3348


def test_glm4_flash_tool_call_sample_has_one_call_and_one_finish(mode: str) -> None:
    name = "glm-4-flash_stream_loop2_toolcall_only_mini-claude-design.sse"
    # The expected call, read straight from the sample's first frame with json.
    first = json.loads(wire_body(name).split(b"\n")[0][len(b"data: ") :])
    wire_call = first["choices"][0]["delta"]["tool_calls"][0]
    chunks, final = run_stream(mode, Server([sse([wire_sse(name)])]))
    assert len(chunks) == 2
    assert [c.choices[0].finish_reason for c in chunks] == ["tool_calls", "tool_calls"]
    assert final.finish_reason == "tool_calls"
    assert final.content == ""
    assert len(final.tool_calls) == 1
    call = final.tool_calls[0]
    assert call.id == "call_2026051310410914b9cb9d9a1d4168_0"
    assert call.function.name == "write_file"
    assert call.function.arguments == wire_call["function"]["arguments"]
    assert json.loads(call.function.arguments)["path"] == "styles/main.css"
    assert final.usage is not None
    assert (final.usage.prompt_tokens, final.usage.completion_tokens) == (2692, 465)


def test_docs_sample_without_blank_lines(mode: str) -> None:
    body = wire_sse("DOCS_glm-4-plus_stream_finish-length_old-open.bigmodel.cn-dev-api.txt")
    _, final = run_stream(mode, Server([sse([body])]))
    assert final.content == "土星，主要由"
    assert final.finish_reason == "length"
    assert final.usage is not None
    assert final.usage.completion_tokens == 100


def test_docs_synthetic_sample_with_finish_reason_null(mode: str) -> None:
    # Hand-written docs example: "finish_reason": null on intermediate chunks and a "..."
    # line standing for elided events. The null is accepted; the "..." line is no SSE field.
    body = wire_sse("DOCS-SYNTHETIC_glm-4.7_stream_example_docs.z.ai.txt")
    _, final = run_stream(mode, Server([sse([body])]))
    assert final.content == "Spring comes with"
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert final.usage.cached_tokens == 0


# --- quirks -------------------------------------------------------------------------------


def test_role_only_and_empty_content_chunks_are_not_text(mode: str) -> None:
    parts = [
        chunk(reasoning="think"),
        chunk("a"),
        chunk(""),
        chunk("b", finish="stop", usage=USAGE),
        DONE,
    ]
    chunks, final = run_stream(mode, Server([sse(parts)]))
    assert final.content == "ab"
    assert final.reasoning_content == "think"
    assert len(chunks) == 4


def test_tool_call_index_minus_one_is_renumbered(mode: str) -> None:
    call = {
        "id": "call_a",
        "index": -1,
        "type": "function",
        "function": {"name": "add", "arguments": '{"a": 1}'},
    }
    call2 = {
        "id": "call_b",
        "index": -1,
        "type": "function",
        "function": {"name": "mul", "arguments": '{"b": 2}'},
    }
    parts = [
        chunk("\n"),
        chunk(tool_calls=[call]),
        chunk(tool_calls=[call2], finish="tool_calls"),
        chunk("", finish="tool_calls", usage=USAGE),
        DONE,
    ]
    chunks, final = run_stream(mode, Server([sse(parts)]))
    assert [(t.index, t.id, t.function.name, t.function.arguments) for t in final.tool_calls] == [
        (0, "call_a", "add", '{"a": 1}'),
        (1, "call_b", "mul", '{"b": 2}'),
    ]
    deltas = [d.index for c in chunks if c.delta and c.delta.tool_calls for d in c.delta.tool_calls]
    assert deltas == [0, 1]


def test_tool_stream_fragments_merge_by_index(mode: str) -> None:
    parts = [
        chunk(
            tool_calls=[
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        ),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '"杭州"}'}}]),
        chunk(
            tool_calls=[
                {
                    "index": 1,
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                }
            ]
        ),
        chunk("", finish="tool_calls", usage=USAGE),
        DONE,
    ]
    _, final = run_stream(mode, Server([sse(parts)]), tool_stream=True)
    assert [(t.id, t.function.name, t.function.arguments) for t in final.tool_calls] == [
        ("call_1", "get_weather", '{"city": "杭州"}'),
        ("call_2", "get_time", "{}"),
    ]


def test_whole_call_repeated_on_second_finish_chunk_is_dropped(mode: str) -> None:
    call = {
        "id": "call_x",
        "index": 0,
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    parts = [
        chunk(tool_calls=[call], finish="tool_calls"),
        chunk("", tool_calls=[call], finish="tool_calls", usage=USAGE),
        DONE,
    ]
    chunks, final = run_stream(mode, Server([sse(parts)]))
    assert len(final.tool_calls) == 1
    assert chunks[1].delta is not None and chunks[1].delta.tool_calls == []


def test_same_index_with_a_new_id_is_a_second_call(mode: str) -> None:
    a = {
        "id": "call_a",
        "index": 0,
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    b = {
        "id": "call_b",
        "index": 0,
        "type": "function",
        "function": {"name": "g", "arguments": "{}"},
    }
    parts = [chunk(tool_calls=[a]), chunk(tool_calls=[b], finish="tool_calls"), DONE]
    _, final = run_stream(mode, Server([sse(parts)]))
    assert [t.function.name for t in final.tool_calls] == ["f", "g"]


def test_arguments_as_object_and_null(mode: str) -> None:
    a = {
        "id": "c1",
        "index": 0,
        "type": "function",
        "function": {"name": "f", "arguments": {"x": "é"}},
    }
    b = {"id": "c2", "index": 1, "type": "function", "function": {"name": "g", "arguments": None}}
    _, final = run_stream(
        mode, Server([sse([chunk(tool_calls=[a, b], finish="tool_calls"), DONE])])
    )
    assert [t.function.arguments for t in final.tool_calls] == ['{"x": "é"}', "{}"]


def test_content_null_is_accepted(mode: str) -> None:
    frame = (
        b'data: {"id":"r","choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}\n\n'
    )
    _, final = run_stream(mode, Server([sse([frame, chunk("ok", finish="stop"), DONE])]))
    assert final.content == "ok"


def test_empty_choices_usage_chunk(mode: str) -> None:
    usage_only = (
        b'data: {"id":"r","choices":[],'
        b'"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n'
    )
    _, final = run_stream(mode, Server([sse([chunk("x", finish="stop"), usage_only, DONE])]))
    assert final.usage is not None and final.usage.total_tokens == 3


def test_unknown_fields_and_finish_reasons_pass_through(mode: str) -> None:
    frame = (
        b'data: {"id":"r","model":"glm-5","choices":[{"index":0,"finish_reason":"brand_new",'
        b'"delta":{"role":"assistant","content":"x","audio":{"id":"a"}}}],'
        b'"content_filter":[{"role":"assistant","level":1}],"web_search":[1]}\n\n'
    )
    chunks, final = run_stream(mode, Server([sse([frame, DONE])]))
    assert final.finish_reason == "brand_new"
    assert chunks[0].model_extra == {"content_filter": [{"role": "assistant", "level": 1}]}
    assert final.model_extra == {"content_filter": [{"role": "assistant", "level": 1}]}
    # A web_search of an unexpected shape costs neither the chunk nor the value.
    assert [r.content for r in final.web_search or ()] == ["1"]


def test_think_and_box_markers_moved_out_of_content(mode: str) -> None:
    text = "<think>look at the sky</think><|begin_of_box|>Blue<|end_of_box|>"
    parts = [chunk(text[i : i + 3]) for i in range(0, len(text), 3)]
    parts += [chunk("", finish="stop", usage=USAGE), DONE]
    _, final = run_stream(mode, Server([sse(parts)]), model="glm-4.1v-thinking-flash")
    assert final.content == "Blue"
    assert final.reasoning_content == "look at the sky"
    _, raw = run_stream(
        mode, Server([sse(parts)]), model="glm-4.1v-thinking-flash", strip_markers=False
    )
    assert raw.content == text


def test_markers_not_touched_for_models_that_do_not_use_them(mode: str) -> None:
    parts = [chunk("Use <think> tags"), chunk("", finish="stop"), DONE]
    _, final = run_stream(mode, Server([sse(parts)]), model="glm-4.7-flash")
    assert final.content == "Use <think> tags"


# --- endings --------------------------------------------------------------------------------


def test_done_without_finish_reason_is_a_clean_end(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "zhipu_flash")
    _, final = run_stream(mode, Server([sse([chunk("x"), DONE])]))
    assert final.content == "x" and final.finish_reason is None
    assert "without a finish reason" in caplog.text


def test_eof_after_finish_without_done_is_complete(mode: str) -> None:
    _, final = run_stream(mode, Server([sse([chunk("x", finish="stop", usage=USAGE)])]))
    assert final.finish_reason == "stop"


def test_eof_without_done_or_finish_raises_with_partial(mode: str) -> None:
    parts = [
        chunk(reasoning="hmm"),
        chunk("partial ans"),
        chunk(
            tool_calls=[
                {
                    "id": "c",
                    "index": 0,
                    "type": "function",
                    "function": {"name": "f", "arguments": "{"},
                }
            ]
        ),
    ]
    with pytest.raises(zf.StreamInterruptedError) as info:
        run_stream(mode, Server([sse(parts)]))
    partial = info.value.partial
    assert partial is not None
    assert (partial.content, partial.reasoning_content) == ("partial ans", "hmm")
    assert partial.tool_calls[0].function.arguments == "{"
    assert info.value.is_retryable


def test_connection_reset_mid_stream_keeps_partial(mode: str) -> None:
    server = Server([sse([chunk("你好"), chunk("，世")], fail_after=2)])
    with pytest.raises(zf.StreamInterruptedError, match="ReadError") as info:
        run_stream(mode, server)
    assert info.value.partial is not None and info.value.partial.content == "你好，世"
    assert len(server.requests) == 1  # never retried after chunks were handed out
    assert server.bodies[0].closed
    # The transport error it wraps names its request, as httpx's own body iterators give it.
    cause = info.value.__cause__
    assert isinstance(cause, httpx.ReadError)
    assert cause.request is server.requests[0]


def test_a_read_body_is_marked_consumed(mode: str) -> None:
    # The body is read from the transport directly (zhipu_flash/_stream.py, _body), so the
    # response must say it is consumed, as httpx's own iterators leave it.
    client = make_client(mode, Server([sse([chunk("ok"), chunk("", finish="stop"), DONE])]))
    msgs = [{"role": "user", "content": "hi"}]

    async def go() -> httpx.Response:
        async with client.stream(model="glm-4.7-flash", messages=msgs) as stream:
            assert (await stream.get_final_completion()).content == "ok"
            return stream.response

    if mode == "sync":
        with client.stream(model="glm-4.7-flash", messages=msgs) as stream:
            assert stream.get_final_completion().content == "ok"
            response = stream.response
    else:
        response = asyncio.run(go())
    assert response.is_stream_consumed and response.is_closed


def test_network_error_finish_reason_raises_after_the_stream(mode: str) -> None:
    parts = [chunk("abc"), chunk("", finish="network_error", usage=USAGE), DONE]
    with pytest.raises(zf.StreamInterruptedError, match="network_error") as info:
        run_stream(mode, Server([sse(parts)]))
    assert info.value.partial is not None
    assert info.value.partial.content == "abc"
    assert info.value.partial.usage is not None


@pytest.mark.parametrize("reason", ["sensitive", "model_context_window_exceeded"])
def test_truncating_finish_reasons_are_reported_and_logged(
    mode: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, final = run_stream(mode, Server([sse([chunk("abc"), chunk("", finish=reason), DONE])]))
    assert final.finish_reason == reason
    assert final.content == "abc"
    assert reason in caplog.text


def test_error_frame_mid_stream_raises_typed_error_with_partial(mode: str) -> None:
    err = frames.event(frames.error("1301", "敏感内容"))
    with pytest.raises(zf.ContentFilterError) as info:
        run_stream(mode, Server([sse([chunk("so far"), err, DONE])]))
    assert info.value.code == "1301"
    assert info.value.partial is not None and info.value.partial.content == "so far"


def test_event_error_frame_raises(mode: str) -> None:
    err = b'event: error\ndata: {"error":{"code":1305,"message":"overloaded"}}\n\n'
    with pytest.raises(zf.RateLimitError) as info:
        run_stream(mode, Server([sse([err])]))
    assert info.value.code == "1305"


def test_malformed_frame_is_skipped_logged_and_counted(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    bad = b'data: {"id":"r","choices":[{"delta":{"reasoning_content":"\\",}}]}\n\n'
    chunks, final = run_stream(
        mode, Server([sse([chunk("a"), bad, chunk("b", finish="stop"), DONE])])
    )
    assert final.content == "ab"
    assert final.malformed_frames == 1
    assert "undecodable" in caplog.text and "reasoning_content" in caplog.text
    assert len(chunks) == 2


def test_malformed_frame_raises_when_asked(mode: str) -> None:
    with pytest.raises(zf.StreamDecodeError) as info:
        run_stream(
            mode, Server([sse([chunk("a"), b"data: {nope\n\n", DONE])]), on_malformed="raise"
        )
    assert info.value.partial is not None and info.value.partial.content == "a"


def test_fused_frames_keep_the_tail(mode: str) -> None:
    tail = chunk("world").decode()[len("data: ") :]
    fused = ('data: {"id":"old","choices":[{"index":0,"delta":{"role":"adata: ' + tail).encode()
    _, final = run_stream(
        mode, Server([sse([chunk("hello "), fused, chunk("", finish="stop"), DONE])])
    )
    assert final.content == "hello world"
    assert final.malformed_frames == 1


def test_json_error_body_on_a_200_stream(mode: str) -> None:
    body = b'{"error":{"code":"1113","message":"no balance"}}'
    server = Server([sse([body], headers={"content-type": "application/json"})])
    with pytest.raises(zf.QuotaExceededError):
        run_stream(mode, server)


def test_json_completion_on_a_stream_request_becomes_one_chunk(mode: str) -> None:
    body = wire_body("glm-4-flash_nonstream_toolcall_swarm-swift.json")
    chunks, final = run_stream(
        mode, Server([sse([body], headers={"content-type": "application/json"})])
    )
    assert len(chunks) == 1
    assert final.finish_reason == "tool_calls"
    assert final.tool_calls[0].function.name == "get_current_weather"
    assert final.usage is not None and final.usage.total_tokens == 227


# --- closing --------------------------------------------------------------------------------


def test_break_closes_the_response_sync() -> None:
    server = Server([sse([chunk("a"), chunk("b"), chunk("c", finish="stop"), DONE])])
    client = make_client("sync", server)
    with client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}]) as s:
        for _ in s:
            break
        assert server.bodies[0].delivered == 1
    assert server.bodies[0].closed


def test_break_out_of_a_bare_for_loop_closes_the_response() -> None:
    server = Server([sse([chunk("a"), chunk("b"), DONE])])
    client = make_client("sync", server)
    for _ in client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}]):
        break
    assert server.bodies[0].closed


def test_exception_in_consumer_closes_the_response() -> None:
    server = Server([sse([chunk("a"), chunk("b"), DONE])])
    client = make_client("sync", server)

    def consume() -> None:
        with client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}]) as s:
            for _ in s:
                raise RuntimeError("consumer failed")

    with pytest.raises(RuntimeError, match="consumer failed"):
        consume()
    assert server.bodies[0].closed


def test_iterating_an_entered_manager_reads_the_stream_it_opened() -> None:
    # ``stream = client.stream(...)``, ``with stream:``, ``for chunk in stream:`` once sent a
    # second request and left the first response open: one pooled connection lost per call.
    server = Server([sse([chunk("a"), chunk("b", finish="stop"), DONE])])
    client = make_client("sync", server)
    manager = client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}])
    with manager as stream:
        texts = [c.delta.content for c in manager]
        assert stream.completion.content == "ab"
    assert texts == ["a", "b"]
    assert len(server.requests) == 1
    assert server.bodies[0].closed


async def test_iterating_an_entered_async_manager_reads_the_stream_it_opened() -> None:
    server = Server([sse([chunk("a"), chunk("b", finish="stop"), DONE])])
    client = make_client("async", server)
    manager = client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}])
    async with manager as stream:
        texts = [c.delta.content async for c in manager]
        assert stream.completion.content == "ab"
    assert texts == ["a", "b"]
    assert len(server.requests) == 1
    assert server.bodies[0].closed


def test_entering_an_open_manager_again_is_refused_before_a_request() -> None:
    server = Server([sse([chunk("a", finish="stop"), DONE])])
    client = make_client("sync", server)
    manager = client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}])
    with manager:
        with (
            pytest.raises(RuntimeError, match=r"already open.*client\.stream\(\.\.\.\) again"),
            manager,
        ):
            pass
        assert len(server.requests) == 1
    # Once closed, the manager may send its request again (as it always could).
    with manager as stream:
        assert stream.get_final_completion().content == "a"
    assert len(server.requests) == 2
    assert all(body.closed for body in server.bodies)


async def test_entering_an_open_async_manager_again_is_refused_before_a_request() -> None:
    server = Server([sse([chunk("a", finish="stop"), DONE])])
    client = make_client("async", server)
    manager = client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}])
    async with manager:
        with pytest.raises(RuntimeError, match=r"already open.*client\.stream\(\.\.\.\) again"):
            async with manager:
                pass
        assert len(server.requests) == 1
    async with manager as stream:
        assert (await stream.get_final_completion()).content == "a"
    assert len(server.requests) == 2
    assert all(body.closed for body in server.bodies)


async def test_break_closes_the_response_async() -> None:
    server = Server([sse([chunk("a"), chunk("b"), DONE])])
    client = make_client("async", server)
    async with client.stream(
        model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}]
    ) as s:
        async for _ in s:
            break
    assert server.bodies[0].closed


async def test_cancellation_closes_the_response() -> None:
    gate = asyncio.Event()
    server = Server([sse([chunk("a"), chunk("b"), DONE])])
    client = make_client("async", server)

    async def consume() -> None:
        async with client.stream(
            model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}]
        ) as s:
            async for _ in s:
                gate.set()
                await asyncio.sleep(10)

    task = asyncio.create_task(consume())
    await gate.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert server.bodies[0].closed


def test_partial_completion_is_available_while_streaming() -> None:
    server = Server([sse([chunk("a"), chunk("b"), chunk("", finish="stop"), DONE])])
    client = make_client("sync", server)
    with client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}]) as s:
        next(s)
        assert s.completion.content == "a"
        assert s.get_final_completion().content == "ab"


def test_long_streams_accumulate_exactly_across_text_blocks() -> None:
    # More parts than one internal block (4096) of content and of reasoning.
    parser = StreamParser()
    expect_text, expect_reasoning = [], []
    for i in range(9000):
        token = f"{i}，"
        if i % 3:
            expect_text.append(token)
            parser.feed(chunk(token))
        else:
            expect_reasoning.append(token)
            parser.feed(chunk(reasoning=token))
    parser.feed(chunk("", finish="stop"))
    parser.feed(DONE)
    parser.end()
    final = parser.completion
    assert final.content == "".join(expect_text)
    assert final.reasoning_content == "".join(expect_reasoning)
