"""Property tests for message conversion in both adapters: arbitrary mixes of text, image,
tool-call and reasoning content either become a request GLM's schema accepts
(docs/glm-api.md §4) or are refused before sending with ``InvalidRequestInputError``, never
anything else.

Conversion is pure, so the requests are captured with an ``httpx.MockTransport`` (no socket).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages import ToolMessage as LCToolMessage
from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

import zhipu_flash as zf
from langchain_zhipu_flash import ChatZhipuFlash
from llama_index_zhipu_flash import ZhipuFlash
from tests.faults._support import API_KEY, completion_body, text_frames

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PNG = (Path(__file__).parents[1] / "fixtures" / "picture.png").read_bytes()
PNG_B64 = base64.b64encode(PNG).decode()
MODELS = ["glm-4.7-flash", "glm-4.6v-flash"]  # a text model and a vision model with tools
TEXT = st.text(st.sampled_from(list("ab 你好\n{}\"'🌍\u2028")), max_size=8)
IDS = st.sampled_from(["call_1", "call_2", "x"])
NAMES = st.sampled_from(["get_weather", "add", "search_web"])
ARGS = st.dictionaries(st.sampled_from(["city", "a", "q"]), st.integers() | TEXT, max_size=2)


# --- what GLM accepts ----------------------------------------------------------------------

_PART_KEYS = {"text": "text", "image_url": "image_url", "video_url": "video_url"}
_MESSAGE_KEYS = {
    "system": {"role", "content"},
    "user": {"role", "content"},
    "assistant": {"role", "content", "tool_calls", "reasoning_content"},
    "tool": {"role", "content", "tool_call_id"},
}


def assert_valid_request(body: dict[str, Any], vision: bool, clear_thinking: bool) -> None:
    """The body follows docs/glm-api.md §4.2-4.3: roles, required keys, no foreign keys,
    parts only for vision models, tool-call arguments as JSON strings, reasoning only where
    §4.4 sends it back."""
    messages = body["messages"]
    assert isinstance(messages, list) and messages
    assert any(m["role"] in ("user", "tool") for m in messages)  # else GLM answers 1214
    last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
    for i, m in enumerate(messages):
        role = m["role"]
        assert set(m) <= _MESSAGE_KEYS[role], m
        if role in ("system", "tool"):
            assert isinstance(m["content"], str)
        if role == "tool":
            assert isinstance(m["tool_call_id"], str)
        if role == "user":
            content = m["content"]
            if isinstance(content, list):
                assert vision, "content parts go to vision models only"
                for part in content:
                    kind = part["type"]
                    assert set(part) == {"type", _PART_KEYS[kind]}, part
                    if kind == "text":
                        assert isinstance(part["text"], str)
                    else:
                        assert set(part[kind]) == {"url"} and part[kind]["url"], part
                        assert not part[kind]["url"].startswith("data:")  # bare base64
            else:
                assert isinstance(content, str)
        if role == "assistant":
            assert m.get("content") is None or isinstance(m["content"], str)
            for call in m.get("tool_calls", []):
                assert set(call) == {"id", "type", "function"} and call["type"] == "function"
                assert set(call["function"]) == {"name", "arguments"}
                assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", call["function"]["name"])
                assert isinstance(call["function"]["arguments"], str)
                json.loads(call["function"]["arguments"])
            if clear_thinking and i < last_user:
                # Earlier turns' reasoning goes back only with preserved thinking; the
                # current turn's tool loop always gets it (interleaved thinking).
                assert "reasoning_content" not in m
            elif "reasoning_content" in m:
                assert isinstance(m["reasoning_content"], str) and m["reasoning_content"]


Handler = Callable[[httpx.Request], httpx.Response]
Content = str | list[str | dict[Any, Any]]  # a LangChain message's content
_INDEX = re.compile(r"\[\d+\]")


def _capture(stream: bool) -> tuple[list[dict[str, Any]], Handler]:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        if stream:
            body = b"".join(text_frames(["ok"]))
            return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)
        return httpx.Response(200, json=json.loads(completion_body("ok")))

    return sent, handler


def _check(
    sent: list[dict[str, Any]], error: BaseException | None, model: str, clear_thinking: bool
) -> None:
    event("refused before sending" if error is not None else "sent")
    if error is not None:
        event("refused: " + _INDEX.sub("[i]", str(error))[:60])  # statistics only
        assert isinstance(error, zf.InvalidRequestInputError), repr(error)
        assert sent == []  # refused before anything was sent
        return
    assert len(sent) == 1
    assert_valid_request(sent[0], zf.get_model_info(model).vision, clear_thinking)


# --- LangChain -----------------------------------------------------------------------------

LC_IMAGES = st.sampled_from(
    [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
        {"type": "image", "url": "https://example.com/b.jpg"},
        {"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
    ]
)
LC_TEXT_BLOCKS = TEXT.map(lambda t: {"type": "text", "text": t, "cache_control": {"x": 1}})


@st.composite
def lc_messages(draw: st.DrawFn) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["system", "human", "ai", "tool"]))
        if kind == "system":
            out.append(SystemMessage(content=draw(TEXT)))
        elif kind == "human":
            blocks = st.lists(LC_TEXT_BLOCKS | LC_IMAGES | TEXT, min_size=1, max_size=3)
            out.append(HumanMessage(content=cast("Content", draw(TEXT | blocks))))
        elif kind == "tool":
            out.append(LCToolMessage(content=draw(TEXT), tool_call_id=draw(IDS)))
        else:
            calls = draw(
                st.lists(
                    st.fixed_dictionaries({"name": NAMES, "args": ARGS, "id": IDS | st.none()}),
                    max_size=2,
                )
            )
            reasoning_block = TEXT.map(lambda t: {"type": "reasoning", "reasoning": t})
            content = cast(
                "Content", draw(TEXT | st.lists(LC_TEXT_BLOCKS | reasoning_block, max_size=2))
            )
            extra = {"reasoning_content": draw(TEXT)} if draw(st.booleans()) else {}
            out.append(AIMessage(content=content, tool_calls=calls, additional_kwargs=extra))
    return out


@FUZZ
@given(lc_messages(), st.sampled_from(MODELS), st.booleans())
def test_langchain_conversion_never_builds_an_invalid_request(
    messages: list[BaseMessage], model: str, clear_thinking: bool
) -> None:
    sent, handler = _capture(stream=False)
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        llm = ChatZhipuFlash(
            model=model,
            api_key=API_KEY,
            base_url="http://127.0.0.1:9/api/paas/v4",
            http_client=http,
            clear_thinking=clear_thinking,
            max_retries=0,
        )
        error: BaseException | None = None
        try:
            llm.invoke(messages)
        except Exception as exc:
            error = exc
    _check(sent, error, model, clear_thinking)


# --- LlamaIndex ----------------------------------------------------------------------------

LI_IMAGES = st.sampled_from(
    [
        ImageBlock(url="https://example.com/a.png"),
        ImageBlock(image=PNG, image_mimetype="image/png"),
    ]
)


@st.composite
def li_messages(draw: st.DrawFn) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for _ in range(draw(st.integers(1, 5))):
        role = draw(st.sampled_from([MessageRole.SYSTEM, MessageRole.USER, MessageRole.ASSISTANT]))
        role = draw(st.sampled_from([role, MessageRole.TOOL]))
        blocks: list[Any] = [TextBlock(text=t) for t in draw(st.lists(TEXT, max_size=2))]
        kwargs: dict[str, Any] = {}
        if draw(st.booleans()):
            blocks.append(draw(LI_IMAGES))
        if draw(st.booleans()):
            blocks.append(ThinkingBlock(content=draw(TEXT)))
        for name, args, call_id in draw(st.lists(st.tuples(NAMES, ARGS, IDS), max_size=2)):
            blocks.append(ToolCallBlock(tool_call_id=call_id, tool_name=name, tool_kwargs=args))
        if role == MessageRole.TOOL:
            kwargs["tool_call_id"] = draw(IDS)
        draw(st.randoms()).shuffle(blocks)
        out.append(ChatMessage(role=role, blocks=blocks, additional_kwargs=kwargs))
    return out


@FUZZ
@given(li_messages(), st.sampled_from(MODELS), st.booleans())
def test_llama_index_conversion_never_builds_an_invalid_request(
    messages: list[ChatMessage], model: str, clear_thinking: bool
) -> None:
    sent, handler = _capture(stream=True)
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        llm = ZhipuFlash(
            model,
            api_key=API_KEY,
            base_url="http://127.0.0.1:9/api/paas/v4",
            http_client=http,
            clear_thinking=clear_thinking,
            max_retries=0,
        )
        error: BaseException | None = None
        try:
            llm.chat(messages)
        except Exception as exc:
            error = exc
    _check(sent, error, model, clear_thinking)
