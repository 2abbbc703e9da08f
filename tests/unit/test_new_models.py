"""New models on day one (issue 23; docs/glm-api.md §3, §4.1, §10): the catalog's new entries
and their unverified facts, a model the catalog does not know never worse off than with a
plain OpenAI-style client (chat, embeddings and rerank: sent as given, nothing refused on a
guess), and a 1210 answer about thinking or effort that says what to change. Sync and async
through the core, against MockTransport and GLM-shaped error bodies."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import httpx
import pytest

import zhipu_flash as zf
from glm_emulator.server import serving_emulator
from tests.unit._helpers import (
    DONE,
    USER,
    Server,
    chunk,
    error,
    make_client,
    run_create,
    run_stream,
    sse,
)
from tests.wire import shaped_json
from zhipu_flash import cli
from zhipu_flash.models import embedding_model_info, rerank_model_info

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
    assert glm54.confirms("tools")
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
    assert rows["glm-5.4"][1:5] == ["1M?", "128K?", "forced?", "low|high|max*?"]
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
def test_an_unknown_model_takes_images_and_tools_unchecked(mode: str) -> None:
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
    run_stream(mode, server, model="glm-9v", messages=image, tools=[tool])
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


# --- retrieval: unknown names are sent, with a warning ---------------------------------------


def _vectors(request: httpx.Request) -> httpx.Response:
    inputs = json.loads(request.content)["input"]
    data = [
        {"index": i, "object": "embedding", "embedding": [0.5, 0.5]} for i in range(len(inputs))
    ]
    usage = {"prompt_tokens": len(data), "completion_tokens": 0, "total_tokens": len(data)}
    return httpx.Response(200, json={"object": "list", "data": data, "usage": usage})


def _ranked(request: httpx.Request) -> httpx.Response:
    results = [{"index": 0, "relevance_score": 0.9}]
    return httpx.Response(200, json={"id": "r", "results": results, "usage": {}})


def _client_call(mode: str, server: Server, method: str, *args: Any, **kwargs: Any) -> Any:
    client = make_client(mode, server)
    if mode == "sync":
        return getattr(client, method)(*args, **kwargs)
    return asyncio.run(getattr(client, method)(*args, **kwargs))


@pytest.mark.parametrize("mode", MODES)
def test_an_unknown_embedding_model_is_sent_as_given_with_a_warning(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"GLM-Embedding-9-{mode}"
    server = Server([_vectors])
    texts = ["z" * (3072 * 128 + 1)] + ["short"] * 69  # over embedding-3's per-input limit
    with caplog.at_level(logging.WARNING, logger="zhipu_flash"):
        result = _client_call(mode, server, "embed", texts, model=name, dimensions=300)
        _client_call(mode, server, "embed", ["again"], model=name)
    assert len(result.data) == 70
    # Split as the client splits (64 a request), the name and dimensions exactly as given.
    assert [len(b["input"]) for b in server.sent] == [64, 6, 1]
    assert {b["model"] for b in server.sent} == {name}
    assert server.sent[0]["dimensions"] == 300
    warned = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert len(warned) == 1  # once per process per name, not per request
    assert "not among the zhipu-flash catalog's embedding models" in warned[0]
    assert "sent as given" in warned[0]


@pytest.mark.parametrize("mode", MODES)
def test_an_unknown_rerank_model_is_sent_as_given_with_a_warning(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"glm-rerank-{mode}"
    server = Server([_ranked])
    documents = ["d" * 5000] * 200  # over rerank's 128 documents and 4,096 characters
    with caplog.at_level(logging.WARNING, logger="zhipu_flash"):
        _client_call(mode, server, "rerank", "q", documents, model=name)
    assert server.sent[0]["model"] == name and len(server.sent[0]["documents"]) == 200
    (warned,) = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert "Did you mean 'rerank'?" in warned


def test_a_typo_of_a_known_name_is_sent_with_the_nearest_name_in_the_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="zhipu_flash"):
        info = embedding_model_info("embeding-3x")
    assert not info.known and info.name == "embeding-3x"
    assert "Did you mean 'embedding-3'?" in caplog.text


@pytest.mark.parametrize("name", ["", "  ", None, 3])
def test_a_retrieval_model_name_must_be_a_string(name: Any) -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="non-empty string"):
        embedding_model_info(name)
    with pytest.raises(zf.InvalidRequestInputError, match="non-empty string"):
        rerank_model_info(name)


def test_known_retrieval_models_keep_their_documented_limits() -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="takes 256, 512, 1024, 2048"):
        embedding_model_info("embedding-3", 300)
    assert rerank_model_info("Rerank").max_documents == 128


# --- the web_search tool -----------------------------------------------------------------------


def test_web_search_tool_sends_only_the_options_given() -> None:
    assert zf.web_search_tool() == {"type": "web_search", "web_search": {"enable": True}}
    tool = zf.web_search_tool(
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
        zf.web_search_tool(search_recency_filter="oneDecade")["web_search"]["search_recency_filter"]
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
        zf.web_search_tool(**kwargs)


@pytest.mark.parametrize("mode", MODES)
def test_web_search_tool_goes_on_the_wire_and_its_sources_come_back(mode: str) -> None:
    tool = zf.web_search_tool(search_result=True, result_sequence="before", count=3)
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
