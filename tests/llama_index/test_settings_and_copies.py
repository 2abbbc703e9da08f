"""ZhipuFlash configuration as LlamaIndex users change it: ``api_base``, misspelt keywords,
settings changed after the first call, copies, pickles, and the request fields.

Requests go to the GLM emulator on loopback (its answers are not real model output); what is
checked is where each request went and what it carried.
"""

from __future__ import annotations

import asyncio
import copy
import pickle

import httpx
import pytest
from llama_index.core import PromptTemplate, Settings
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms import ChatMessage
from llama_index.core.output_parsers import PydanticOutputParser
from llama_index.core.rate_limiter import TokenBucketRateLimiter
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel

from glm_emulator.server import EmulatorHTTPServer
from llama_index_zhipu_flash import ZhipuFlash
from tests.llama_index._support import Recorder, answer
from zhipu_flash import ZhipuClient

HI = [ChatMessage(role="user", content="Hello")]


def _served(server: EmulatorHTTPServer) -> int:
    return len(server.bodies())


# -- api_base and unknown keywords --------------------------------------------------------


def test_api_base_is_another_name_for_base_url(emulator: EmulatorHTTPServer) -> None:
    # OpenAI's and OpenAILike's spelling: it used to be dropped silently, so every request
    # (with the key) went to open.bigmodel.cn.
    llm = ZhipuFlash(api_base=emulator.base_url, api_key="k.s")
    assert llm.base_url == emulator.base_url
    assert llm.chat(HI).message.content
    assert _served(emulator) == 1
    assert ZhipuFlash(api_base="http://a/v4", base_url="http://a/v4").base_url == "http://a/v4"


def test_api_base_and_base_url_must_agree() -> None:
    with pytest.raises(ValueError, match="two names for one setting"):
        ZhipuFlash(api_base="http://a/api/paas/v4", base_url="http://b/api/paas/v4")


@pytest.mark.parametrize(
    ("keyword", "suggestion"),
    [
        ("temprature", "did you mean 'temperature'?"),
        ("max_token", "did you mean 'max_tokens'?"),
        ("request_timeout", "did you mean 'timeout'?"),
        ("model_name", "did you mean 'model'?"),
        # ChatOpenAI's spelling: both adapters take async_http_client, as LlamaIndex's OpenAI.
        ("http_async_client", "did you mean 'async_http_client'?"),
        ("is_chat_model", "always a chat model"),
        ("is_function_calling_model", "model catalog"),
    ],
)
def test_unknown_keywords_are_refused_with_the_nearest_name(keyword: str, suggestion: str) -> None:
    with pytest.raises(TypeError, match="unexpected keyword") as info:
        ZhipuFlash(**{keyword: 0.2})
    assert suggestion in str(info.value)
    assert "additional_kwargs" in str(info.value)


def test_everything_llama_index_passes_to_a_constructor_is_accepted() -> None:
    class Song(BaseModel):
        title: str

    handler_manager = CallbackManager([])
    llm = ZhipuFlash(
        callback_manager=handler_manager,
        system_prompt="Be brief.",
        messages_to_prompt=lambda messages: "\n".join(str(m) for m in messages),
        completion_to_prompt=lambda prompt: prompt,
        pydantic_program_mode=PydanticProgramMode.FUNCTION,
        output_parser=PydanticOutputParser(output_cls=Song),
        query_wrapper_prompt=PromptTemplate("Q: {query_str}"),
        rate_limiter=TokenBucketRateLimiter(requests_per_minute=600),
    )
    assert llm.system_prompt == "Be brief."
    assert llm.callback_manager is handler_manager
    # The round trips LlamaIndex itself makes: from_dict/from_json of to_dict/to_json, and
    # pickle (whose __setstate__ calls __init__ with every field).
    configured = ZhipuFlash(
        model="glm-4-flash-250414",
        api_base="http://proxy.local/api/paas/v4",
        temperature=0.3,
        max_concurrency=3,
        reasoning_effort="high",
        reasoning_in_additional_kwargs=False,
        stop="END",
        do_sample=True,
        user_id="user-123456",
    )
    for clone in (
        ZhipuFlash.from_dict(configured.to_dict()),
        ZhipuFlash.from_json(configured.to_json()),
        pickle.loads(pickle.dumps(configured)),  # noqa: S301  (our own bytes)
    ):
        assert clone.model_dump() == configured.model_dump()
    Settings.llm = configured
    try:
        assert Settings.llm is configured
    finally:
        Settings._llm = None


# -- settings changed after the first call ------------------------------------------------


def test_settings_changed_in_place_take_effect(
    emulator: EmulatorHTTPServer, other_emulator: EmulatorHTTPServer
) -> None:
    seen: list[str] = []

    def auth(request: httpx.Request) -> None:
        seen.append(request.headers["authorization"])

    llm = ZhipuFlash(base_url=emulator.base_url, api_key="first.key")
    llm.chat(HI)
    llm.base_url = other_emulator.base_url
    llm.api_key = "second.key"  # type: ignore[assignment]  # a str, as users assign it
    llm.chat(HI)
    assert (_served(emulator), _served(other_emulator)) == (1, 1)

    # The key reaches the new server: check the header on the wire through a hook.
    hooked = httpx.Client(event_hooks={"request": [auth]})
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="first.key", http_client=hooked)
    llm.chat(HI)
    llm.api_key = "second.key"  # type: ignore[assignment]
    llm.chat(HI)
    assert seen == ["Bearer first.key", "Bearer second.key"]
    hooked.close()

    # Timeout and retries: the next call's client is built from the new values.
    llm.timeout, llm.max_retries = 7.0, 0
    client = llm._sync_client()
    assert (client.timeout.read, client.max_retries) == (7.0, 0)


async def test_settings_changed_in_place_take_effect_async(
    emulator: EmulatorHTTPServer, other_emulator: EmulatorHTTPServer
) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")
    await llm.achat(HI)
    llm.base_url = other_emulator.base_url
    await llm.achat(HI)
    assert (_served(emulator), _served(other_emulator)) == (1, 1)
    await llm.aclose()


def test_model_copy_with_an_update_uses_its_own_settings(
    emulator: EmulatorHTTPServer, other_emulator: EmulatorHTTPServer
) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")
    llm.chat(HI)
    moved = llm.model_copy(update={"base_url": other_emulator.base_url})
    moved.chat(HI)
    llm.chat(HI)  # the original keeps its server
    assert (_served(emulator), _served(other_emulator)) == (2, 1)


# -- copies and pickles -------------------------------------------------------------------


def test_deepcopy_and_pickle_before_and_after_use(emulator: EmulatorHTTPServer) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s", max_concurrency=2)
    copies = [copy.deepcopy(llm), pickle.loads(pickle.dumps(llm))]  # noqa: S301
    llm.chat(HI)

    async def use_async() -> None:
        await llm.achat(HI)

    asyncio.run(use_async())
    # After first use: the cached clients (locks, sockets) are not state; copies start empty.
    copies += [copy.deepcopy(llm), pickle.loads(pickle.dumps(llm)), llm.model_copy(deep=True)]  # noqa: S301
    for clone in copies:
        assert clone.model_dump() == llm.model_dump()
        assert clone.api_key is not None and clone.api_key.get_secret_value() == "k.s"
        assert clone.chat(HI).message.content
    assert _served(emulator) == 2 + len(copies)


def test_injected_http_clients_are_shared_by_copies_and_left_behind_by_pickles(
    emulator: EmulatorHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(answer("ok"))
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s", http_client=http)
    clone = copy.deepcopy(llm)
    assert clone.chat(HI).message.content == "ok"  # through the caller's client
    assert clone._injected.http_client is http
    # A connection pool cannot cross processes: the unpickled copy builds its own clients
    # from its fields (same server, same key) and the log says so.
    unpickled = pickle.loads(pickle.dumps(llm))  # noqa: S301
    assert caplog.text.count("without its injected http_client") == 1
    assert unpickled.chat(HI).message.content
    assert (len(recorder.bodies), _served(emulator)) == (1, 1)
    http.close()


def test_an_injected_core_client_is_used_as_given(emulator: EmulatorHTTPServer) -> None:
    client = ZhipuClient(api_key="own.key", base_url=emulator.base_url)
    llm = ZhipuFlash(client=client, base_url="http://unused.invalid/api/paas/v4")
    llm.chat(HI)  # its own URL (and key): the LLM's connection fields do not reach it
    assert _served(emulator) == 1
    llm.close()  # the caller's client stays usable
    assert client.create(model="glm-4.7-flash", messages=[{"role": "user", "content": "hi"}])
    client.close()


# -- request fields -----------------------------------------------------------------------


def test_request_fields_and_per_call_parameters_reach_the_wire(
    emulator: EmulatorHTTPServer,
) -> None:
    llm = ZhipuFlash(
        model="glm-5.2",  # reasoning_effort: GLM-5.2 and later
        base_url=emulator.base_url,
        api_key="k.s",
        reasoning_effort="high",
        do_sample=True,
        user_id="user-123456",
        stop="END",
    )
    llm.chat(HI, request_id="req-1", response_format={"type": "json_object"})
    (body,) = emulator.bodies()
    picked = {k: body.get(k) for k in ("reasoning_effort", "do_sample", "user_id", "stop")}
    assert picked == {
        "reasoning_effort": "high",
        "do_sample": True,
        "user_id": "user-123456",
        "stop": ["END"],
    }
    assert body["request_id"] == "req-1"
    assert body["response_format"] == {"type": "json_object"}


def test_max_tokens_must_leave_room_for_the_prompt() -> None:
    with pytest.raises(ValueError, match="leaves no room for the prompt"):
        ZhipuFlash(context_window=32_000, max_tokens=64_000)


def test_unknown_request_parameters_in_a_call_are_refused_before_sending(
    emulator: EmulatorHTTPServer,
) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")
    with pytest.raises(Exception, match="Unknown parameter"):
        llm.chat(HI, temprature=0.2)
    assert emulator.bodies() == []
