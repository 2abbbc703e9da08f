"""The frameworks' own cost over the core: the least any adapter can cost (issue 21's "our
layer" is an adapter minus these).

Each is the smallest model its framework accepts that streams through zhipu-flash's core and,
per core chunk, hands the framework one message chunk built before the stream starts. So the
run pays the core, the framework's per-chunk machinery (LangChain's ``stream``: run ids,
metadata, callbacks, the closing merge; LlamaIndex's ``llm_chat_callback``: an event per chunk)
and nothing an adapter adds by building its chunks. The chunks are empty, so the exactness
check expects no text (the core's own rows check the text).
"""

from __future__ import annotations

from typing import Any

from ._common import KEY, Client, data, every_chunk, limits
from .langchain_models import _alc_run, _lc_run, _plus_last
from .llama_index_llms import _ali_run, _li_run

_NOTE = (
    "a measuring baseline, not an answer: one pre-built empty chunk per core chunk, so no "
    "text is checked"
)


def _no_text(n: int) -> tuple[str, str]:
    return "", ""


def _prompt(messages: Any) -> list[dict[str, str]]:
    return [{"role": "user", "content": str(messages[-1].content)}]


def _core_clients(base: str, conc: int) -> dict[str, Any]:
    import httpx

    import zhipu_flash

    http = httpx.AsyncClient(timeout=120, limits=limits(conc))
    return {
        "client": zhipu_flash.ZhipuClient(api_key=KEY, base_url=base, max_retries=0),
        "aclient": zhipu_flash.AsyncZhipuClient(
            api_key=KEY, base_url=base, max_retries=0, http_client=http
        ),
    }


def _langchain_setup(base: str, conc: int) -> Any:
    from collections.abc import AsyncIterator, Iterator

    from langchain_core.language_models import BaseChatModel
    from langchain_core.language_models.chat_models import (
        agenerate_from_stream,
        generate_from_stream,
    )
    from langchain_core.messages import AIMessageChunk, BaseMessage
    from langchain_core.outputs import ChatGenerationChunk, ChatResult

    class CoreThroughLangChain(BaseChatModel):
        client: Any
        aclient: Any

        @property
        def _llm_type(self) -> str:
            return "core-through-langchain"

        def _generate(self, messages: list[BaseMessage], *args: Any, **kw: Any) -> ChatResult:
            return generate_from_stream(self._stream(messages, *args, **kw))

        async def _agenerate(
            self, messages: list[BaseMessage], *args: Any, **kw: Any
        ) -> ChatResult:
            return await agenerate_from_stream(self._astream(messages, *args, **kw))

        def _stream(
            self, messages: list[BaseMessage], *args: Any, **kw: Any
        ) -> Iterator[ChatGenerationChunk]:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=""))
            with self.client.stream(model=data.MODEL, messages=_prompt(messages)) as stream:
                for _ in stream:
                    yield chunk

        async def _astream(
            self, messages: list[BaseMessage], *args: Any, **kw: Any
        ) -> AsyncIterator[ChatGenerationChunk]:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=""))
            manager = self.aclient.stream(model=data.MODEL, messages=_prompt(messages))
            async with manager as stream:
                async for _ in stream:
                    yield chunk

    return CoreThroughLangChain(**_core_clients(base, conc))


def _llama_index_setup(base: str, conc: int) -> Any:
    from collections.abc import Sequence

    from llama_index.core.base.llms.types import (
        ChatMessage,
        ChatResponse,
        ChatResponseAsyncGen,
        ChatResponseGen,
        CompletionResponse,
        CompletionResponseGen,
        LLMMetadata,
    )
    from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
    from llama_index.core.llms.custom import CustomLLM

    class CoreThroughLlamaIndex(CustomLLM):
        client: Any
        aclient: Any

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(model_name=data.MODEL, is_chat_model=True)

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kw: Any) -> CompletionResponse:
            messages = [{"role": "user", "content": prompt}]
            with self.client.stream(model=data.MODEL, messages=messages) as stream:
                text = stream.get_final_completion().choices[0].message.content
            return CompletionResponse(text=text or "")

        @llm_completion_callback()
        def stream_complete(
            self, prompt: str, formatted: bool = False, **kw: Any
        ) -> CompletionResponseGen:
            response = CompletionResponse(text="", delta="")
            messages = [{"role": "user", "content": prompt}]

            def gen() -> CompletionResponseGen:
                with self.client.stream(model=data.MODEL, messages=messages) as stream:
                    for _ in stream:
                        yield response

            return gen()

        @llm_chat_callback()
        def stream_chat(self, messages: Sequence[ChatMessage], **kw: Any) -> ChatResponseGen:
            response = ChatResponse(message=ChatMessage(role="assistant", content=""), delta="")

            def gen() -> ChatResponseGen:
                with self.client.stream(model=data.MODEL, messages=_prompt(messages)) as stream:
                    for _ in stream:
                        yield response

            return gen()

        @llm_chat_callback()
        async def astream_chat(
            self, messages: Sequence[ChatMessage], **kw: Any
        ) -> ChatResponseAsyncGen:
            response = ChatResponse(message=ChatMessage(role="assistant", content=""), delta="")

            async def gen() -> ChatResponseAsyncGen:
                manager = self.aclient.stream(model=data.MODEL, messages=_prompt(messages))
                async with manager as stream:
                    async for _ in stream:
                        yield response

            return gen()

    return CoreThroughLlamaIndex(**_core_clients(base, conc))


CLIENTS = [
    Client("core-langchain", "core + LangChain's stream machinery (pre-built chunks)", False,
           False, _plus_last, _langchain_setup, _lc_run, ("langchain_core",), _no_text, _NOTE),
    Client("core-langchain-async", "core + LangChain's astream machinery (pre-built chunks)",
           True, False, _plus_last, _langchain_setup, _alc_run, ("langchain_core",), _no_text,
           _NOTE),
    Client("core-llamaindex", "core + LlamaIndex's stream_chat callback (pre-built responses)",
           False, False, every_chunk, _llama_index_setup, _li_run, ("llama_index.core",),
           _no_text, _NOTE),
    Client("core-llamaindex-async",
           "core + LlamaIndex's astream_chat callback (pre-built responses)", True, False,
           every_chunk, _llama_index_setup, _ali_run, ("llama_index.core",), _no_text, _NOTE),
]  # fmt: skip
