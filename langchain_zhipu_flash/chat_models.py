"""``ChatZhipuFlash``: Zhipu AI's GLM chat models as a LangChain chat model, on zhipu_flash."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Literal

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.load.serializable import SerializedConstructor, SerializedNotImplemented
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.output_parsers import (
    JsonOutputKeyToolsParser,
    JsonOutputParser,
    PydanticToolsParser,
)
from langchain_core.output_parsers.pydantic import PydanticOutputParser
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)
from typing_extensions import Self

import zhipu_flash as zf
from zhipu_flash.types.request import CHAT_PARAMETERS

from ._client_config import ClientConfig, accepted_names, refuse_unknown
from ._convert import (
    PROVIDER,
    ChunkConverter,
    completion_to_result,
    message_to_dict,
    messages_to_dicts,
)
from ._errors import translate_errors
from ._structured import SCHEMA_KWARG, parse_answer, split_response_format, with_schema_prompt
from ._tokens import estimate_messages, estimate_text

__all__ = ["ChatZhipuFlash"]

logger = logging.getLogger("langchain_zhipu_flash")

# Keyword arguments LangChain (or agents built on it) pass that GLM has no field for.
_IGNORED_KWARGS = frozenset({"stream", "parallel_tool_calls", "strict", "stream_options"})
_StructuredMethod = Literal["json_mode", "json_schema", "function_calling"]
#: Every request parameter the core's create()/stream() take; model_kwargs may hold only these.
REQUEST_PARAMETERS = frozenset(CHAT_PARAMETERS)
_UNKNOWN_ADVICE = (
    "Request parameters are the fields listed in ChatZhipuFlash's docstring; put raw API "
    "fields the core does not name in extra_body={...}."
)


class ChatZhipuFlash(ClientConfig, BaseChatModel):
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
        do_sample: bool | None
            ``False`` for greedy decoding (``temperature``/``top_p`` are then ignored).
        thinking: bool | dict | None
            ``True``/``False`` switch reasoning on or off; ``None`` keeps the model default.
        clear_thinking: bool | None
            ``False`` turns on preserved thinking: earlier turns' reasoning is sent back.
        reasoning_effort: str | None
            Sent as given (GLM-5.2 and later take it).
        tool_stream: bool | None
            Stream tool-call arguments as they are generated.
        response_format: dict | None
            ``{"type": "json_object"}`` (JSON mode), or a ``json_schema`` format (see
            Structured output).
        user_id: str | None
            Your end user's id (6 to 128 characters).
        request_id: str | None
            Sent on every call; GLM refuses a reused id (1231), so pass it per call instead:
            ``model.invoke(..., request_id=...)``.
        model_kwargs / extra_body: dict
            More core parameters by name / raw API fields merged last into the body.

        Every argument must be one of these (or a client param below, or a ``BaseChatModel``
        field): an unknown name is refused with the nearest valid one, never dropped.

    Key init args — client params:
        api_key: SecretStr | None
            Defaults to ``ZHIPUAI_API_KEY``, then ``ZAI_API_KEY``.
        base_url: str | None
            Defaults to ``ZHIPUAI_BASE_URL``, then https://open.bigmodel.cn/api/paas/v4.
        timeout: float | httpx.Timeout | None
            Request timeout; default 10 s connect, 300 s read.
        max_retries: int
            Retries before the first chunk for retryable failures (default 2).
        max_concurrency: int | None
            At most this many requests per model in flight from this model object and its
            copies (invoke, stream, batch, agents; threads and event loops); the rest wait
            their turn instead of meeting GLM's per-account limit (1302).
        concurrency_url: SecretStr | None
            A ``redis://`` URL: every process on the same key, host and model shares
            ``max_concurrency`` through it. Defaults to ``ZHIPU_FLASH_CONCURRENCY_URL``.
        exact_token_count: bool
            Count tokens with GLM's tokenizer endpoint instead of the offline estimate.
        http_client / async_http_client: httpx.Client / httpx.AsyncClient
            Your own pooled clients (proxies, limits, test transports). The same names as
            ``ZhipuFlash`` and the core's ``ClientSettings``; ChatOpenAI's spelling
            ``http_async_client`` is refused with this one suggested.

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
        asyncio.run(main())  # a new event loop: the model makes a client for it
        ```

        Each event loop gets its own HTTP client, closed when that loop shuts down.

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

        Reasoning goes back to the model as GLM's thinking guide asks: inside the current
        turn's tool loop (the ``AIMessage`` objects after the last ``HumanMessage``) each
        message's reasoning is sent with the tool results (interleaved thinking); earlier
        turns' reasoning only with ``clear_thinking=False`` (preserved thinking).

    Structured output:
        ```python
        from pydantic import BaseModel


        class Joke(BaseModel):
            setup: str
            punchline: str


        structured = model.with_structured_output(Joke)  # JSON mode + schema prompt
        print(structured.invoke("Tell me a joke about cats."))

        from langchain.agents import create_agent

        agent = create_agent(model, tools=[], response_format=Joke)
        print(agent.invoke({"messages": [("user", "A joke about cats")]})["structured_response"])
        ```

        GLM has JSON mode but no ``json_schema`` format and cannot force a tool call. So a
        ``json_schema`` ``response_format`` (what ``create_agent`` binds) is sent as JSON mode
        with the schema in the system prompt (the prompt alone on vision models, whose
        requests take no ``response_format``), and the answer is checked against the schema:
        one that does not match raises ``OutputParserException`` carrying the text. The
        profile's ``structured_output`` is ``True`` in that sense, so ``create_agent`` takes
        this route rather than a tool it cannot force.

    Token usage:
        ```python
        message = model.invoke("Hello")
        print(message.usage_metadata)
        # {'input_tokens': 6, 'output_tokens': 30, 'total_tokens': 36, ...}
        ```

    Token counting:
        ``get_num_tokens`` and ``get_num_tokens_from_messages`` (and so
        ``trim_messages(token_counter=model)``) estimate offline: a CJK-aware count
        calibrated on real GLM captures, within about ±12% on those and looser elsewhere.
        ``exact_token_count=True`` asks GLM's tokenizer endpoint instead (one request per
        count).

    Response metadata:
        ```python
        message = model.invoke("Hello")
        print(message.response_metadata)
        # {'model_provider': 'zhipuai', 'finish_reason': 'stop', 'model_name': 'glm-4.7-flash',
        #  'id': '2026...', 'token_usage': {...}}
        ```

    Copies, serialization and closing:
        ``model_copy(update=...)`` takes effect at the next call (new key, URL, timeout or
        retries mean new clients), copies and pickles carry no clients, and
        ``dumps``/``loads`` round-trip without the key (it is read from ``ZHIPUAI_API_KEY``;
        load with ``valid_namespaces=["langchain_zhipu_flash"]``,
        ``allowed_objects=[ChatZhipuFlash]``). ``close()``/``aclose()`` or ``with`` /
        ``async with`` release the HTTP clients; injected clients stay open.
    """

    # The client fields (api_key, base_url, timeout, max_retries, max_concurrency, http_client,
    # async_http_client) and the client cache come from ClientConfig, shared with the
    # retrieval classes.
    model_name: str = Field(default="glm-4.7-flash", alias="model")
    """The GLM model to call."""
    temperature: float | None = None
    """Sampling temperature in [0, 1]; None keeps the model's own default."""
    top_p: float | None = None
    """Nucleus sampling in [0.01, 1]; None keeps the model's own default."""
    max_tokens: int | None = None
    """Maximum tokens to generate; None keeps the model's own default."""
    stop: list[str] | None = None
    """Stop sequence (GLM accepts one); an empty list sends none."""
    do_sample: bool | None = None
    """False for greedy decoding; None keeps the model's default (True)."""
    thinking: bool | dict[str, Any] | None = None
    """Reasoning switch: True, False, a raw ``{"type": ...}`` dict, or None (model default)."""
    clear_thinking: bool | None = None
    """False sends earlier turns' reasoning back too (preserved thinking)."""
    reasoning_effort: str | None = None
    """Reasoning effort, sent as given (GLM-5.2 and later)."""
    tool_stream: bool | None = None
    """Stream tool-call arguments incrementally (needs streaming)."""
    response_format: str | dict[str, Any] | None = None
    """``{"type": "json_object"}``, ``{"type": "text"}`` or a ``json_schema`` format."""
    user_id: str | None = None
    """The end user's id (6 to 128 characters)."""
    request_id: str | None = None
    """A request id sent on every call (GLM refuses a reused one: prefer a per-call kwarg)."""
    streaming: bool = False
    """Whether ``invoke`` streams internally (and fires token callbacks)."""
    exact_token_count: bool = False
    """Count tokens with GLM's tokenizer endpoint (a request per count) instead of offline."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Core request parameters by name, merged over the fields (e.g. ``{"user_id": ...}``)."""
    extra_body: dict[str, Any] | None = None
    """Raw fields merged last into the request body, for API fields the core does not name."""

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    @model_validator(mode="before")
    @classmethod
    def _zhipu_refuse_unknown_arguments(cls, values: Any) -> Any:
        # Pydantic would drop an unknown keyword without a word, so a typo such as
        # ``temprature=0`` would silently send the model's default. Unknown names are refused
        # with the nearest valid one; raw API fields have their own place (extra_body).
        if isinstance(values, dict):
            refuse_unknown(values, accepted_names(cls), "ChatZhipuFlash got", _UNKNOWN_ADVICE)
            extra = values.get("model_kwargs")
            if isinstance(extra, Mapping):
                refuse_unknown(extra, REQUEST_PARAMETERS, "model_kwargs has", _UNKNOWN_ADVICE)
        return values

    @property
    def _llm_type(self) -> str:
        return "zhipu-flash-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "ZHIPUAI_API_KEY"}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """``["langchain_zhipu_flash", "chat_models"]``: load with
        ``valid_namespaces=["langchain_zhipu_flash"]``."""
        return ["langchain_zhipu_flash", "chat_models"]

    def to_json(self) -> SerializedConstructor | SerializedNotImplemented:
        serialized = super().to_json()
        kwargs = serialized.get("kwargs")
        if isinstance(kwargs, dict) and isinstance(kwargs.get("timeout"), httpx.Timeout):
            # Its four numbers, which the timeout validator turns back into an httpx.Timeout.
            kwargs["timeout"] = kwargs["timeout"].as_dict()
        return serialized

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # Everything that changes what is sent or where: the LLM cache and tracing key on it.
        params: dict[str, Any] = {"model_name": self.model_name, "base_url": self.base_url}
        params.update({name: getattr(self, name) for name in _PARAMETER_FIELDS})
        params["model_kwargs"] = self.model_kwargs
        return params

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
            # A json_schema response_format works on every model (JSON mode or the prompt,
            # the answer checked against the schema), while a tool call cannot be forced: this
            # sends create_agent to that route (see "Structured output" above).
            structured_output=True,
        )

    # -- copies -----------------------------------------------------------------------------

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        # BaseChatModel caches its serialized form (the LLM cache's key, tracing) on first
        # use; a copy with other fields must not inherit it.
        copied.__dict__.pop("_serialized", None)
        return copied

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in type(self).model_fields:
            self.__dict__.pop("_serialized", None)  # the same cache, after model.x = ...

    # -- requests ---------------------------------------------------------------------------

    def _request(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> _Call:
        """The model name, wire messages and core parameters of one call."""
        kwargs = dict(kwargs)
        model = kwargs.pop("model", None) or self.model_name
        prompt_schema = kwargs.pop(SCHEMA_KWARG, None)
        for name in _IGNORED_KWARGS & kwargs.keys():
            if name != "stream":
                logger.debug("%s has no GLM equivalent and is not sent", name)
            kwargs.pop(name)
        params: dict[str, Any] = {name: getattr(self, name) for name in _PARAMETER_FIELDS}
        params.update(self.model_kwargs)
        params.update(kwargs)
        if stop is not None:
            params["stop"] = stop
        params = {k: v for k, v in params.items() if v is not None}
        wire = messages_to_dicts(messages)
        check: dict[str, Any] | None = None
        if "response_format" in params:
            params["response_format"], check = split_response_format(params["response_format"])
        if check is not None:
            wire = with_schema_prompt(
                wire, check, final_answer=True, tools=bool(params.get("tools"))
            )
        elif prompt_schema is not None:
            wire = with_schema_prompt(wire, prompt_schema)
        if check is not None or prompt_schema is not None:
            info = zf.get_model_info(model)
            if info.known and not info.json_mode:
                # The vision request schema has no response_format; the prompt carries it.
                logger.debug("%s has no JSON mode: the schema goes in the prompt only", model)
                params.pop("response_format", None)
        return _Call(model, wire, params, check)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with translate_errors():
            call = self._request(messages, stop, kwargs)
            completion = self._sync_client().create(
                model=call.model, messages=call.messages, **call.params
            )
        result = completion_to_result(completion)
        call.check_answer(completion)
        return result

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        with translate_errors():
            call = self._request(messages, stop, kwargs)
            completion = await self._async_client().create(
                model=call.model, messages=call.messages, **call.params
            )
        result = completion_to_result(completion)
        call.check_answer(completion)
        return result

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        converter = ChunkConverter(v1=self.output_version == "v1")
        with translate_errors():
            call = self._request(messages, stop, kwargs)
            manager = self._sync_client().stream(
                model=call.model, messages=call.messages, **call.params
            )
            # The stream is owned here: break, close() or an error ends the HTTP response.
            with manager as stream:
                for chunk in stream:
                    generation = converter.feed(chunk)
                    if generation is not None:
                        if run_manager is not None:
                            run_manager.on_llm_new_token(generation.text, chunk=generation)
                        yield generation
                completion = stream.completion
                final = converter.finish(completion)
        if run_manager is not None:
            run_manager.on_llm_new_token(final.text, chunk=final)
        yield final
        # After the last chunk: the caller has everything GLM sent before a mismatch raises.
        call.check_answer(completion)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        converter = ChunkConverter(v1=self.output_version == "v1")
        with translate_errors():
            call = self._request(messages, stop, kwargs)
            manager = self._async_client().stream(
                model=call.model, messages=call.messages, **call.params
            )
            async with manager as stream:
                async for chunk in stream:
                    generation = converter.feed(chunk)
                    if generation is not None:
                        if run_manager is not None:
                            await run_manager.on_llm_new_token(generation.text, chunk=generation)
                        yield generation
                completion = stream.completion
                final = converter.finish(completion)
        if run_manager is not None:
            await run_manager.on_llm_new_token(final.text, chunk=final)
        yield final
        call.check_answer(completion)

    def _combine_llm_outputs(self, llm_outputs: list[dict[str, Any] | None], /) -> dict[str, Any]:
        # generate()/batch over several prompts: LLMResult.llm_output sums their token usage
        # (callbacks that read llm_output["token_usage"] see every request), as ChatOpenAI's.
        usage: dict[str, Any] = {}
        names = [o["model_name"] for o in llm_outputs if o and o.get("model_name")]
        for output in llm_outputs:
            if output and isinstance(output.get("token_usage"), dict):
                usage = _add_usage(usage, output["token_usage"])
        return {"token_usage": usage, "model_name": names[0] if names else self.model_name}

    # -- token counting ---------------------------------------------------------------------

    def get_num_tokens(self, text: str) -> int:
        """Tokens in ``text``: the offline estimate (see :mod:`._tokens`), or with
        ``exact_token_count=True`` GLM's count of ``text`` sent as one user message (which
        includes the few tokens of GLM's chat template)."""
        if self.exact_token_count:
            return self._exact_count([{"role": "user", "content": text}], None)
        return estimate_text(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Prompt tokens of a request with ``messages`` (and ``tools``): the offline estimate,
        or with ``exact_token_count=True`` GLM's tokenizer endpoint (a request GLM would
        accept: at least one user or tool message)."""
        formatted = [convert_to_openai_tool(t) for t in tools] if tools else None
        if self.exact_token_count:
            with translate_errors():
                wire = messages_to_dicts(messages)
            return self._exact_count(wire, formatted)
        return estimate_messages(self._estimate_wire(messages), formatted)

    def get_token_ids(self, text: str) -> list[int]:
        if self.custom_get_token_ids is not None:
            return self.custom_get_token_ids(text)
        raise NotImplementedError(
            "GLM's tokenizer does not ship with zhipu-flash, so there are no token ids: use "
            "get_num_tokens() (an offline estimate, or exact with exact_token_count=True), or "
            "pass custom_get_token_ids=..."
        )

    def _exact_count(self, wire: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
        with translate_errors():
            return self._sync_client().count_tokens(
                model=self.model_name, messages=wire, tools=tools
            )

    def _estimate_wire(self, messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
        """Messages as the request would carry them, for the estimate: reasoning only where
        the core sends it, and a message GLM could not take counted by its text (a count
        never raises, as LangChain's own counters do not)."""
        thinks = zf.get_model_info(self.model_name).reasons
        last_user = max(
            (i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1
        )
        wire: list[dict[str, Any]] = []
        for i, message in enumerate(messages):
            try:
                item = message_to_dict(message, i)
            except zf.InvalidRequestInputError:
                item = {"role": "user", "content": message.text}
            keep = thinks and (self.clear_thinking is False or i > last_user)
            if not keep:
                item.pop("reasoning_content", None)
            wire.append(item)
        return wire

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
            **kwargs: Further parameters bound to every call (e.g. ``response_format``).
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
                text instead. On vision models the schema prompt alone does the work.
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
                bound[SCHEMA_KWARG] = convert_to_json_schema(schema)
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


#: The fields that are request parameters (every core parameter but the per-call tools and
#: tool_choice), sent when set with every call.
_PARAMETER_FIELDS = tuple(name for name in CHAT_PARAMETERS if name in ChatZhipuFlash.model_fields)


def _builtin(tool: Any) -> dict[str, Any] | None:
    """A GLM built-in tool as given (``{"type": "web_search", "web_search": {...}}``,
    ``{"type": "retrieval", "retrieval": {...}}``: a ``type`` other than ``"function"`` and
    the settings under that same key); None for everything else. A JSON schema
    (``{"type": "object", ...}``) is not one: it has no ``"object"`` key.
    ``convert_to_openai_tool`` passes OpenAI's well-known types through but rejects
    ``retrieval``."""
    if isinstance(tool, Mapping):
        kind = tool.get("type")
        if isinstance(kind, str) and kind != "function" and kind in tool:
            return dict(tool)
    return None


@dataclass(frozen=True)
class _Call:
    """One request: the model, wire messages and core parameters; ``schema`` is the JSON
    schema a bound ``json_schema`` response format asks the final answer to match."""

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    schema: dict[str, Any] | None

    def check_answer(self, completion: zf.ChatCompletion) -> None:
        # A turn that calls tools is not the final answer (an agent's loop goes on); MCP
        # calls GLM ran itself do not count (the answer is in the same turn).
        if self.schema is not None and not completion.function_calls:
            parse_answer(completion.content, self.schema, completion.finish_reason)


def _add_usage(total: dict[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    """GLM usage dicts added up, nested details included (None counts as nothing)."""
    out = dict(total)
    for key, value in more.items():
        if isinstance(value, Mapping):
            out[key] = _add_usage(out.get(key) or {}, value)
        elif isinstance(value, int) and not isinstance(value, bool):
            out[key] = out.get(key, 0) + value
    return out
