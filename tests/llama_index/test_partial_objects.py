"""Partial objects while tool arguments stream (issue 23): with ``tool_stream=True`` GLM sends
a call's arguments in fragments, and LlamaIndex's streaming programs turn each response's
tool arguments into a partial object. Those objects must grow with the fragments (a title as
its characters arrive), sync and async, through ``stream_structured_predict``,
``astream_structured_predict`` and ``as_structured_llm(...).stream_chat``.

Before the fix the open string was dropped until its quote closed: the titles were
``[None, None, 'River Song', ...]``. OpenAILike does the same on these bytes (checked below:
ours reaches every state it reaches, and "Riv" before them).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from llama_index.core import PromptTemplate
from llama_index.core.llms import ChatMessage
from llama_index.llms.openai_like import OpenAILike
from pydantic import BaseModel

from glm_emulator import frames
from llama_index_zhipu_flash import ZhipuFlash
from llama_index_zhipu_flash.utils import parse_tool_kwargs
from tests.llama_index._support import Recorder, make_llm

#: The fragments a new user tried, as GLM streams them with tool_stream (docs/glm-api.md §6.2
#: row 5): the first carries the id and the name, the others append to the arguments.
FRAGMENTS = ['{"title": "Riv', 'er Song", ', '"year": 19', "99}"]
GROWING = [
    {"title": "Riv"},
    {"title": "River Song"},
    {"title": "River Song", "year": 19},
    {"title": "River Song", "year": 1999},
]


class Film(BaseModel):
    title: str
    year: int


def body() -> bytes:
    chunks = frames.tool_call_fragments("call_1", "Film", FRAGMENTS, model="glm-4.7")
    return frames.stream_body(chunks)


def llm() -> tuple[ZhipuFlash, Recorder]:
    recorder = Recorder(lambda _: body())
    return make_llm(recorder, model="glm-4.7", tool_stream=True), recorder


def seen(objects: list[Any]) -> list[dict[str, Any]]:
    """Each partial object's set fields, with repeats of the same state dropped."""
    states: list[dict[str, Any]] = []
    for obj in objects:
        state = {k: v for k, v in obj.model_dump().items() if v is not None}
        if state and (not states or states[-1] != state):
            states.append(state)
    return states


PROMPT = PromptTemplate("Name a film about {topic}.")


def test_stream_structured_predict_grows_with_the_fragments() -> None:
    model, recorder = llm()
    objects = list(model.stream_structured_predict(Film, PROMPT, topic="rivers"))
    assert seen(objects) == GROWING
    assert objects[-1] == Film(title="River Song", year=1999)
    assert recorder.bodies[0]["tool_stream"] is True


async def test_astream_structured_predict_grows_with_the_fragments() -> None:
    model, _ = llm()
    stream = await model.astream_structured_predict(Film, PROMPT, topic="rivers")
    objects = [o async for o in stream]
    assert seen(objects) == GROWING
    assert objects[-1] == Film(title="River Song", year=1999)
    await model.aclose()


def test_a_structured_llm_stream_grows_with_the_fragments() -> None:
    model, _ = llm()
    structured = model.as_structured_llm(Film)
    responses = list(structured.stream_chat([ChatMessage(role="user", content="A film?")]))
    assert seen([r.raw for r in responses]) == GROWING
    assert Film.model_validate_json(responses[-1].message.content or "") == Film(
        title="River Song", year=1999
    )


async def test_an_async_structured_llm_stream_grows_with_the_fragments() -> None:
    model, _ = llm()
    structured = model.as_structured_llm(Film)
    stream = await structured.astream_chat([ChatMessage(role="user", content="A film?")])
    responses = [r async for r in stream]
    assert seen([r.raw for r in responses]) == GROWING
    await model.aclose()


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"title": "Riv', {"title": "Riv"}),
        ('{"tit', {}),  # a key cut short carries no value yet
        ('{"a": [1, 2', {"a": [1, 2]}),
        ('{"a": "x\\', {"a": "x"}),  # a cut escape is dropped, not invented
        ('{"a": "x\\u00e', {"a": "x"}),  # on every pydantic-core (2.33 dropped the value)
        ('{"a": "x\\\\', {"a": "x\\"}),  # an escaped backslash is kept
        ('{"a": "x\\\\\\', {"a": "x\\"}),
        ("[1, 2]", {}),  # not an object: no arguments
        ("", {}),
        ("not json", {}),
    ],
)
def test_partial_arguments_never_raise(arguments: str, expected: dict[str, Any]) -> None:
    assert parse_tool_kwargs(arguments) == expected


def test_at_least_as_complete_as_openai_like() -> None:
    # OpenAILike (llama-index-llms-openai 0.8.3) on the same bytes reaches the states from
    # "River Song" on (it drops the open string too); every state it reaches, ours reaches.
    transport = httpx.MockTransport(
        lambda _: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())
    )
    theirs = OpenAILike(
        model="glm-4.7",
        api_base="http://glm.test/v1",
        api_key="k",
        is_chat_model=True,
        is_function_calling_model=True,
        http_client=httpx.Client(transport=transport),
    )
    model, _ = llm()
    ours = seen(list(model.stream_structured_predict(Film, PROMPT, topic="rivers")))
    openai_like = seen(list(theirs.stream_structured_predict(Film, PROMPT, topic="rivers")))
    assert openai_like and all(state in ours for state in openai_like)
    assert ours[-1] == openai_like[-1] == GROWING[-1]
