"""``ChatZhipuFlash``: Zhipu AI's GLM chat models as a LangChain chat model, on zhipu_flash."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import Any, Literal

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.output_parsers import (
    JsonOutputKeyToolsParser,
    JsonOutputParser,
    PydanticToolsParser,
)
from langchain_core.output_parsers.pydantic import PydanticOutputParser
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils import from_env, secret_from_env
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, field_serializer

import zhipu_flash as zf

from ._convert import (
    PROVIDER,
    ChunkConverter,
    completion_to_result,
    messages_to_dicts,
)
from ._errors import translate_errors

__all__ = ["ChatZhipuFlash"]

logger = logging.getLogger("langchain_zhipu_flash")

# Keyword arguments LangChain (or agents built on it) pass that GLM has no field for.
_IGNORED_KWARGS = frozenset({"stream", "parallel_tool_calls", "strict", "stream_options"})
_SCHEMA_KWARG = "structured_output_schema"
_StructuredMethod = Literal["json_mode", "json_schema", "function_calling"]


class ChatZhipuFlash(BaseChatModel):
    """Zhipu AI GLM chat models (the free ``glm-*-flash`` family and the rest of GLM).

    Built on the ``zhipu_flash`` transport: a byte-level SSE decoder, typed errors chosen by
    Zhipu's business code, retries only before the first chunk, and reasoning kept in every
    mode.

    Setup:
        Install the LangChain extra and set your key (from open.bigmodel.cn or z.ai):

        ```bash
        pip install "zhipu-flash[langchain]"
        export ZHIPUAI_API_KEY="your-api-key"   # ZAI_API_KEY is read too
        ```

    Key init args — completion params:
        model: str
            Model name, default ``"glm-4.7-flash"``. The five free models are
            glm-4.7-flash, glm-4-flash-250414, glm-4.6v-flash, glm-4.1v-thinking-flash and
            glm-4v-flash.
        temperature: float | None
            Sampling temperature in [0, 1]; 0 is sent as greedy decoding (``do_sample``).
        top_p: float | None
            Nucleus sampling in [0.01, 1].
        max_tokens: int | None
            Maximum number of tokens to generate.
        stop: list[str] | None
            One stop sequence (GLM takes at most one).
        thinking: bool | dict | None
            ``True``/``False`` switch reasoning on or off; ``None`` keeps the model default.
        clear_thinking: bool | None
            ``False`` turns on preserved thinking: earlier reasoning in the history is sent
            back to the model.
        tool_stream: bool | None
            Stream tool-call arguments as they are generated.

    Key init args — client params:
        api_key: SecretStr | None
            Defaults to ``ZHIPUAI_API_KEY``, then ``ZAI_API_KEY``.
        base_url: str | None
            Defaults to ``ZHIPUAI_BASE_URL``, then https://open.bigmodel.cn/api/paas/v4.
        timeout: float | httpx.Timeout | None
            Request timeout; default 10 s connect, 300 s read.
        max_retries: int
            Retries before the first chunk for retryable failures (default 2).
        http_client / http_async_client: httpx.Client / httpx.AsyncClient
            Your own pooled clients (proxies, limits, test transports).

    Instantiate:
        ```python
        from langchain_zhipu_flash import ChatZhipuFlash

        model = ChatZhipuFlash(model="glm-4.7-flash", temperature=0.6, max_tokens=1024)
        ```

    Invoke:
        ```python
        messages = [
            ("system", "You are a concise assistant."),
            ("human", "What is the capital of France?"),
        ]
        message = model.invoke(messages)
        print(message.content)
        ```

    Stream:
        ```python
        for chunk in model.stream("Write a haiku about rain."):
            print(chunk.text, end="", flush=True)

        full = None
        for chunk in model.stream("Write a haiku about rain."):
            full = chunk if full is None else full + chunk
        print(full.additional_kwargs.get("reasoning_content"))
        ```

    Async:
        ```python
        import asyncio


        async def main() -> None:
            message = await model.ainvoke("Hello!")
            print(message.content)
            async for chunk in model.astream("Count to three."):
                print(chunk.text, end="")


        asyncio.run(main())
        ```

    Tool calling:
        ```python
        from pydantic import BaseModel, Field


        class GetWeather(BaseModel):
            '''Get the current weather in a given city.'''

            city: str = Field(description="The city, e.g. Hangzhou")


        model_with_tools = model.bind_tools([GetWeather])
        message = model_with_tools.invoke("What is the weather in Hangzhou?")
        print(message.tool_calls)
        ```

        GLM only accepts ``tool_choice="auto"``: other values are accepted and sent as
        ``"auto"`` with a logged warning, so the model may answer without calling a tool.

    Image input:
        ```python
        from langchain_core.messages import HumanMessage

        vision = ChatZhipuFlash(model="glm-4.6v-flash")
        message = HumanMessage(
            content=[
                {"type": "text", "text": "Describe this picture."},
                {"type": "image", "url": "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg"},
            ]
        )
        print(vision.invoke([message]).content)
        ```

        OpenAI ``image_url`` parts (URL or data URL), LangChain ``image`` blocks (``url`` or
        ``base64`` + ``mime_type``) and Anthropic image sources are accepted; ``video``
        blocks with a URL go as ``video_url``. Images sent to a text-only model raise a
        ``ValueError`` before any request.

    Reasoning output:
        ```python
        message = model.invoke("Is 9.11 larger than 9.9?")
        print(message.additional_kwargs["reasoning_content"])
        print([block["type"] for block in message.content_blocks])  # ['reasoning', 'text']
        ```

        With ``clear_thinking=False`` the reasoning of earlier ``AIMessage`` objects in the
        history is sent back (GLM's preserved thinking); otherwise it never is.

    Structured output:
        ```python
        from pydantic import BaseModel


        class Joke(BaseModel):
            setup: str
            punchline: str


        structured = model.with_structured_output(Joke)  # JSON mode + schema prompt
        print(structured.invoke("Tell me a joke about cats."))
        ```

    Token usage:
        ```python
        message = model.invoke("Hello")
        print(message.usage_metadata)
        # {'input_tokens': 6, 'output_tokens': 30, 'total_tokens': 36, ...}
        ```

    Response metadata:
        ```python
        message = model.invoke("Hello")
        print(message.response_metadata)
        # {'model_provider': 'zhipuai', 'finish_reason': 'stop', 'model_name': 'glm-4.7-flash'}
        ```
    """

    model_name: str = Field(default="glm-4.7-flash", alias="model")
    """The GLM model to call."""
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(list(zf.API_KEY_ENV_VARS), default=None)
    )
    """Zhipu API key; read from ``ZHIPUAI_API_KEY`` then ``ZAI_API_KEY`` when not given."""
    base_url: str | None = Field(default_factory=from_env(zf.BASE_URL_ENV_VAR, default=None))
    """API base URL ending in ``/api/paas/v4``; ``ZHIPUAI_BASE_URL`` when not given."""
    temperature: float | None = None
    """Sampling temperature in [0, 1]; None keeps the model's own default."""
    top_p: float | None = None
    """Nucleus sampling in [0.01, 1]; None keeps the model's own default."""
    max_tokens: int | None = None
    """Maximum tokens to generate; None keeps the model's own default."""
    stop: list[str] | None = None
    """Stop sequence (GLM accepts one); an empty list sends none."""
    thinking: bool | dict[str, Any] | None = None
    """Reasoning switch: True, False, a raw ``{"type": ...}`` dict, or None (model default)."""
    clear_thinking: bool | None = None
    """False sends earlier reasoning back (preserved thinking); None/True never do."""
    tool_stream: bool | None = None
    """Stream tool-call arguments incrementally (needs streaming)."""
    timeout: float | httpx.Timeout | None = Field(default=None, alias="request_timeout")
    """Request timeout in seconds (or an ``httpx.Timeout``)."""
    max_retries: int = 2
    """Retries before the first chunk for retryable failures."""
    streaming: bool = False
    """Whether ``invoke`` streams internally (and fires token callbacks)."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Further request parameters the core knows (e.g. ``do_sample``, ``user_id``)."""
    extra_body: dict[str, Any] | None = None
    """Raw fields merged last into the request body, for API fields the core does not name."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """An ``httpx.Client`` to use for sync calls."""
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """An ``httpx.AsyncClient`` to use for async calls."""

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    @field_serializer("timeout")
    def _serialize_timeout(self, timeout: float | httpx.Timeout | None) -> Any:
        # An httpx.Timeout has no JSON form of its own; its four numbers are the setting.
        if isinstance(timeout, httpx.Timeout):
            return timeout.as_dict()
        return timeout

    _client: zf.ZhipuClient | None = PrivateAttr(default=None)
    _async_client: zf.AsyncZhipuClient | None = PrivateAttr(default=None)

    # -- identity ---------------------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "zhipu-flash-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "ZHIPUAI_API_KEY"}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return False

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "thinking": self.thinking,
            "clear_thinking": self.clear_thinking,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        model = kwargs.get("model")
        params = LangSmithParams(
            ls_provider=PROVIDER,
            ls_model_name=model if isinstance(model, str) and model else self.model_name,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if isinstance(temperature, (int, float)):
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if isinstance(max_tokens, int):
            params["ls_max_tokens"] = max_tokens
        stops = stop or self.stop
        if stops:
            params["ls_stop"] = list(stops)
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        info = zf.get_model_info(self.model_name)
        if not info.known:
            return None
        return ModelProfile(
            max_input_tokens=info.context_window,
            max_output_tokens=info.max_output_tokens,
            text_inputs=True,
            image_inputs=info.vision,
            image_url_inputs=info.vision,
            video_inputs=info.video,
            pdf_inputs=False,
            audio_inputs=False,
            reasoning_output=info.reasons,
            text_outputs=True,
            tool_calling=info.tools,
            tool_choice=False,
            tool_call_streaming=info.tools,
            structured_output=info.json_mode,
        )

    # -- clients ----------------------------------------------------------------------------

    def _key(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def _sync_client(self) -> zf.ZhipuClient:
        # Built at the first call, so a model constructs without a key or network.
        if self._client is None:
            # No injected client: the process-wide pool, so discarded models leak no sockets.
            self._client = zf.ZhipuClient(
                api_key=self._key(),
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                http_client=self.http_client or zf.shared_http_client(self.timeout),
            )
        return self._client

    def _get_async_client(self) -> zf.AsyncZhipuClient:
        # Async pools belong to their event loop, so this one is the model's own.
        if self._async_client is None:
            self._async_client = zf.AsyncZhipuClient(
                api_key=self._key(),
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                http_client=self.http_async_client,
            )
        return self._async_client

    # -- requests ---------------------------------------------------------------------------

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
        """The model name, wire messages and core parameters of one call."""
        kwargs = dict(kwargs)
        model = kwargs.pop("model", None) or self.model_name
        schema = kwargs.pop(_SCHEMA_KWARG, None)
        for name in _IGNORED_KWARGS & kwargs.keys():
            if name != "stream":
                logger.debug("%s has no GLM equivalent and is not sent", name)
            kwargs.pop(name)
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "stop": self.stop,
            "thinking": self.thinking,
            "clear_thinking": self.clear_thinking,
            "tool_stream": self.tool_stream,
            "extra_body": self.extra_body,
            **self.model_kwargs,
            **kwargs,
        }
        if stop is not None:
            params["stop"] = stop
        params = {k: v for k, v in params.items() if v is not None}
        wire = messages_to_dicts(messages)
        if schema is not None:
            wire = _with_schema_prompt(wire, schema)
            info = zf.get_model_info(model)
            if info.known and not info.json_mode:
                # The vision request schema has no response_format; the prompt carries it.
                logger.debug("%s has no JSON mode: the schema goes in the prompt only", model)
                params.pop("response_format", None)
        return model, wire, params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with translate_errors():
            model, wire, params = self._request(messages, stop, kwargs)
            completion = self._sync_client().create(model=model, messages=wire, **params)
        return completion_to_result(completion)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with translate_errors():
            model, wire, params = self._request(messages, stop, kwargs)
            client = self._get_async_client()
            completion = await client.create(model=model, messages=wire, **params)
        return completion_to_result(completion)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        converter = ChunkConverter(v1=self.output_version == "v1")
        with translate_errors():
            model, wire, params = self._request(messages, stop, kwargs)
            manager = self._sync_client().stream(model=model, messages=wire, **params)
            # The stream is owned here: break, close() or an error ends the HTTP response.
            with manager as stream:
                for chunk in stream:
                    generation = converter.feed(chunk)
                    if generation is not None:
                        if run_manager is not None:
                            run_manager.on_llm_new_token(generation.text, chunk=generation)
                        yield generation
                final = converter.finish(stream.completion)
        if run_manager is not None:
            run_manager.on_llm_new_token(final.text, chunk=final)
        yield final

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        converter = ChunkConverter(v1=self.output_version == "v1")
        with translate_errors():
            model, wire, params = self._request(messages, stop, kwargs)
            manager = self._get_async_client().stream(model=model, messages=wire, **params)
            async with manager as stream:
                async for chunk in stream:
                    generation = converter.feed(chunk)
                    if generation is not None:
                        if run_manager is not None:
                            await run_manager.on_llm_new_token(generation.text, chunk=generation)
                        yield generation
                final = converter.finish(stream.completion)
        if run_manager is not None:
            await run_manager.on_llm_new_token(final.text, chunk=final)
        yield final

    # -- tools and structured output --------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, functions, pydantic classes or OpenAI tool dicts).

        Args:
            tools: The tools the model may call. GLM's built-in tools go as the dicts its API
                takes, next to function tools and unchanged: ``{"type": "web_search",
                "web_search": {"enable": True, "search_result": True}}`` (results in
                ``response_metadata["web_search"]``) or ``{"type": "retrieval", ...}``.
            tool_choice: ``"auto"``/``None`` pass through and ``"none"`` leaves the tools out.
                GLM cannot force a call, so anything else (``"any"``, ``"required"``,
                ``True``, a tool name or dict) is sent as ``"auto"``; the first such request
                in a process logs a warning.
            strict: Accepted for compatibility; GLM has no strict mode, so it is not sent.
            **kwargs: Further parameters bound to every call.
        """
        if strict is not None:
            logger.debug("strict=%r has no GLM equivalent and is not sent", strict)
        formatted = [_builtin(tool) or convert_to_openai_tool(tool) for tool in tools]
        # Bound as given: the core sends a forced choice as "auto" and says so (once).
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: _StructuredMethod = "json_mode",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable that answers with ``schema``-shaped output.

        Args:
            schema: A pydantic class, ``TypedDict``, JSON schema or OpenAI tool dict. Pydantic
                classes give instances; everything else gives dicts.
            method: ``"json_mode"`` (default) asks for ``response_format: json_object`` and
                puts the JSON schema into a system message; ``"json_schema"`` does the same
                (GLM has no server-side schema mode); ``"function_calling"`` binds the
                schema as a tool, but GLM cannot force the call, so the model may answer in
                text instead.
            include_raw: Return ``{"raw", "parsed", "parsing_error"}`` instead of raising on
                parse errors.
            strict: Accepted for compatibility; GLM does not enforce schemas.
            **kwargs: Not supported; raises if given.
        """
        if kwargs:
            raise ValueError(f"Unsupported arguments: {sorted(kwargs)}")
        if method not in ("json_mode", "json_schema", "function_calling"):
            raise ValueError(
                f"method must be 'json_mode', 'json_schema' or 'function_calling', not {method!r}."
            )
        if schema is None and method != "json_mode":
            raise ValueError(f"schema is required for method={method!r}.")
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        ls_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
        output_parser: Runnable[Any, Any]
        if method == "function_calling":
            assert schema is not None
            tool = convert_to_openai_tool(schema)
            llm = self.bind_tools(
                [schema], tool_choice="auto", ls_structured_output_format=ls_format
            )
            if is_pydantic:
                output_parser = PydanticToolsParser(
                    tools=[schema],
                    first_tool_only=True,
                )
            else:
                output_parser = JsonOutputKeyToolsParser(
                    key_name=tool["function"]["name"], first_tool_only=True
                )
        else:
            bound: dict[str, Any] = {"response_format": {"type": "json_object"}}
            if schema is not None:
                bound[_SCHEMA_KWARG] = convert_to_json_schema(schema)
                bound["ls_structured_output_format"] = ls_format
            llm = self.bind(**bound)
            if is_pydantic:
                output_parser = PydanticOutputParser(pydantic_object=schema)
            else:
                output_parser = JsonOutputParser()
        if not include_raw:
            return llm | output_parser
        parse = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | output_parser, parsing_error=lambda _: None
        )
        no_parse = RunnablePassthrough.assign(parsed=lambda _: None)
        with_fallback = parse.with_fallbacks([no_parse], exception_key="parsing_error")
        return RunnableMap(raw=llm) | with_fallback


def _builtin(tool: Any) -> dict[str, Any] | None:
    """A GLM built-in tool (any dict whose ``type`` is not ``"function"``, such as
    ``web_search`` or ``retrieval``) as given; None for everything else.
    ``convert_to_openai_tool`` passes OpenAI's well-known types through but rejects
    ``retrieval``."""
    if isinstance(tool, Mapping) and tool.get("type") not in (None, "function"):
        return dict(tool)
    return None


def _with_schema_prompt(
    messages: list[dict[str, Any]], schema: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Tell the model the fields: GLM's JSON mode takes no schema, so it goes in the prompt."""
    instruction = (
        "Answer with one JSON object, and nothing else, that is valid against this JSON "
        "schema:\n" + json.dumps(schema, ensure_ascii=False, sort_keys=True)
    )
    if messages and messages[0]["role"] == "system" and isinstance(messages[0]["content"], str):
        first = dict(messages[0])
        first["content"] = (
            f"{first['content']}\n\n{instruction}" if first["content"] else instruction
        )
        return [first, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]
