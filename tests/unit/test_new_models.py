"""New models on day one (issue 23; docs/glm-api.md §3, §4, §6.3): the catalog's new entries
and their unverified facts, a model the catalog does not know never worse off than with a
plain OpenAI-style client (sent as given, nothing refused on a guess), a 1210 answer about
thinking or effort that says what to change, and the web_search tool helper. Sync and async
through the core, against MockTransport, GLM-shaped error bodies and the emulator (unknown
embedding and rerank names: tests/unit/test_retrieval.py)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest

import zhipu_flash as zf
from glm_emulator.server import serving_emulator
from tests.unit._helpers import (
    DONE,
    USER,
    Server,
    chunk,
    error,
    run_create,
    run_stream,
    sse,
)
from tests.wire import shaped_json
from zhipu_flash import cli
from zhipu_flash.web_search import web_search_tool

MODES = ["sync", "async"]
#: GLM-5.3's answer to thinking disabled, as reported from api.z.ai (the fixture's header).
ALWAYS_THINKS = shaped_json("error_1210_always_thinks_en_http400_glm-5.3.json")
#: The Chinese platform's generic 1210 text, which names no field.
GENERIC_1210 = {"error": {"code": "1210", "message": "API 调用参数有误，请检查文档。"}}


def ok() -> Server:
    return Server([sse([chunk("ok", finish="stop"), DONE])])


def test_the_new_models_are_in_the_catalog_with_their_unverified_facts() -> None:
    glm54 = zf.get_model_info("GLM-5.4")
    assert glm54.known and glm54.reasoning_efforts == ("low", "high", "max")
    assert {"thinking", "reasoning_efforts", "context_window"} <= glm54.unverified
    assert not glm54.confirms("thinking") and not glm54.confirms("reasoning_efforts")
    assert glm54.confirms("tools") and not glm54.confirms("vision")
    flashx = zf.get_model_info("glm-5.3-flashx")
    assert (flashx.context_window, flashx.max_output_tokens) == (1_048_576, 131_072)
    assert flashx.vision and flashx.video and not flashx.confirms("thinking")
    # Entries a vendor page backs keep every check.
    assert zf.get_model_info("glm-5.3").confirms("thinking")
    assert not zf.get_model_info("glm-9").confirms("vision")
    # Not confirmed by any vendor page: left out (docs/glm-api.md §3), so sent as given.
    for name in ("glm-5.2-fast", "glm-5.2-highspeed", "glm-latest"):
        assert not zf.get_model_info(name).known


def test_the_models_command_lists_the_new_models_and_marks_what_is_unverified() -> None:
    out = io.StringIO()
    assert cli.main(["models"], out=out) == 0
    rows = {line.split()[0]: line.split() for line in out.getvalue().splitlines() if line}
    assert rows["glm-5.4"][1:6] == ["1M?", "128K?", "forced?", "low|high|max*?", "-?"]
    assert rows["glm-5.3-flashx"][1:6] == [
        "1M?",
        "128K?",
        "forced?",
        "low|high|max*?",
        "image+video",
    ]
    assert rows["glm-5.3"][1:5] == ["1M", "128K", "forced", "low|high|max*"]
    assert "?: unverified" in out.getvalue()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", ["glm-9", "glm-5.4", "glm-5.3-flashx"])
def test_an_unconfirmed_thinking_contract_is_sent_as_asked(mode: str, model: str) -> None:
    server = Server([sse([chunk("ok", finish="stop"), DONE])] * 2)
    run_stream(mode, server, model=model)
    run_stream(mode, server, model=model, thinking=False, reasoning_effort="medium")
    plain, asked = server.sent[0], server.sent[1]
    # Nothing the caller did not ask for: no thinking object, no effort, the name as given.
    assert plain["model"] == model and "thinking" not in plain
    assert "reasoning_effort" not in plain
    assert asked["thinking"] == {"type": "disabled"}
    assert asked["reasoning_effort"] == "medium"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model", ["glm-9v", "glm-5.4"])
def test_an_unconfirmed_model_takes_video_and_tools_unchecked(mode: str, model: str) -> None:
    server = ok()
    image = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "video_url", "video_url": {"url": "https://example.com/a.mp4"}},
            ],
        }
    ]
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    run_stream(mode, server, model=model, messages=image, tools=[tool])
    sent = server.sent[0]
    assert sent["messages"][0]["content"][1]["type"] == "video_url"
    assert sent["tools"][0]["function"]["name"] == "f"


def test_a_confirmed_contract_is_still_refused_locally() -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="always thinks"):
        zf.build_chat_request(
            "glm-5.3", [{"role": "user", "content": "hi"}], stream=False, thinking=False
        )


def _refusal(mode: str, how: str, model: str, body: Any, **params: Any) -> zf.BadRequestError:
    server = Server([error(400, body)])
    call = run_stream if how == "stream" else run_create
    with pytest.raises(zf.BadRequestError) as info:
        call(mode, server, model=model, **params)
    assert len(server.requests) == 1  # sent once, never retried
    return info.value


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["create", "stream"])
def test_a_1210_about_thinking_names_the_setting_and_the_catalog(mode: str, how: str) -> None:
    err = _refusal(mode, how, "glm-9", ALWAYS_THINKS, thinking=False)
    text = str(err)
    assert err.code == "1210" and err.status_code == 400
    assert text.startswith("HTTP 400 [1210] This model always engages in thinking")
    assert "glm-9 is not in the zhipu-flash catalog" in text
    assert "thinking=False" in text and "reasoning_effort" in text


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["create", "stream"])
def test_a_generic_1210_about_an_effort_names_reasoning_effort(mode: str, how: str) -> None:
    err = _refusal(mode, how, "glm-5.4", GENERIC_1210, reasoning_effort="medium")
    assert "reasoning_effort='medium'" in err.message
    assert "unverified thinking contract" in err.message
    assert "'low', 'high' or 'max'" in err.message


@pytest.mark.parametrize("mode", MODES)
def test_other_refusals_are_left_as_glm_worded_them(mode: str) -> None:
    # A 1210 with neither setting sent, and a checked model: nothing is added.
    plain = _refusal(mode, "create", "glm-9", GENERIC_1210)
    assert plain.message == GENERIC_1210["error"]["message"]
    known = _refusal(mode, "create", "glm-5.2", GENERIC_1210, reasoning_effort="low")
    assert known.message == GENERIC_1210["error"]["message"]


# --- the web_search tool -----------------------------------------------------------------------


def test_web_search_tool_sends_only_the_options_given() -> None:
    assert web_search_tool() == {"type": "web_search", "web_search": {"enable": True}}
    tool = web_search_tool(
        search_engine="search_pro",
        count=5,
        search_domain_filter="www.gov.cn",
        search_recency_filter="oneWeek",
        search_prompt="Cite {search_result}.",
        search_result=True,
    )
    assert tool == {
        "type": "web_search",
        "web_search": {
            "enable": True,
            "search_engine": "search_pro",
            "count": 5,
            "search_domain_filter": "www.gov.cn",
            "search_recency_filter": "oneWeek",
            "search_result": True,
            "search_prompt": "Cite {search_result}.",
        },
    }
    # A value GLM may add later is sent as given: only types are checked locally.
    assert (
        web_search_tool(search_recency_filter="oneDecade")["web_search"]["search_recency_filter"]
        == "oneDecade"
    )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"count": "5"}, "count must be an integer"),
        ({"count": True}, "count must be an integer"),
        ({"search_result": "yes"}, "search_result must be True or False"),
        ({"search_recency_filter": ""}, "search_recency_filter must be a non-empty string"),
        ({"search_domain_filter": ["a.com"]}, "search_domain_filter must be a non-empty string"),
    ],
)
def test_web_search_tool_refuses_a_wrong_type(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(zf.InvalidRequestInputError, match=match):
        web_search_tool(**kwargs)


@pytest.mark.parametrize("mode", MODES)
def test_web_search_tool_goes_on_the_wire_and_its_sources_come_back(mode: str) -> None:
    tool = web_search_tool(search_result=True, result_sequence="before", count=3)
    ask = {"model": "glm-4.7-flash", "messages": USER, "tools": [tool]}
    with serving_emulator() as server:
        if mode == "sync":
            with zf.ZhipuClient(api_key="k.s", base_url=server.base_url) as c, c.stream(**ask) as s:
                chunks, final = list(s), s.get_final_completion()
        else:

            async def run() -> tuple[list[Any], zf.ChatCompletion]:
                client = zf.AsyncZhipuClient(api_key="k.s", base_url=server.base_url)
                async with client, client.stream(**ask) as s:
                    return [x async for x in s], await s.get_final_completion()

            chunks, final = asyncio.run(run())
        (body,) = server.bodies()
    assert body["tools"] == [tool]
    assert chunks[0].web_search and final.web_search  # result_sequence "before": first chunk
    assert final.web_search[0].refer == "ref_1"
