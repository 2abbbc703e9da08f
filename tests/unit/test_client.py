"""The client: configuration, the retry loop, error bodies to classes, non-streamed calls."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

import zhipu_flash as zf
from glm_emulator import frames
from tests.unit._helpers import (
    DONE,
    USAGE,
    Server,
    chunk,
    error,
    make_client,
    run_create,
    run_stream,
    sse,
)
from tests.wire import wire_body, wire_json
from zhipu_flash._exceptions import error_from_body

MODES = ["sync", "async"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


OK_STREAM = sse([chunk("ok", finish="stop", usage=USAGE), DONE])

# Every error sample in tests/fixtures/wire, with the class and code a user should get.
ERROR_SAMPLES = [
    (
        "error_1003_token_expired_http401_zhipuai-sdk-issue-8.json",
        401,
        zf.AuthenticationError,
        "1003",
    ),
    ("error_1113_no_balance_http429_cowagent-issue-2910.json", 429, zf.QuotaExceededError, "1113"),
    (
        "error_1214_messages_illegal_http400_continue-issue-13261.json",
        400,
        zf.BadRequestError,
        "1214",
    ),
    (
        "error_1301_sensitive_http400_langchain4j-issue-1079.json",
        400,
        zf.ContentFilterError,
        "1301",
    ),
    ("error_1305_overloaded_en_http429_test-fixture.json", 429, zf.RateLimitError, "1305"),
]


@pytest.mark.parametrize(("name", "status", "cls", "code"), ERROR_SAMPLES)
def test_error_samples_map_to_classes(
    mode: str, name: str, status: int, cls: type, code: str
) -> None:
    server = Server([error(status, wire_body(name))])
    with pytest.raises(cls) as info:
        run_create(mode, server)
    err = info.value
    assert (err.status_code, err.code) == (status, code)
    assert err.message == wire_json(name)["error"]["message"]
    assert err.body == wire_json(name)
    assert len(server.requests) == (3 if err.is_retryable else 1)


def test_docs_1002_sample_with_headers(mode: str) -> None:
    text = wire_body("DOCS_error_1002_http401_with_headers_docs.z.ai.txt").decode()
    body = text[text.index('{"error"') :].strip().encode()
    with pytest.raises(zf.AuthenticationError) as info:
        run_create(mode, Server([error(401, body)]))
    assert info.value.code == "1002"
    assert not info.value.is_retryable


def test_1261_sample_as_rendered_maps_to_context_overflow(mode: str) -> None:
    # The sample is an SDK rendering; the wire body it stands for is rebuilt here.
    assert (
        "'code': '1261'"
        in wire_body("error_1261_prompt_too_long_http400_geode-pr-668.txt").decode()
    )
    body = {"error": {"code": "1261", "message": "Prompt exceeds max length"}}
    with pytest.raises(zf.ContextWindowExceededError):
        run_create(mode, Server([error(400, body)]))


@pytest.mark.parametrize(
    ("status", "code", "cls", "retryable"),
    [
        (429, "1302", zf.RateLimitError, True),
        (429, "1303", zf.RateLimitError, True),
        (429, "1308", zf.QuotaExceededError, False),
        (429, "1304", zf.QuotaExceededError, False),
        (429, "1112", zf.PermissionDeniedError, False),
        (400, "1211", zf.NotFoundError, False),
        (400, "1210", zf.BadRequestError, False),
        (500, "500", zf.InternalServerError, True),
        (503, None, zf.InternalServerError, True),
        (429, None, zf.RateLimitError, True),
        (404, None, zf.NotFoundError, False),
        (400, "1234", zf.InternalServerError, True),
        (401, "1001", zf.AuthenticationError, False),
    ],
)
def test_code_decides_before_status(
    status: int, code: str | None, cls: type, retryable: bool
) -> None:
    body = {"error": {"code": code, "message": "m"}} if code else {"error": {"message": "m"}}
    err = error_from_body(body, status_code=status)
    assert type(err) is cls
    assert err.is_retryable is retryable


def test_1210_with_context_length_words_is_context_overflow() -> None:
    body = {
        "error": {"code": "1210", "message": "input exceeds the model's maximum context length"}
    }
    assert isinstance(error_from_body(body, status_code=400), zf.ContextWindowExceededError)


def test_html_gateway_page_falls_back_to_status(mode: str) -> None:
    server = Server([error(502, b"<html>Bad gateway</html>")] * 3)
    with pytest.raises(zf.InternalServerError) as info:
        run_create(mode, server)
    assert "Bad gateway" in str(info.value.body)


def test_retry_then_success(mode: str) -> None:
    server = Server(
        [
            error(503, {"error": {"message": "busy"}}),
            error(429, {"error": {"code": "1302", "message": "cap"}}),
            OK_STREAM,
        ]
    )
    _, final = run_stream(mode, server)
    assert final.content == "ok"
    assert len(server.requests) == 3
    assert server.requests[0].content == server.requests[2].content  # the same request again


def test_no_retry_on_no_balance(mode: str) -> None:
    server = Server(
        [error(429, wire_body("error_1113_no_balance_http429_cowagent-issue-2910.json")), OK_STREAM]
    )
    with pytest.raises(zf.QuotaExceededError):
        run_stream(mode, server)
    assert len(server.requests) == 1


def test_retries_exhausted_raises_last_error(mode: str) -> None:
    server = Server([error(429, {"error": {"code": "1305", "message": "overloaded"}})])
    with pytest.raises(zf.RateLimitError):
        run_stream(mode, server, client_kwargs={"max_retries": 3})
    assert len(server.requests) == 4


def test_max_retries_zero(mode: str) -> None:
    server = Server([error(500, {"error": {"message": "x"}}), OK_STREAM])
    with pytest.raises(zf.InternalServerError):
        run_stream(mode, server, client_kwargs={"max_retries": 0})
    assert len(server.requests) == 1


def test_retry_after_is_honoured() -> None:
    server = Server(
        [error(429, {"error": {"code": "1302", "message": "m"}}, {"retry-after": "3"}), OK_STREAM]
    )
    client = make_client("sync", server)
    slept: list[float] = []
    client._sleep = slept.append
    with client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}]) as s:
        assert s.get_final_completion().content == "ok"
    assert slept == [3.0]


async def test_retry_after_ms_is_honoured_async() -> None:
    server = Server(
        [
            error(429, {"error": {"code": "1303", "message": "m"}}, {"retry-after-ms": "250"}),
            OK_STREAM,
        ]
    )
    client = make_client("async", server)
    slept: list[float] = []

    async def record(seconds: float) -> None:
        slept.append(seconds)

    client._sleep = record
    async with client.stream(
        model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}]
    ) as s:
        assert (await s.get_final_completion()).content == "ok"
    assert slept == [0.25]


def test_retry_after_too_long_gives_up_at_once() -> None:
    server = Server(
        [
            error(429, {"error": {"code": "1302", "message": "m"}}, {"retry-after": "3600"}),
            OK_STREAM,
        ]
    )
    with pytest.raises(zf.RateLimitError):
        run_stream("sync", server)
    assert len(server.requests) == 1


def test_connect_error_is_retried_then_raised(mode: str) -> None:
    calls: list[int] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(zf.APIConnectionError, match="ConnectError") as info:
        run_create(mode, Server([refuse]))
    assert len(calls) == 3
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_timeout_before_headers_is_retried(mode: str) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    server = Server([slow, OK_STREAM])
    _, final = run_stream(mode, server)
    assert final.content == "ok" and len(server.requests) == 2


def test_timeout_error_when_attempts_run_out(mode: str) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(zf.APITimeoutError):
        run_create(mode, Server([slow]))


def test_create_plain_sample(mode: str) -> None:
    server = Server(
        [
            lambda r: httpx.Response(
                200, json=wire_json("glm-4-flash_nonstream_plain_curl_unidentified-repo.json")
            )
        ]
    )
    result = run_create(mode, server)
    assert result.content == "你好👋！很高兴见到你，有什么可以帮助你的吗？"
    assert result.finish_reason == "stop"
    assert result.request_id == result.id == "202411301403051925a900b08f4e23"
    assert result.usage is not None and result.usage.total_tokens == 22
    assert "stream" not in server.sent[0]


def test_create_tool_call_sample(mode: str) -> None:
    server = Server(
        [
            lambda r: httpx.Response(
                200, json=wire_json("glm-4-flash_nonstream_toolcall_swarm-swift.json")
            )
        ]
    )
    result = run_create(mode, server)
    assert result.message.content is None
    assert result.content == ""
    [call] = result.tool_calls
    assert (call.id, call.function.name) == ("call_9131157062184528331", "get_current_weather")
    assert json.loads(call.function.arguments) == {"location": "Boston, MA", "unit": "fahrenheit"}
    assert result.finish_reason == "tool_calls"


def test_create_thinking_docs_sample(mode: str) -> None:
    body = wire_json("DOCS-SYNTHETIC_glm-4.7_nonstream_thinking_example_docs.z.ai.json")
    result = run_create(mode, Server([lambda r: httpx.Response(200, json=body)]))
    assert result.reasoning_content.startswith("Let me analyze this question")
    assert result.content.startswith("Artificial intelligence has tremendous")
    assert result.usage is not None and result.usage.cached_tokens == 0


def test_create_strips_markers_for_glm_v_thinking(mode: str) -> None:
    body = frames.completion(
        content="<think>count</think>\n<|begin_of_box|>3<|end_of_box|>", id="x"
    )
    result = run_create(
        mode, Server([lambda r: httpx.Response(200, json=body)]), model="glm-4.1v-thinking-flash"
    )
    assert (result.content, result.reasoning_content) == ("3", "count")


def test_create_error_body_on_200(mode: str) -> None:
    body = {"error": {"code": "1301", "message": "blocked"}}
    with pytest.raises(zf.ContentFilterError):
        run_create(mode, Server([lambda r: httpx.Response(200, json=body)]))


# --- configuration and secrets ----------------------------------------------------------------


def test_request_shape(mode: str) -> None:
    server = Server([OK_STREAM])
    run_stream(mode, server, temperature=0.5)
    request = server.requests[0]
    assert request.url == "https://open.bigmodel.cn/api/paas/v4/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key.secret"
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["content-type"] == "application/json"
    assert server.sent[0] == {
        "model": "glm-4.7-flash",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "temperature": 0.5,
    }


def test_key_and_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    monkeypatch.setenv("ZAI_API_KEY", "zai.key")
    monkeypatch.setenv("ZHIPUAI_BASE_URL", "https://api.z.ai/api/paas/v4/")
    server = Server([OK_STREAM])
    client = zf.ZhipuClient(http_client=httpx.Client(transport=httpx.MockTransport(server)))
    assert client.base_url == zf.ZAI_BASE_URL
    with client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}]) as s:
        s.get_final_completion()
    assert server.requests[0].headers["authorization"] == "Bearer zai.key"
    monkeypatch.setenv("ZHIPUAI_API_KEY", "zhipu.key")
    with client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}]) as s:
        s.get_final_completion()
    assert server.requests[1].headers["authorization"] == "Bearer zhipu.key"


def test_missing_key_is_a_clear_error_at_first_request(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    server = Server([OK_STREAM])
    cls = zf.ZhipuClient if mode == "sync" else zf.AsyncZhipuClient
    client = cls()  # constructing without a key is fine
    assert "api_key=<missing>" in repr(client)
    with pytest.raises(zf.MissingAPIKeyError, match=r"ZHIPUAI_API_KEY.*ZAI_API_KEY"):
        client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}])
    assert server.requests == []


def test_secret_never_in_repr_or_errors(mode: str) -> None:
    server = Server(
        [error(401, {"error": {"code": "1002", "message": "Authorization Token is invalid"}})]
    )
    client = make_client(mode, server)
    assert "secret" not in repr(client) and "test-key" not in repr(client)
    with pytest.raises(zf.AuthenticationError) as info:
        run_create(mode, server)
    text = str(info.value) + repr(info.value) + str(info.value.body)
    assert "test-key" not in text


def test_default_timeouts() -> None:
    client = zf.ZhipuClient(api_key="k")
    assert client.timeout.connect == 10.0
    assert client.timeout.read == 300.0
    assert client._http.timeout.read == 300.0
    client.close()
    assert zf.ZhipuClient(api_key="k", timeout=5).timeout.read == 5.0


def test_context_managers_close_owned_pools() -> None:
    with zf.ZhipuClient(api_key="k") as client:
        pool = client._http
    assert pool.is_closed
    injected = httpx.Client()
    with zf.ZhipuClient(api_key="k", http_client=injected):
        pass
    assert not injected.is_closed  # not ours to close
    injected.close()


async def test_async_context_manager_closes_pool() -> None:
    async with zf.AsyncZhipuClient(api_key="k") as client:
        pool = client._http
    assert pool.is_closed


def test_negative_max_retries_rejected() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        zf.ZhipuClient(api_key="k", max_retries=-1)


def test_unknown_parameter_is_a_clear_error(mode: str) -> None:
    client = make_client(mode, Server([OK_STREAM]))
    with pytest.raises(zf.InvalidRequestInputError, match="extra_body"):
        client.stream(
            model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}], temprature=1
        )


def test_retry_is_logged_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server = Server([error(503, {"error": {"message": "busy"}}), OK_STREAM])
    run_stream("sync", server)
    assert "retrying" in caplog.text
    assert "test-key" not in caplog.text
