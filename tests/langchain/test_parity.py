"""Parity with ``ChatOpenAI(base_url=<GLM>)``, the setup Z.ai's own LangChain guide shows.

The same recorded GLM responses (real captures in tests/fixtures/wire, served over loopback)
go through ``ChatOpenAI`` and through ``ChatZhipuFlash``; whatever downstream code reads must be
at least as complete in ours: tool calls, ``usage_metadata``, ``response_metadata`` and
``llm_output`` keys, content blocks, text.

Deliberate differences (asserted below, and listed in README):

- ``model_provider`` is ``"zhipuai"``: ``"openai"`` routes ``content_blocks`` to a translator
  that drops ``reasoning_content``; ours keeps it (``additional_kwargs["reasoning_content"]``
  and a ``reasoning`` block first).
- ``message.id`` is GLM's response id (ChatOpenAI's ``invoke`` gives an ``lc_run-`` id and
  puts GLM's in ``response_metadata["id"]``, which ours has too).
- ``refusal``, ``system_fingerprint``, ``logprobs`` and empty usage-detail dicts are left out:
  GLM never sends them, so ChatOpenAI reports them as None or ``{}``.
- On a streamed tool-call turn GLM repeats ``finish_reason`` (and ``model``) on its last two
  chunks; ChatOpenAI concatenates them into ``"tool_callstool_calls"``, ours says it once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.outputs import LLMResult
from langchain_openai import ChatOpenAI

from langchain_zhipu_flash import ChatZhipuFlash
from tests.faults.server import FaultServer, Respond, fault_server, sse
from tests.wire import wire_body, wire_json, wire_sse

KEY = "parity-key.not-a-secret"
# (sample, model it came from, streamed)
SAMPLES = [
    ("glm-4-flash_nonstream_toolcall_swarm-swift.json", "glm-4-flash", False),
    ("glm-4-flash_nonstream_plain_curl_unidentified-repo.json", "glm-4-flash", False),
    ("glm-4.5_stream_reasoning_usage_cached_nuvin_REPAIRED.sse", "glm-4.5", True),
    ("glm-4-flash_stream_loop2_toolcall_only_mini-claude-design.sse", "glm-4-flash", True),
    ("glm-4-flash_stream_loop4_content_stop_mini-claude-design.sse", "glm-4-flash", True),
    ("glm-4_stream_plain_usage_langchain-openai-tests.jsonl", "glm-4", True),
]
# Keys of ChatOpenAI's metadata that are deliberately different in ours (module docstring).
THEIRS_ONLY = {"model_provider"}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with fault_server() as running:
        yield running


def _reply(sample: str, streamed: bool) -> Any:
    if streamed:
        return sse(wire_sse(sample))
    return Respond(200, wire_body(sample), (("Content-Type", "application/json"),))


def _ask(model: Any, streamed: bool, mode: str) -> AIMessage:
    prompt: list[BaseMessage] = [HumanMessage("hi")]
    if not streamed:
        return model.invoke(prompt) if mode == "sync" else asyncio.run(model.ainvoke(prompt))

    async def collect() -> list[Any]:
        return [chunk async for chunk in model.astream(prompt)]

    chunks = list(model.stream(prompt)) if mode == "sync" else asyncio.run(collect())
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    return AIMessage(
        **{
            k: v
            for k, v in full.__dict__.items()
            if k not in ("type", "chunk_position", "tool_call_chunks")
        }
    )


def _glm_truth(sample: str, streamed: bool) -> dict[str, Any]:
    """finish_reason, model, id and usage exactly as GLM sent them."""
    if not streamed:
        body = wire_json(sample)
        return {
            "finish_reason": body["choices"][0]["finish_reason"],
            "model_name": body["model"],
            "id": body["id"],
            "usage": body["usage"],
        }
    truth: dict[str, Any] = {}
    for line in wire_sse(sample).decode("utf-8").splitlines():
        if not line.startswith("data: {"):
            continue
        frame = json.loads(line[6:])
        truth.setdefault("id", frame["id"])
        truth["model_name"] = frame["model"]
        for choice in frame["choices"]:
            truth["finish_reason"] = choice.get("finish_reason", truth.get("finish_reason"))
        truth["usage"] = frame.get("usage", truth.get("usage"))
    return truth


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("sample", "model", "streamed"), SAMPLES, ids=[s[0][:30] for s in SAMPLES])
def test_what_downstream_reads_is_at_least_as_complete_as_chatopenai(
    server: FaultServer, sample: str, model: str, streamed: bool, mode: str
) -> None:
    url = server.script("recorded", _reply(sample, streamed))
    theirs_model = ChatOpenAI(model=model, base_url=url, api_key=KEY, max_retries=0)  # type: ignore[arg-type]
    ours_model = ChatZhipuFlash(model=model, base_url=url, api_key=KEY, max_retries=0)
    theirs = _ask(theirs_model, streamed, mode)
    ours = _ask(ours_model, streamed, mode)
    truth = _glm_truth(sample, streamed)

    assert ours.text == theirs.text
    assert ours.tool_calls == theirs.tool_calls
    assert ours.invalid_tool_calls == theirs.invalid_tool_calls == []

    assert theirs.usage_metadata is not None and ours.usage_metadata is not None
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        assert ours.usage_metadata[key] == theirs.usage_metadata[key]  # type: ignore[literal-required]
    for key in ("input_token_details", "output_token_details"):
        for detail, value in (theirs.usage_metadata.get(key) or {}).items():  # type: ignore[attr-defined]
            assert ours.usage_metadata[key][detail] == value  # type: ignore[literal-required]

    for key, value in theirs.response_metadata.items():
        if value is None or key in THEIRS_ONLY:
            continue
        assert key in ours.response_metadata, key
        if key in truth:  # ours is what GLM sent, even where theirs is garbled
            assert ours.response_metadata[key] == truth[key]
        elif key == "token_usage":
            assert ours.response_metadata[key] == {k: v for k, v in value.items() if v is not None}
        else:
            assert ours.response_metadata[key] == value, key
    assert ours.response_metadata["model_provider"] == "zhipuai"
    assert ours.response_metadata["finish_reason"] == truth["finish_reason"]
    assert ours.response_metadata["model_name"] == truth["model_name"]
    assert ours.id == truth["id"]

    their_blocks = [b["type"] for b in theirs.content_blocks]
    our_blocks = [b["type"] for b in ours.content_blocks]
    assert [b for b in our_blocks if b != "reasoning"] == their_blocks
    if "reasoning" in our_blocks:  # ours adds it, first; theirs drops it
        assert our_blocks[0] == "reasoning" and ours.additional_kwargs["reasoning_content"]
    assert {k for k, v in theirs.additional_kwargs.items() if v is not None} <= set(
        ours.additional_kwargs
    )
    # Both asked for the same thing; ours in GLM's own terms.
    theirs_body, ours_body = (r.json() for r in server.received("recorded"))
    assert ours_body["model"] == theirs_body["model"] == model
    assert ours_body["messages"] == theirs_body["messages"] == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(("sample", "model", "streamed"), SAMPLES[:2], ids=["toolcall", "plain"])
def test_llm_output_is_at_least_as_complete(
    server: FaultServer, sample: str, model: str, streamed: bool
) -> None:
    # Two prompts: llm_output adds up the token usage of both requests.
    url = server.script("recorded", _reply(sample, streamed))
    prompts: list[list[BaseMessage]] = [[HumanMessage("hi")], [HumanMessage("hi")]]
    openai = ChatOpenAI(model=model, base_url=url, api_key=KEY)  # type: ignore[arg-type]
    theirs: LLMResult = openai.generate(prompts)
    ours = ChatZhipuFlash(model=model, base_url=url, api_key=KEY).generate(prompts)
    assert theirs.llm_output is not None and ours.llm_output is not None
    usage = wire_json(sample)["usage"]
    assert ours.llm_output["token_usage"] == {k: 2 * v for k, v in usage.items()}
    for key, value in theirs.llm_output.items():
        if value is None or key in THEIRS_ONLY:
            continue
        assert key in ours.llm_output, key
        if key == "token_usage":
            assert ours.llm_output[key] == {k: v for k, v in value.items() if v is not None}
        else:
            assert ours.llm_output[key] == value, key
