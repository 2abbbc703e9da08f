"""``ZhipuFlash``: Zhipu's GLM chat models as a LlamaIndex ``FunctionCallingLLM``."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Mapping, Sequence
from contextlib import closing
from typing import TYPE_CHECKING, Any

import httpx
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import Field, SecretStr, model_validator
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from zhipu_flash import (
    AsyncZhipuClient,
    ZhipuClient,
    api_key_from_env,
    get_model_info,
)
from zhipu_flash.types.request import CHAT_PARAMETERS

from ._clients import ClientConfig, refuse_unknown_keywords, resolve_base_url
from .utils import (
    ChatResponseBuilder,
    chat_to_completion_response,
    completion_to_chat_response,
    parse_tool_kwargs,
    to_glm_messages,
)

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["DEFAULT_MODEL", "DEFAULT_NUM_OUTPUT", "ZhipuFlash"]

DEFAULT_MODEL = "glm-4.7-flash"

#: What ``metadata.num_output`` reserves for an answer when ``max_tokens`` is unset (capped
#: at the model's output limit and at a quarter of the context window). LlamaIndex's
#: PromptHelper keeps this many tokens of the window free for the answer; the model's own
#: output limit (128K on glm-4.7-flash) would leave little or nothing for the context.
DEFAULT_NUM_OUTPUT = 8192

# Keywords from other LlamaIndex LLMs that mean nothing here, with what to do instead.
_KEYWORD_HINTS = {
    "is_chat_model": "ZhipuFlash is always a chat model",
    "is_function_calling_model": (
        "function calling comes from the model catalog (see llm.metadata); nothing to set"
    ),
}


class ZhipuFlash(ClientConfig, FunctionCallingLLM):
    """Zhipu AI's GLM chat models (open.bigmodel.cn / api.z.ai), streaming natively.

    Reasoning: streamed responses carry it in a ``ThinkingBlock``, per chunk in
    ``additional_kwargs["thinking_delta"]`` and (unless ``reasoning_in_additional_kwargs=False``)
    in ``message.additional_kwargs["reasoning_content"]``; never in ``delta`` or
    ``message.content``, so query and chat engines print and store only the answer.
    ``Memory`` counts ``str(message.additional_kwargs)`` against its token limit, so with a
    token-limited memory and a thinking model pass ``reasoning_in_additional_kwargs=False``:
    the reasoning then lives only in the ``ThinkingBlock``, which the memory does not count.

    Tool calls: ``ToolCallBlock``s and, in the OpenAI shape that llama-index-core's
    streaming programs, chat engines and memories read,
    ``message.additional_kwargs["tool_calls"]`` (``[{"id", "type": "function", "function":
    {"name", "arguments": <JSON string>}}]``), on every streamed response and on ``chat()``.
    ``chat()`` streams under the hood and returns the core's final completion, the same
    message as the last ``stream_chat`` response. GLM takes ``tool_choice="auto"`` only: a
    forced choice (``tool_required=True``, structured programs, routers) is sent as
    ``"auto"``; the core logs one warning per process, later ones at DEBUG.

    Interleaved thinking: every assistant message's reasoning in the history (its
    ``ThinkingBlock`` or ``reasoning_content``) is handed to the core, which sends it back for
    the current turn's tool loop (after the last user message) and, for earlier turns, only
    with ``clear_thinking=False``. Streaming chat engines store only the answer's text block,
    so preserved thinking across their turns needs the reasoning in ``additional_kwargs``.

    Prompt budget: ``metadata.num_output`` is ``max_tokens`` when set, otherwise
    ``DEFAULT_NUM_OUTPUT`` (8192, capped at the model's output limit and at a quarter of
    ``context_window``). PromptHelper keeps that much of the window free for the answer, so a
    smaller ``context_window`` (e.g. 32000) works in any query engine. Set ``max_tokens`` to
    reserve (and allow) more for long reasoning.

    Configuration: ``api_base`` is accepted as another name for ``base_url`` (the spelling of
    OpenAI and OpenAILike). Any other keyword the class does not know is refused with a
    ``TypeError`` naming the nearest valid one; request parameters it does not name go in
    ``additional_kwargs``. Per call, request parameters (``temperature``, ``max_tokens``,
    ``thinking``, ..., and ``request_id``, ``response_format``, ``extra_body``) may be passed
    as keywords: ``llm.chat(messages, request_id="r-1")``.

    Clients: built at the first call from the current fields and cached by them, so changing
    ``api_key``, ``base_url``, ``timeout``, ``max_retries`` or ``max_concurrency`` (in place
    or with ``model_copy(update=...)``) takes effect at the next call. Async clients are one
    per event loop and close with it. ``copy.deepcopy`` and ``pickle`` work before and after
    use (the caches are not copied). ``max_concurrency=N`` caps this LLM's requests in flight
    (threads, tasks and event loops together; copies made with ``model_copy`` share the cap),
    so ``use_async`` synthesizers and gathered agents queue instead of meeting GLM's 1302
    concurrency error; with ``concurrency_url="redis://..."`` (or
    ``ZHIPU_FLASH_CONCURRENCY_URL``) every process on the same key shares those N slots
    (``zhipu-flash[redis]``). An injected ``http_client``/``async_http_client`` is used for the
    clients built here; an injected core ``client``/``async_client`` is used as given for its
    side (its own key, URL, timeout, retries and cap: the fields above do not reach it).
    Copies share injected clients, which the caller closes; a pickled copy leaves them behind
    (logged) and builds its own from the fields.

    Examples:
        ``pip install "zhipu-flash[llama-index]"`` and set ``ZHIPUAI_API_KEY``.

        ```python
        from llama_index.core.llms import ChatMessage
        from llama_index_zhipu_flash import ZhipuFlash

        llm = ZhipuFlash(model="glm-4.7-flash", max_concurrency=2)
        print(llm.complete("Name three rivers in China."))

        for r in llm.stream_chat([ChatMessage(role="user", content="Why is the sky blue?")]):
            print(r.delta, end="")
        print(r.message.additional_kwargs.get("reasoning_content"))
        print(r.additional_kwargs["total_tokens"], r.additional_kwargs["finish_reason"])
        ```
    """

    model: str = Field(
        default=DEFAULT_MODEL,
        description="The GLM model id, e.g. glm-4.7-flash, glm-4.6v-flash, glm-4-flash-250414.",
    )
    temperature: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Sampling temperature (0..1); unset, the model's own default applies.",
    )
    top_p: float | None = Field(
        default=None, ge=0.01, le=1.0, description="Nucleus sampling (0.01..1); unset by default."
    )
    max_tokens: int | None = Field(
        default=None,
        gt=0,
        description=(
            "Maximum output tokens, reasoning included; unset uses the model's default. Also "
            "what metadata.num_output reserves for the answer (else DEFAULT_NUM_OUTPUT)."
        ),
    )
    stop: str | list[str] | None = Field(
        default=None, description="A stop sequence (GLM takes one); unset by default."
    )
    do_sample: bool | None = Field(
        default=None,
        description="False for greedy decoding (temperature and top_p are then ignored).",
    )
    user_id: str | None = Field(
        default=None,
        description="An end-user id (6 to 128 characters) sent with every request.",
    )
    thinking: bool | dict[str, Any] | None = Field(
        default=None,
        description=(
            "Reasoning switch: True/False or a dict like {'type': 'enabled'}. Unset uses the "
            "model's default (glm-4.7-flash thinks)."
        ),
    )
    clear_thinking: bool | None = Field(
        default=None,
        description=(
            "False enables preserved thinking: earlier turns' reasoning is sent back as "
            "reasoning_content too. The current turn's tool loop always gets its reasoning "
            "back (interleaved thinking)."
        ),
    )
    reasoning_effort: str | None = Field(
        default=None,
        description="How hard the model reasons, e.g. 'high', on models that take it.",
    )
    reasoning_in_additional_kwargs: bool = Field(
        default=True,
        description=(
            "Also put the reasoning in message.additional_kwargs['reasoning_content']. False "
            "keeps it only in the ThinkingBlock (and per-chunk thinking_delta), which "
            "token-limited Memory does not count."
        ),
    )
    tool_stream: bool | None = Field(
        default=None, description="Stream tool-call arguments in fragments (GLM-4.6 and later)."
    )
    context_window: int | None = Field(
        default=None,
        gt=0,
        description="Context window in tokens; taken from the model catalog unless set.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Extra request parameters sent with every call (e.g. response_format, extra_body)."
        ),
    )

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        api_base: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: str | list[str] | None = None,
        do_sample: bool | None = None,
        user_id: str | None = None,
        thinking: bool | dict[str, Any] | None = None,
        clear_thinking: bool | None = None,
        reasoning_effort: str | None = None,
        reasoning_in_additional_kwargs: bool = True,
        tool_stream: bool | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        max_concurrency: int | None = None,
        context_window: int | None = None,
        additional_kwargs: dict[str, Any] | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        client: ZhipuClient | None = None,
        async_client: AsyncZhipuClient | None = None,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        refuse_unknown_keywords(
            type(self),
            kwargs,
            hints=_KEYWORD_HINTS,
            fallback="Request parameters it does not name go in additional_kwargs={...}.",
        )
        key = api_key if api_key is not None else api_key_from_env()
        super().__init__(
            model=model,
            api_key=key,
            base_url=resolve_base_url(base_url, api_base),
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            stop=stop,
            do_sample=do_sample,
            user_id=user_id,
            thinking=thinking,
            clear_thinking=clear_thinking,
            reasoning_effort=reasoning_effort,
            reasoning_in_additional_kwargs=reasoning_in_additional_kwargs,
            tool_stream=tool_stream,
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            context_window=context_window or get_model_info(model).context_window,
            additional_kwargs=additional_kwargs or {},
            callback_manager=callback_manager,
            **kwargs,
        )
        self._inject(http_client, async_http_client, client, async_client)

    @model_validator(mode="after")
    def _check_max_tokens_fits_the_window(self) -> ZhipuFlash:
        # PromptHelper would fail later with "Calculated available context size ... was not
        # non-negative", far from the setting that caused it.
        window = self.context_window
        if self.max_tokens is not None and window is not None and self.max_tokens >= window:
            raise ValueError(
                f"max_tokens={self.max_tokens} leaves no room for the prompt in "
                f"context_window={window}; lower max_tokens or raise context_window."
            )
        return self

    @classmethod
    def class_name(cls) -> str:
        return "ZhipuFlash"

    @property
    def metadata(self) -> LLMMetadata:
        # Never raises: the catalog returns defaults for models it does not know.
        info = get_model_info(self.model)
        window = self.context_window or info.context_window
        budget = min(DEFAULT_NUM_OUTPUT, info.max_output_tokens, max(1, window // 4))
        return LLMMetadata(
            context_window=window,
            num_output=self.max_tokens or budget,
            is_chat_model=True,
            is_function_calling_model=info.tools,
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )

    # -- requests ------------------------------------------------------------------------

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for name in _PARAMETER_FIELDS:
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        params.update(self.additional_kwargs)
        params.update(kwargs)
        return {"model": self.model, "messages": to_glm_messages(messages), **params}

    # -- chat ----------------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._stream_chat(messages, **kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._achat(messages, **kwargs)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        # An ``async def`` returning the generator (not an async generator function): the
        # callback decorator picks its async wrapper only for coroutine functions.
        return self._astream_chat(messages, **kwargs)

    def _chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        # Streamed under the hood: a long reasoning answer never waits on one read timeout.
        # The core accumulates the stream; its final completion is the answer (one
        # accumulator, as in the LangChain adapter).
        manager = self._sync_client().stream(**self._request(messages, kwargs))
        with manager as stream:
            completion = stream.get_final_completion()
        return completion_to_chat_response(
            completion, reasoning_in_additional_kwargs=self.reasoning_in_additional_kwargs
        )

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        manager = self._async_client().stream(**self._request(messages, kwargs))
        async with manager as stream:
            completion = await stream.get_final_completion()
        return completion_to_chat_response(
            completion, reasoning_in_additional_kwargs=self.reasoning_in_additional_kwargs
        )

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        # Input is checked now (errors at the call); the request is sent on first next().
        manager = self._sync_client().stream(**self._request(messages, kwargs))
        in_kwargs = self.reasoning_in_additional_kwargs

        def gen() -> Generator[ChatResponse, None, None]:
            respond = ChatResponseBuilder(reasoning_in_additional_kwargs=in_kwargs).response_for
            # The stream is owned here: break, close() or an error closes the response.
            with manager as stream:
                for chunk in stream:
                    yield respond(chunk, stream.plain)

        return gen()

    def _astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        manager = self._async_client().stream(**self._request(messages, kwargs))
        in_kwargs = self.reasoning_in_additional_kwargs

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            respond = ChatResponseBuilder(reasoning_in_additional_kwargs=in_kwargs).response_for
            # Owned by ``async with`` inside the generator: aclose() or cancellation closes
            # the HTTP response at once. (LlamaIndex's decorator does not aclose() the inner
            # generator on a bare ``break``; see the README.)
            async with manager as stream:
                async for chunk in stream:
                    yield respond(chunk, stream.plain)

        return gen()

    # -- completion ----------------------------------------------------------------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion_response(self._chat(_prompt(prompt), **kwargs))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        responses = self._stream_chat(_prompt(prompt), **kwargs)

        def gen() -> Generator[CompletionResponse, None, None]:
            with closing(responses):
                for response in responses:
                    yield chat_to_completion_response(response)

        return gen()

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return chat_to_completion_response(await self._achat(_prompt(prompt), **kwargs))

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        responses = self._astream_chat(_prompt(prompt), **kwargs)

        async def gen() -> AsyncGenerator[CompletionResponse, None]:
            try:
                async for response in responses:
                    yield chat_to_completion_response(response)
            finally:
                await responses.aclose()

        return gen()

    # -- tools ---------------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The kwargs for ``chat``/``stream_chat``: messages (a new list; the caller's history
        is never modified), tools in OpenAI form, and the tool choice. A GLM built-in tool
        given as its API dict (``{"type": "web_search", "web_search": {...}}``,
        ``{"type": "retrieval", ...}``) goes unchanged, next to the function tools."""
        tool_specs = [_tool_spec(t) for t in tools]
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)

        # A forced choice (tool_required=True, FunctionAgent's initial_tool_choice) goes to the
        # core as asked; the core sends "auto", the only value GLM takes, and says so once.
        choice = kwargs.pop("tool_choice", None)
        if choice is None:
            choice = "required" if tool_required else "auto"
        tool_choice = choice if tool_specs or choice == "none" else None
        return {
            "messages": messages,
            "tools": tool_specs or None,
            "tool_choice": tool_choice,
            **kwargs,
        }

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Without parallel calls, keep only the first tool call (GLM has no switch for it),
        in the blocks and in ``additional_kwargs["tool_calls"]`` alike."""
        if not allow_parallel_tool_calls:
            message = response.message
            calls = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
            if len(calls) > 1:
                first = calls[0]
                message.blocks = [
                    b for b in message.blocks if not isinstance(b, ToolCallBlock) or b is first
                ]
                listed = message.additional_kwargs.get("tool_calls")
                if isinstance(listed, list) and listed:
                    message.additional_kwargs = {
                        **message.additional_kwargs,
                        "tool_calls": listed[:1],
                    }
        return response

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        """The tool calls in a response (its ``ToolCallBlock``s, else the OpenAI-shaped
        ``additional_kwargs["tool_calls"]``); partial arguments (mid-stream) never raise."""
        selections = [
            ToolSelection(
                tool_id=block.tool_call_id or "",
                tool_name=block.tool_name,
                tool_kwargs=parse_tool_kwargs(block.tool_kwargs),
            )
            for block in response.message.blocks
            if isinstance(block, ToolCallBlock)
        ]
        if not selections:
            selections = _listed_tool_calls(response.message.additional_kwargs.get("tool_calls"))
        if not selections and error_on_no_tool_call:
            raise ValueError(
                f"Expected at least one tool call, but got none from {self.model}. GLM cannot "
                "be forced to call a tool (tool_choice is 'auto' only): say in the prompt "
                "that a tool must be used."
            )
        return selections


def _tool_spec(tool: Any) -> dict[str, Any]:
    # Typed BaseTool by LlamaIndex, but a built-in tool has no function behind it, so its API
    # dict is what callers can pass.
    if isinstance(tool, Mapping):
        return dict(tool)
    spec: dict[str, Any] = tool.metadata.to_openai_tool(skip_length_check=True)
    return spec


#: The fields that are core request parameters, sent when set with every call (the others,
#: such as response_format or extra_body, go in additional_kwargs).
_PARAMETER_FIELDS = tuple(name for name in CHAT_PARAMETERS if name in ZhipuFlash.model_fields)


def _listed_tool_calls(calls: Any) -> list[ToolSelection]:
    """OpenAI-shaped tool calls (dicts, or SDK objects with ``model_dump``) as selections."""
    if not isinstance(calls, list):
        return []
    out = []
    for call in calls:
        data = call.model_dump() if hasattr(call, "model_dump") else call
        function = data.get("function") if isinstance(data, Mapping) else None
        if isinstance(function, Mapping) and function.get("name"):
            out.append(
                ToolSelection(
                    tool_id=str(data.get("id") or ""),
                    tool_name=str(function["name"]),
                    tool_kwargs=parse_tool_kwargs(function.get("arguments")),
                )
            )
    return out


def _prompt(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=prompt)]
