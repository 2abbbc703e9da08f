"""ZhipuFlash configuration: fields, secrets, metadata, decorators, the import guard."""

from __future__ import annotations

import inspect
import json
import pickle
import subprocess
import sys
import textwrap

import httpx
import pytest
from llama_index.core.llms.function_calling import FunctionCallingLLM

from llama_index_zhipu_flash import ZhipuFlash
from tests.llama_index._support import Recorder, answer, make_llm
from zhipu_flash import AsyncZhipuClient, MissingAPIKeyError, ZhipuClient

SECRET = "abcd1234.very-secret-value"


def test_class_and_mro() -> None:
    assert ZhipuFlash.class_name() == "ZhipuFlash"
    assert FunctionCallingLLM.__name__ in [c.__name__ for c in ZhipuFlash.__mro__]


def test_every_field_has_a_description() -> None:
    own = [
        "model",
        "api_key",
        "base_url",
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "do_sample",
        "user_id",
        "thinking",
        "clear_thinking",
        "reasoning_effort",
        "reasoning_in_additional_kwargs",
        "tool_stream",
        "timeout",
        "max_retries",
        "max_concurrency",
        "concurrency_url",
        "context_window",
        "additional_kwargs",
    ]
    assert set(own) == set(ZhipuFlash.model_fields) - set(FunctionCallingLLM.model_fields)
    for name in own:
        assert ZhipuFlash.model_fields[name].description, name


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZHIPUAI_BASE_URL", raising=False)
    llm = ZhipuFlash()
    assert llm.model == "glm-4.7-flash"
    assert llm.base_url is None
    assert llm.temperature is None  # no client-side default overriding the model's own
    assert llm.context_window == 200_000
    assert llm.max_retries == 2


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ZHIPUAI_API_KEY": "zhipu.key", "ZAI_API_KEY": "zai.key"}, "zhipu.key"),
        ({"ZAI_API_KEY": "zai.key"}, "zai.key"),
    ],
)
def test_key_from_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    llm = ZhipuFlash()
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == expected


def test_base_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZHIPUAI_BASE_URL", "https://api.z.ai/api/paas/v4")
    assert ZhipuFlash().base_url == "https://api.z.ai/api/paas/v4"
    assert ZhipuFlash(base_url="http://x/api/paas/v4").base_url == "http://x/api/paas/v4"


def test_constructs_without_a_key_and_fails_at_the_first_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    recorder = Recorder(answer("never"))
    llm = make_llm(recorder, api_key=None)
    assert llm.api_key is None
    with pytest.raises(MissingAPIKeyError):
        llm.complete("hi")
    assert recorder.bodies == []  # nothing was sent


def test_the_key_is_never_shown_or_serialised() -> None:
    llm = ZhipuFlash(api_key=SECRET)
    shown = [
        repr(llm),
        str(llm),
        json.dumps(llm.model_dump(), default=str),
        json.dumps(llm.to_dict(), default=str),
        llm.to_json(),
        llm.model_dump_json(),
        repr(llm._sync_client()),
        repr(llm._client_settings()),
    ]
    shown.append(json.dumps(llm.to_payload(), default=str))  # in every chat event
    for text in shown:
        assert "very-secret" not in text
        assert SECRET not in text
    assert "api_key" not in llm.model_dump()
    assert "api_key" not in llm.to_dict()
    assert llm.api_key is not None and llm.api_key.get_secret_value() == SECRET


def test_the_key_reaches_the_wire() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=answer("ok")
        )

    make_llm(handler, api_key=SECRET).complete("hi")
    assert seen == [f"Bearer {SECRET}"]


def test_pickle_round_trip_keeps_configuration() -> None:
    llm = ZhipuFlash(model="glm-4-flash-250414", temperature=0.3)
    clone = pickle.loads(pickle.dumps(llm))  # noqa: S301  (our own bytes)
    assert clone.model == "glm-4-flash-250414"
    assert clone.temperature == 0.3


@pytest.mark.parametrize(
    ("model", "context", "output", "tools"),
    [
        # num_output: DEFAULT_NUM_OUTPUT (8192), capped at the model's output limit and at a
        # quarter of the window; never the model's maximum output (128K on glm-4.7-flash).
        ("glm-4.7-flash", 200_000, 8192, True),
        ("glm-4-flash-250414", 128_000, 8192, True),
        ("glm-4.6v-flash", 128_000, 8192, True),
        ("glm-4.1v-thinking-flash", 64_000, 8192, False),
        ("glm-4v-flash", 16_000, 1_024, False),  # its output limit
        ("some-future-model", 128_000, 8192, True),  # unknown: defaults, never an error
    ],
)
def test_metadata(model: str, context: int, output: int, tools: bool) -> None:
    meta = ZhipuFlash(model=model).metadata
    assert meta.context_window == context
    assert meta.num_output == output
    assert meta.is_chat_model is True
    assert meta.is_function_calling_model is tools
    assert meta.model_name == model


def test_metadata_follows_explicit_settings() -> None:
    meta = ZhipuFlash(context_window=32_000, max_tokens=2_000).metadata
    assert (meta.context_window, meta.num_output) == (32_000, 2_000)


def test_metadata_never_raises_after_the_model_changes() -> None:
    llm = ZhipuFlash()
    llm.model = "not-a-real-model"
    assert llm.metadata.model_name == "not-a-real-model"
    assert llm.to_payload()["class_name"] == "ZhipuFlash"  # the chat events read metadata


def test_method_shapes_for_the_callback_decorators() -> None:
    # The decorator wraps async methods only when they are coroutine functions; the async
    # streaming methods must be ``async def`` returning a generator (CONTRACTS B2).
    for name in ("achat", "acomplete", "astream_chat", "astream_complete"):
        method = getattr(ZhipuFlash, name)
        assert inspect.iscoroutinefunction(method), name
        assert not inspect.isasyncgenfunction(method.__wrapped__), name
    for name in ("chat", "complete", "stream_chat", "stream_complete"):
        assert not inspect.iscoroutinefunction(getattr(ZhipuFlash, name)), name


def test_fields_reach_the_request() -> None:
    recorder = Recorder(answer("ok"))
    llm = make_llm(
        recorder,
        temperature=0.4,
        top_p=0.9,
        max_tokens=512,
        thinking=False,
        tool_stream=True,
        additional_kwargs={"user_id": "user-123456", "stop": ["END"]},
    )
    llm.complete("hi", max_tokens=100)  # call kwargs win over fields
    (body,) = recorder.bodies
    assert body == {
        "model": "glm-4.7-flash",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "thinking": {"type": "disabled"},
        "temperature": 0.4,
        "top_p": 0.9,
        "max_tokens": 100,
        "stop": ["END"],
        "user_id": "user-123456",
        "tool_stream": True,
    }


def test_injected_core_clients_are_used() -> None:
    transport = httpx.MockTransport(Recorder(answer("sync ok")))
    client = ZhipuClient(api_key="k.s", http_client=httpx.Client(transport=transport))
    aclient = AsyncZhipuClient(api_key="k.s", http_client=httpx.AsyncClient(transport=transport))
    llm = ZhipuFlash(client=client, async_client=aclient)
    assert llm.complete("hi").text == "sync ok"
    assert llm._sync_client() is client


async def test_injected_async_client_is_used() -> None:
    transport = httpx.MockTransport(Recorder(answer("async ok")))
    aclient = AsyncZhipuClient(api_key="k.s", http_client=httpx.AsyncClient(transport=transport))
    llm = ZhipuFlash(async_client=aclient)
    assert (await llm.acomplete("hi")).text == "async ok"


def test_clients_are_created_lazily_and_once() -> None:
    llm = ZhipuFlash(api_key="k.s")
    assert repr(llm._clients) == "ModelClients(0 settings)"
    assert llm._sync_client() is llm._sync_client()
    llm.close()


def test_import_without_llama_index_names_the_extra() -> None:
    code = textwrap.dedent(
        """
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "llama_index" or name.startswith("llama_index."):
                    raise ImportError("blocked: " + name)
                return None
        sys.meta_path.insert(0, Block())
        try:
            import llama_index_zhipu_flash
        except ImportError as exc:
            print(exc)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert 'pip install "zhipu-flash[llama-index]"' in out.stdout


def test_llamahub_style_import_path() -> None:
    from llama_index.llms.zhipu_flash import ZhipuFlash as Alias

    assert Alias is ZhipuFlash
