"""Structured output through LlamaIndex's own programs, streaming and not, end to end and
offline; and the forced ``tool_choice`` warning a user sees (at most one per process).

Requests go to the GLM emulator on loopback (GLM's wire format; answers are not real model
output: offered one schema tool, it calls it with values taken from the prompt; asked for
JSON with a schema, it writes an instance). Streaming structured output used to yield empty
objects: llama-index-core's streaming programs read ``additional_kwargs["tool_calls"]``.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from llama_index.core import Document, PromptTemplate, SummaryIndex
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.program import FunctionCallingProgram, LLMTextCompletionProgram
from llama_index.core.query_engine import RouterQueryEngine
from llama_index.core.selectors import PydanticSingleSelector
from llama_index.core.tools import FunctionTool, QueryEngineTool
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel, Field

from glm_emulator.server import EmulatorHTTPServer
from llama_index_zhipu_flash import ZhipuFlash


class Song(BaseModel):
    """A song with its title and the year it came out."""

    title: str = Field(description="The song's title")
    year: int = Field(description="The year it came out")


PROMPT = PromptTemplate("Make up a song called {name}, released in {year}.")
ARGS = {"name": "'Blue Moon'", "year": 1999}
EXPECTED = Song(title="Blue Moon", year=1999)
MESSAGES = [
    ChatMessage(role="user", content="Make up a song called 'Blue Moon', released in 1999.")
]


@pytest.fixture(params=[False, True], ids=["whole-call", "tool-stream"])
def llm(request: pytest.FixtureRequest, emulator: EmulatorHTTPServer) -> ZhipuFlash:
    """With ``tool_stream`` the arguments arrive in fragments, as GLM-4.6+ streams them."""
    return ZhipuFlash(base_url=emulator.base_url, api_key="k.s", tool_stream=request.param)


def _check_stream(objects: list[Any], llm: ZhipuFlash) -> None:
    assert objects[-1] == EXPECTED
    assert isinstance(objects[-1], Song)
    # The object grows as the stream arrives; with fragments, a title comes before the year.
    if llm.tool_stream:
        assert any(getattr(o, "title", None) and getattr(o, "year", None) is None for o in objects)


def _check_wire(emulator: EmulatorHTTPServer, calls: int) -> None:
    assert len(emulator.bodies()) == calls
    for body in emulator.bodies():
        assert [t["function"]["name"] for t in body["tools"]] == ["Song"]
        assert body["tool_choice"] == "auto"


# -- FunctionCallingProgram (the default for a function-calling LLM) ----------------------


def test_function_calling_program(emulator: EmulatorHTTPServer, llm: ZhipuFlash) -> None:
    program = FunctionCallingProgram.from_defaults(output_cls=Song, prompt=PROMPT, llm=llm)
    assert program(**ARGS) == EXPECTED
    _check_stream(list(program.stream_call(**ARGS)), llm)
    _check_wire(emulator, 2)


async def test_function_calling_program_async(
    emulator: EmulatorHTTPServer, llm: ZhipuFlash
) -> None:
    program = FunctionCallingProgram.from_defaults(output_cls=Song, prompt=PROMPT, llm=llm)
    assert await program.acall(**ARGS) == EXPECTED
    _check_stream([o async for o in await program.astream_call(**ARGS)], llm)
    _check_wire(emulator, 2)
    await llm.aclose()


def test_structured_predict_family(emulator: EmulatorHTTPServer, llm: ZhipuFlash) -> None:
    assert llm.structured_predict(Song, PROMPT, **ARGS) == EXPECTED
    _check_stream(list(llm.stream_structured_predict(Song, PROMPT, **ARGS)), llm)
    _check_wire(emulator, 2)


async def test_structured_predict_family_async(
    emulator: EmulatorHTTPServer, llm: ZhipuFlash
) -> None:
    assert await llm.astructured_predict(Song, PROMPT, **ARGS) == EXPECTED
    stream = await llm.astream_structured_predict(Song, PROMPT, **ARGS)
    _check_stream([o async for o in stream], llm)
    _check_wire(emulator, 2)
    await llm.aclose()


def test_structured_llm(emulator: EmulatorHTTPServer, llm: ZhipuFlash) -> None:
    structured = llm.as_structured_llm(Song)
    assert structured.chat(MESSAGES).raw == EXPECTED
    assert Song.model_validate_json(structured.complete(MESSAGES[0].content or "").text) == EXPECTED
    responses = list(structured.stream_chat(MESSAGES))
    # Each response's content is the object so far; the last is the whole object.
    assert Song.model_validate_json(responses[-1].message.content or "") == EXPECTED
    assert responses[-1].raw == EXPECTED
    _check_wire(emulator, 3)


async def test_structured_llm_async(emulator: EmulatorHTTPServer, llm: ZhipuFlash) -> None:
    structured = llm.as_structured_llm(Song)
    assert (await structured.achat(MESSAGES)).raw == EXPECTED
    responses = [r async for r in await structured.astream_chat(MESSAGES)]
    assert Song.model_validate_json(responses[-1].message.content or "") == EXPECTED
    _check_wire(emulator, 2)
    await llm.aclose()


# -- LLMTextCompletionProgram (JSON in text, pydantic_program_mode=LLM) -------------------


def test_text_completion_program(emulator: EmulatorHTTPServer) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")
    program = LLMTextCompletionProgram.from_defaults(output_cls=Song, prompt=PROMPT, llm=llm)
    assert program(**ARGS) == EXPECTED
    assert list(program.stream_call(**ARGS))[-1] == EXPECTED
    llm.pydantic_program_mode = PydanticProgramMode.LLM
    assert llm.structured_predict(Song, PROMPT, **ARGS) == EXPECTED
    assert list(llm.stream_structured_predict(Song, PROMPT, **ARGS))[-1] == EXPECTED
    assert len(emulator.bodies()) == 4
    assert all("tools" not in body for body in emulator.bodies())


async def test_text_completion_program_async(emulator: EmulatorHTTPServer) -> None:
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")
    program = LLMTextCompletionProgram.from_defaults(output_cls=Song, prompt=PROMPT, llm=llm)
    assert await program.acall(**ARGS) == EXPECTED
    assert [o async for o in await program.astream_call(**ARGS)][-1] == EXPECTED
    await llm.aclose()


# -- the forced tool_choice warning -------------------------------------------------------


def _router(llm: ZhipuFlash) -> RouterQueryEngine:
    def engine(text: str) -> Any:
        return SummaryIndex.from_documents([Document(text=text)]).as_query_engine(llm=llm)

    tools = [
        QueryEngineTool.from_defaults(
            engine("The Yangtze is the longest river in China."),
            name="rivers",
            description="Useful for questions about rivers in China.",
        ),
        QueryEngineTool.from_defaults(
            engine("Mount Everest is the highest mountain on Earth."),
            name="mountains",
            description="Useful for questions about mountains.",
        ),
    ]
    selector = PydanticSingleSelector.from_defaults(llm=llm)
    return RouterQueryEngine(selector=selector, query_engine_tools=tools, llm=llm)


# The workflows package behind FunctionAgent reads model_computed_fields on an instance.
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211")
async def test_a_user_sees_at_most_one_tool_choice_warning(
    emulator: EmulatorHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    # FunctionCallingProgram always asks for tool_required=True, routers and structured
    # refine steps too: GLM takes "auto" only. The core says so once per process for each
    # value asked for (then at DEBUG); the adapter adds nothing.
    llm = ZhipuFlash(base_url=emulator.base_url, api_key="k.s")

    def ours() -> list[logging.LogRecord]:
        names = ("zhipu_flash", "llama_index_zhipu_flash")
        return [r for r in caplog.records if r.name.split(".")[0] in names]

    with caplog.at_level(logging.DEBUG):
        assert await llm.astructured_predict(Song, PROMPT, **ARGS) == EXPECTED
        assert await llm.astructured_predict(Song, PROMPT, **ARGS) == EXPECTED
        assert [o async for o in await llm.astream_structured_predict(Song, PROMPT, **ARGS)]
        program = FunctionCallingProgram.from_defaults(output_cls=Song, prompt=PROMPT, llm=llm)
        assert await program.acall(**ARGS) == EXPECTED
        response = await _router(llm).aquery("Which is the longest river in China?")
        assert str(response) == "The Yangtze is the longest river in China."
    warnings = [r for r in ours() if r.levelno >= logging.WARNING]
    assert [r.name for r in warnings] == ["zhipu_flash"]
    assert "'required' was sent as 'auto'" in warnings[0].getMessage()
    # Four forced calls (the streaming program asks for no particular choice): one warning.
    later = [r for r in ours() if "sent as 'auto'" in r.getMessage()]
    assert [r.levelno for r in later] == [logging.WARNING] + [logging.DEBUG] * 3

    # A tool the user names (FunctionAgent's initial_tool_choice) is another value: said
    # once too, and only once.
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        for _ in range(2):
            agent = FunctionAgent(
                tools=[FunctionTool.from_defaults(fn=lambda a, b: a + b, name="add")],
                llm=llm,
                initial_tool_choice="add",
            )
            await agent.run("add(1, 2)", memory=ChatMemoryBuffer.from_defaults())
    warnings = [r for r in ours() if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "'add' was sent as 'auto'" in warnings[0].getMessage()
    assert all(body.get("tool_choice", "auto") == "auto" for body in emulator.bodies())
    await llm.aclose()
