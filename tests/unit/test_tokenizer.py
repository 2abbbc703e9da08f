"""``count_tokens``: GLM's tokenizer endpoint, with the chat call's checks, errors, retries and
key handling, sync and async; against MockTransport and against the emulator's /tokenizer."""

from __future__ import annotations

import asyncio
import base64
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

import zhipu_flash as zf
from glm_emulator.logic import EMULATOR_HEADER
from glm_emulator.server import serving_emulator
from tests.unit._helpers import USER, Server, error, make_client

PNG = (Path(__file__).parents[1] / "fixtures" / "picture.png").read_bytes()
COUNTED = {"created": 1727156815, "id": "t-1", "request_id": "1", "usage": {"prompt_tokens": 42}}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ok(body: Any = COUNTED) -> Any:
    return lambda request: httpx.Response(200, json=body)


def count(mode: str, server: Server, **kwargs: Any) -> int:
    client = make_client(mode, server)
    params: dict[str, Any] = {"model": "glm-4.7-flash", "messages": USER, **kwargs}
    if mode == "sync":
        return int(client.count_tokens(**params))
    return int(asyncio.run(client.count_tokens(**params)))


def test_posts_model_messages_and_tools_to_the_tokenizer(mode: str) -> None:
    server = Server([ok()])
    assert count(mode, server, tools=[WEATHER]) == 42
    request = server.requests[0]
    assert request.url == "https://open.bigmodel.cn/api/paas/v4/tokenizer"
    assert request.headers["authorization"] == "Bearer test-key.secret"
    assert request.headers["accept"] == "application/json"
    # Normalised as a chat request would be: GLM's tool form (no "strict"), nothing else.
    assert server.sent[0] == {
        "model": "glm-4.7-flash",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather in a city.",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
    }


def test_images_are_counted_as_a_chat_request_sends_them(mode: str) -> None:
    server = Server([ok()])
    data_url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    message = {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": data_url},
        ],
    }
    count(mode, server, model="glm-4.6v-flash", messages=[message])
    part = server.sent[0]["messages"][0]["content"][1]
    assert part == {"type": "image_url", "image_url": {"url": base64.b64encode(PNG).decode()}}


def test_bad_input_fails_before_any_request(mode: str) -> None:
    server = Server([ok()])
    with pytest.raises(zf.InvalidRequestInputError, match="system and assistant"):
        count(mode, server, messages=[{"role": "system", "content": "x"}])
    assert server.requests == []


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (
            401,
            {"error": {"code": "1002", "message": "Authorization Token is invalid"}},
            zf.AuthenticationError,
        ),
        (429, {"error": {"code": "1113", "message": "余额不足"}}, zf.QuotaExceededError),
        (400, {"error": {"code": "1211", "message": "模型不存在"}}, zf.NotFoundError),
    ],
)
def test_errors_are_the_typed_errors_of_chat(
    mode: str, status: int, body: dict[str, Any], cls: type[zf.ZhipuError]
) -> None:
    server = Server([error(status, body), ok()])
    with pytest.raises(cls) as info:
        count(mode, server)
    assert len(server.requests) == 1  # none of these is retried
    assert "test-key" not in str(info.value) + repr(info.value)


def test_retryable_failures_are_retried(mode: str) -> None:
    server = Server([error(503, {"error": {"message": "busy"}}), ok()])
    assert count(mode, server) == 42
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "body", [b"<html>gateway</html>", b'{"id": "t-1"}', b'{"usage": {"prompt_tokens": "7"}}']
)
def test_a_body_without_a_count_is_a_typed_error(mode: str, body: bytes) -> None:
    server = Server([lambda request: httpx.Response(200, content=body)])
    with pytest.raises(zf.APIConnectionError, match="tokenizer"):
        count(mode, server)


# -- against the emulator (real sockets) ---------------------------------------------------


def test_emulator_counts_like_its_chat_usage_and_says_it_is_not_real() -> None:
    with serving_emulator() as server:
        client = zf.ZhipuClient(api_key="k.k", base_url=server.base_url)
        messages = [{"role": "user", "content": "Write a haiku about the sea."}]
        counted = client.count_tokens(model="glm-4.7-flash", messages=messages)
        completion = client.create(model="glm-4.7-flash", messages=messages)
        raw = httpx.post(
            server.base_url + "/tokenizer",
            json={"model": "glm-4.7-flash", "messages": messages},
            headers={"Authorization": "Bearer k.k"},
        )
        client.close()
    assert completion.usage is not None and counted == completion.usage.prompt_tokens
    assert raw.headers[EMULATOR_HEADER[0]] == EMULATOR_HEADER[1]
    assert sorted(raw.json()) == ["created", "id", "request_id", "usage"]
    assert server.bodies("tokenizer")[0] == {"model": "glm-4.7-flash", "messages": messages}


def test_counting_takes_no_concurrency_slot() -> None:
    # The cap is for chat completions: a count while a stream holds the only slot completes.
    with serving_emulator() as server:
        client = zf.ZhipuClient(api_key="k.k", base_url=server.base_url, max_concurrency=1)
        counted: list[int] = []
        with client.stream(model="glm-4.7-flash", messages=USER) as stream:
            worker = threading.Thread(
                target=lambda: counted.append(
                    client.count_tokens(model="glm-4.7-flash", messages=USER)
                )
            )
            worker.start()
            worker.join(10.0)
            stream.get_final_completion()
        client.close()
    assert len(counted) == 1 and counted[0] > 0
