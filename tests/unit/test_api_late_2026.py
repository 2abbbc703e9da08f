"""The API as it is in late 2026 (issue 14; docs/glm-api.md §3, §6.3, §8), through the core,
sync and async.

The GLM-5 thinking contract (catalog and request rules), web_search results and every other
top-level field kept in the final completion, box markers on GLM-4.6V, the newer error codes,
and whole tool calls from a model that ignores ``tool_stream``. Responses are the
GLM-shaped fixtures in ``tests/fixtures/glm_shaped/`` (constructed from public reports; each
header says from which) and the real captures in ``tests/fixtures/wire/``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import zhipu_flash as zf
from glm_emulator import frames
from tests.unit._helpers import DONE, USAGE, USER, Server, chunk, error, run_create, run_stream, sse
from tests.wire import shaped_body, shaped_json, wire_sse
from zhipu_flash._exceptions import error_from_body
from zhipu_flash.types import WebSearchResult

pytestmark = pytest.mark.parametrize("mode", ["sync", "async"])


def build(model: str, **params: Any) -> dict[str, Any]:
    return zf.build_chat_request(model, USER, stream=True, **params)


def refused(mode: str, model: str, **params: Any) -> tuple[str, Server]:
    """The refusal message of a request that must never be sent, and the server that saw it."""
    server = Server([sse([chunk("x", finish="stop"), DONE])])
    with pytest.raises(zf.InvalidRequestInputError) as info:
        run_stream(mode, server, model=model, **params)
    assert server.requests == []  # refused before sending
    return str(info.value), server


def json_ok(body: Any) -> Any:
    return lambda request: httpx.Response(200, json=body)


# --- 1. the GLM-5 thinking contract ------------------------------------------------------------


def test_the_glm5_family_is_catalogued_with_its_thinking_contract(mode: str) -> None:
    info = zf.get_model_info("glm-5.3-flash")
    assert info.known and not info.free
    assert (info.thinking, info.reasoning_efforts, info.default_effort) == (
        "forced",
        ("low", "high", "max"),
        "max",
    )
    assert (info.context_window, info.max_output_tokens) == (1_000_000, 131_072)
    assert info.vision and info.tools
    assert zf.get_model_info("glm-5.3").reasoning_efforts == ("low", "high", "max")
    glm52 = zf.get_model_info("glm-5.2")
    assert glm52.thinking == "toggle" and {"minimal", "medium", "xhigh"} <= set(
        glm52.reasoning_efforts
    )
    for name in ("glm-5", "glm-5.1", "glm-5-turbo", "glm-5v-turbo"):
        assert (zf.get_model_info(name).thinking, zf.get_model_info(name).reasoning_efforts) == (
            "toggle",
            (),
        )
    # glm-5.3-flashx is catalogued since issue 23, its thinking contract marked unverified:
    # nothing is refused on its basis, as for a model the catalog does not know.
    assert not zf.get_model_info("glm-5.3-flashx").confirms("thinking")


@pytest.mark.parametrize("effort", ["low", "high", "max"])
def test_glm53_flash_efforts_are_sent(mode: str, effort: str) -> None:
    server = Server([sse([shaped_body("glm-5.3-flash_stream_effort_low.sse")])])
    _, final = run_stream(mode, server, model="glm-5.3-flash", reasoning_effort=effort)
    assert server.sent[0]["reasoning_effort"] == effort
    assert "thinking" not in server.sent[0]
    assert final.reasoning_content == "Simple sum: 2+2=4."
    assert final.content == "2 + 2 = 4."
    assert final.usage is not None and final.usage.reasoning_tokens == 8


@pytest.mark.parametrize(
    ("effort", "nearest"),
    [("medium", "'high'"), ("minimal", "'low'"), ("xhigh", "'max'")],
)
def test_litellm_style_aliases_are_refused_with_the_value_they_stand_for(
    mode: str, effort: str, nearest: str
) -> None:
    message, _ = refused(mode, "glm-5.3-flash", reasoning_effort=effort)
    assert "'low', 'high' or 'max'" in message and "default 'max'" in message
    assert f"not {effort!r}" in message and f"nearest is {nearest}" in message


def test_none_on_an_always_thinking_model_points_to_low(mode: str) -> None:
    message, _ = refused(mode, "glm-5.3", reasoning_effort="none")
    assert "always thinks; 'low' is the least" in message


def test_glm52_takes_its_seven_documented_efforts(mode: str) -> None:
    for effort in ("none", "minimal", "low", "medium", "high", "xhigh", "max"):
        assert build("glm-5.2", reasoning_effort=effort)["reasoning_effort"] == effort
    message, _ = refused(mode, "glm-5.2", reasoning_effort="ultra")
    assert "'none', 'minimal', 'low', 'medium', 'high', 'xhigh' or 'max'" in message


def test_effort_on_a_model_without_it_is_refused(mode: str) -> None:
    message, _ = refused(mode, "glm-4-flash-250414", reasoning_effort="low")
    assert "no thinking mode" in message
    message, _ = refused(mode, "glm-4.7-flash", reasoning_effort="high")
    assert "takes no reasoning_effort" in message and "thinking=True/False" in message


@pytest.mark.parametrize("thinking", [False, {"type": "disabled"}])
def test_thinking_disabled_on_glm53_is_refused_naming_low(mode: str, thinking: Any) -> None:
    for model in ("glm-5.3-flash", "glm-5.3"):
        message, _ = refused(mode, model, thinking=thinking)
        assert "always thinks" in message and "code 1210" in message
        assert "reasoning_effort='low'" in message


def test_glm41v_refusal_stays_consistent(mode: str) -> None:
    message, _ = refused(mode, "glm-4.1v-thinking-flash", thinking=False)
    assert message.startswith("glm-4.1v-thinking-flash always thinks")
    assert "reasoning_effort" not in message  # it takes none
    message, _ = refused(mode, "glm-4.1v-thinking-flash", reasoning_effort="low")
    assert "takes no reasoning_effort" in message


def test_thinking_enabled_and_preserved_thinking_reach_glm53(mode: str) -> None:
    body = build("glm-5.3-flash", thinking=True, clear_thinking=False, reasoning_effort="low")
    assert body["thinking"] == {"type": "enabled", "clear_thinking": False}
    assert "thinking" not in build("glm-4.1v-thinking-flash", thinking=True)


def test_unknown_models_are_sent_what_was_asked(mode: str) -> None:
    server = Server([sse([chunk("x", finish="stop"), DONE])])
    run_stream(mode, server, model="glm-6-preview", thinking=False, reasoning_effort="medium")
    assert server.sent[0]["thinking"] == {"type": "disabled"}
    assert server.sent[0]["reasoning_effort"] == "medium"


def test_the_apis_1210_is_a_bad_request_with_its_code(mode: str) -> None:
    # What the refusal saves the caller from, if the body is forced through extra_body.
    body = shaped_json("error_1210_always_thinks_en_http400_glm-5.3.json")
    server = Server([error(400, body, {"x-request-id": "req-1210"})])
    with pytest.raises(zf.BadRequestError) as info:
        run_stream(mode, server, model="glm-5.3", extra_body={"thinking": {"type": "disabled"}})
    err = info.value
    assert (err.status_code, err.code, err.request_id) == (400, "1210", "req-1210")
    assert "always engages in thinking" in err.message and not err.is_retryable
    assert len(server.requests) == 1


# --- 2. web_search, and nothing on the wire lost ---------------------------------------------

RESULTS = [
    {
        "refer": "ref_1",
        "title": "Hangzhou weather forecast",
        "link": "https://weather.example.cn/hangzhou",
        "content": "Hangzhou: light rain, 14 to 19 °C, northeast wind.",
        "media": "Example Weather",
        "icon": "https://weather.example.cn/favicon.ico",
        "publish_date": "2026-11-19",
    },
    {
        "refer": "ref_2",
        "title": "Zhejiang provincial observatory bulletin",
        "link": "https://news.example.com/zj-bulletin",
        "content": "Showers continue over northern Zhejiang until Friday.",
        "media": "",
        "icon": "",
        "publish_date": "",
    },
]


@pytest.mark.parametrize(
    "sample", ["glm-5.2_stream_web_search_final_chunk.sse", "glm-5.2_stream_web_search_before.sse"]
)
def test_streamed_web_search_results_reach_the_final_completion(mode: str, sample: str) -> None:
    chunks, final = run_stream(mode, Server([sse([shaped_body(sample)])]), model="glm-5.2")
    assert final.web_search is not None
    assert [r.model_dump() for r in final.web_search] == RESULTS
    assert all(isinstance(r, WebSearchResult) for r in final.web_search)
    assert "[ref_1]" in final.content
    assert final.finish_reason == "stop" and final.usage is not None
    carriers = [c for c in chunks if c.web_search is not None]
    assert len(carriers) == 1  # GLM sends it once; each chunk exposes it typed too
    assert final.model_extra == {}


def test_non_streamed_web_search_results_are_typed(mode: str) -> None:
    body = shaped_json("glm-5.2_nonstream_web_search.json")
    result = run_create(mode, Server([json_ok(body)]), model="glm-5.2")
    assert result.web_search is not None
    assert [r.model_dump() for r in result.web_search] == RESULTS
    assert result.request_id == "20261119160651e5f2a9c03d7b18c4"


def test_a_json_answer_to_a_stream_request_loses_nothing(mode: str) -> None:
    body = {**shaped_json("glm-5.2_nonstream_web_search.json"), "content_filter": [{"level": 1}]}
    _, final = run_stream(mode, Server([json_ok(body)]), model="glm-5.2")
    assert [r.model_dump() for r in final.web_search or ()] == RESULTS
    assert final.model_extra == {"content_filter": [{"level": 1}]}
    assert final.request_id == "20261119160651e5f2a9c03d7b18c4"
    assert final.content.startswith("Light rain in Hangzhou today")


def test_unknown_top_level_fields_merge_last_non_null_wins(mode: str) -> None:
    def with_fields(text: str, finish: str | None = None, **top: Any) -> bytes:
        return frames.event(
            frames.chunk(
                content=text,
                finish=finish,
                id="r",
                created=None,
                object=None,
                model="glm-5.2",
                **top,
            )
        )

    parts = [
        with_fields("a", content_filter=[{"level": 1}], video_result=None),
        with_fields("b", content_filter=[{"level": 3}], brand_new={"x": 1}),
        with_fields("", "stop", content_filter=None, usage=USAGE),
        DONE,
    ]
    _, final = run_stream(mode, Server([sse(parts)]), model="glm-5.2")
    assert final.model_extra == {
        "content_filter": [{"level": 3}],  # repeated: the last value that was not null
        "video_result": None,  # only ever null: kept as sent
        "brand_new": {"x": 1},
    }
    assert final.content == "ab" and final.usage is not None


def test_built_in_tools_pass_through_next_to_function_tools(mode: str) -> None:
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {}}},
        {"type": "web_search", "web_search": {"enable": True, "search_result": True}},
        {"type": "retrieval", "retrieval": {"knowledge_id": "kb-1"}},
    ]
    server = Server([sse([shaped_body("glm-5.2_stream_web_search_final_chunk.sse")])])
    run_stream(mode, server, model="glm-5.2", tools=tools)
    sent = server.sent[0]["tools"]
    assert sent[1:] == tools[1:]
    assert sent[0]["function"]["name"] == "get_weather"


# --- 3. box markers on GLM-4.6V ----------------------------------------------------------------


@pytest.mark.parametrize("model", ["glm-4.6v-flash", "glm-4.6v", "glm-4.6v-flashx"])
def test_glm46v_box_markers_split_across_deltas_are_stripped(mode: str, model: str) -> None:
    assert zf.get_model_info(model).markers
    server = Server([sse([shaped_body("glm-4.6v-flash_stream_box_markers_split.sse")])])
    chunks, final = run_stream(mode, server, model=model)
    assert final.content == "42"
    assert final.reasoning_content == "Count the apples: 42."
    streamed = "".join(c.delta.content or "" for c in chunks if c.delta is not None)
    assert streamed == "42"  # every consumer of the chunks sees it stripped too


def test_glm46v_markers_are_kept_on_request(mode: str) -> None:
    server = Server([sse([shaped_body("glm-4.6v-flash_stream_box_markers_split.sse")])])
    _, raw = run_stream(mode, server, model="glm-4.6v-flash", strip_markers=False)
    assert raw.content == "<|begin_of_box|>42<|end_of_box|>"


def test_glm46v_markers_are_stripped_from_a_non_streamed_answer(mode: str) -> None:
    body = shaped_json("glm-4.6v-flash_nonstream_box_markers.json")
    result = run_create(mode, Server([json_ok(body)]), model="glm-4.6v-flash")
    assert (result.content, result.reasoning_content) == ("42", "Count the apples: 42.")


# --- 4. error codes ------------------------------------------------------------------------------


def test_1313_is_a_never_retried_fair_use_restriction(mode: str) -> None:
    body = shaped_json("error_1313_fair_use_http429.json")
    # Sent with Retry-After: 30 in the capture; a person must act, so no retry either way.
    headers = {"retry-after": "30", "x-request-id": "req-1313"}
    server = Server([error(429, body, headers)])
    with pytest.raises(zf.FairUseRestrictionError) as info:
        run_stream(mode, server, client_kwargs={"max_retries": 3})
    err = info.value
    assert isinstance(err, zf.PermissionDeniedError)
    assert not isinstance(err, zf.RateLimitError)
    assert not err.is_retryable
    assert (err.status_code, err.code, err.request_id) == (429, "1313", "req-1313")
    assert "submit a request" in err.message
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "sample", ["error_1302_rate_limit_en_http429.json", "error_1302_rate_limit_cn_new_http429.json"]
)
def test_every_1302_wording_is_a_retried_rate_limit(mode: str, sample: str) -> None:
    body = shaped_json(sample)
    server = Server([error(429, body), sse([chunk("ok", finish="stop", usage=USAGE), DONE])])
    _, final = run_stream(mode, server)
    assert final.content == "ok" and len(server.requests) == 2
    with pytest.raises(zf.RateLimitError) as info:
        run_stream(mode, Server([error(429, body)]), client_kwargs={"max_retries": 0})
    assert info.value.code == "1302" and info.value.message == body["error"]["message"]


def test_1310_is_a_quota_with_its_reset_time_in_the_message(mode: str) -> None:
    server = Server([error(429, shaped_json("error_1310_weekly_limit_http429.json"))])
    with pytest.raises(zf.QuotaExceededError) as info:
        run_stream(mode, server, client_kwargs={"max_retries": 3})
    assert "2026-12-07 00:00:00" in info.value.message and len(server.requests) == 1


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("1005", zf.AuthenticationError),
        ("1210", zf.BadRequestError),
        ("1310", zf.QuotaExceededError),
        ("1313", zf.FairUseRestrictionError),
        ("1314", zf.PermissionDeniedError),
        ("1315", zf.PermissionDeniedError),
        *((str(c), zf.QuotaExceededError) for c in range(1316, 1322)),
    ],
)
def test_the_late_2026_code_table(mode: str, code: str, cls: type[zf.ZhipuError]) -> None:
    err = error_from_body({"error": {"code": code, "message": "m"}}, status_code=429)
    assert type(err) is cls and not err.is_retryable


def test_an_event_error_frame_keeps_code_request_id_and_partial(mode: str) -> None:
    server = Server([sse([shaped_body("glm-4.7-flash_stream_event_error_1302.sse")])])
    with pytest.raises(zf.RateLimitError) as info:
        run_stream(mode, server)
    err = info.value
    assert (err.code, err.request_id) == ("1302", "20261119162015d8c41e7b2a09f63d")
    assert err.partial is not None and err.partial.reasoning_content == "Let me"
    assert len(server.requests) == 1  # text had arrived: never retried


def test_a_data_error_frame_keeps_its_top_level_request_id(mode: str) -> None:
    frame = frames.event(frames.error("1301", "unsafe", request_id="req-frame"))
    with pytest.raises(zf.ContentFilterError) as info:
        run_stream(mode, Server([sse([chunk("part"), frame, DONE])]))
    assert (info.value.code, info.value.request_id) == ("1301", "req-frame")
    assert info.value.partial is not None and info.value.partial.content == "part"


# --- 5. tool_stream ------------------------------------------------------------------------------


def test_tool_stream_status_is_stated_per_model(mode: str) -> None:
    status = {name: info.tool_stream for name, info in zf.MODELS.items()}
    assert status["glm-4.7"] == status["glm-4.6"] == status["glm-5"] == "documented"
    for flash in ("glm-4.7-flash", "glm-4.6v-flash", "glm-5.3-flash"):
        assert status[flash] == "unverified"
    assert status["glm-4.1v-thinking-flash"] == status["glm-4v-flash"] == "unsupported"
    assert set(status.values()) == {"documented", "unverified", "unsupported"}


@pytest.mark.parametrize(
    ("sample", "model", "name"),
    [
        ("glm-4.7-flash_stream_tool_stream_ignored.sse", "glm-4.7-flash", "get_weather"),
        # A real capture: the whole call from a model streaming no arguments.
        ("glm-4-flash_stream_loop2_toolcall_only_mini-claude-design.sse", "glm-4-flash", None),
    ],
)
def test_a_model_that_ignores_tool_stream_still_yields_whole_calls(
    mode: str, sample: str, model: str, name: str | None
) -> None:
    body = shaped_body(sample) if name else wire_sse(sample)
    server = Server([sse([body])])
    tools = [{"type": "function", "function": {"name": name or "write_file", "parameters": {}}}]
    _, final = run_stream(mode, server, model=model, tools=tools, tool_stream=True)
    assert server.sent[0]["tool_stream"] is True  # opt-in, sent as asked
    (call,) = final.tool_calls
    assert call.function.name == (name or "write_file")
    assert isinstance(json.loads(call.function.arguments), dict)
    assert final.finish_reason == "tool_calls"
