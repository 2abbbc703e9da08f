"""``ZhipuFlash``: Zhipu's GLM chat models as a LlamaIndex ``FunctionCallingLLM``."""

from __future__ import annotations

import asyncio
import logging
import os
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
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from zhipu_flash import (
    BASE_URL_ENV_VAR,
    AsyncZhipuClient,
    ZhipuClient,
    api_key_from_env,
    get_model_info,
    shared_http_client,
)

from .utils import (
    ChatResponseBuilder,
    chat_to_completion_response,
    parse_tool_kwargs,
    to_glm_messages,
)

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["DEFAULT_MODEL", "ZhipuFlash"]

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "glm-4.7-flash"


class ZhipuFlash(FunctionCallingLLM):
    """Zhipu AI's GLM chat models (open.bigmodel.cn / api.z.ai), streaming natively.

    Reasoning (``reasoning_content``) is kept apart from the answer: streamed responses carry
    it in a ``ThinkingBlock``, in ``message.additional_kwargs["reasoning_content"]`` and per
    chunk in ``additional_kwargs["thinking_delta"]``, never in ``delta`` or
    ``message.content``, so query and chat engines print and store only the answer.

    GLM accepts ``tool_choice="auto"`` only: a forced tool choice (``tool_required=True``,
    ``FunctionAgent(initial_tool_choice=...)``) is sent as ``"auto"``; the first one in a
    process logs a warning, later ones are logged at DEBUG.

    Examples:
        ``pip install "zhipu-flash[llama-index]"`` and set ``ZHIPUAI_API_KEY``.

        ```python
        from llama_index.core.llms import ChatMessage
        from llama_index_zhipu_flash import ZhipuFlash

        llm = ZhipuFlash(model="glm-4.7-flash")
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
    api_key: SecretStr | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description=(
            "The Zhipu API key. Defaults to ZHIPUAI_API_KEY, then ZAI_API_KEY. Never "
            "serialised; a missing key is reported at the first call."
        ),
    )
    base_url: str | None = Field(
        default=None,
        description=(
            "API base URL ending in /api/paas/v4. Defaults to ZHIPUAI_BASE_URL, then "
            "https://open.bigmodel.cn/api/paas/v4 (use https://api.z.ai/api/paas/v4 for z.ai)."
        ),
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
        default=None, gt=0, description="Maximum output tokens; unset uses the model's default."
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
            "reasoning_content. Unset or True drops it from the history."
        ),
    )
    tool_stream: bool | None = Field(
        default=None, description="Stream tool-call arguments in fragments (GLM-4.6 and later)."
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        description="Request timeout in seconds; unset means 10 s to connect and 300 s per read.",
    )
    max_retries: int = Field(
        default=2,
        ge=0,
        description="Retries of retryable failures before the first chunk (never after it).",
    )
    context_window: int | None = Field(
        default=None,
        gt=0,
        description="Context window in tokens; taken from the model catalog unless set.",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Extra request parameters sent with every call (e.g. do_sample, stop, "
            "response_format, user_id, extra_body)."
        ),
    )

    _client: ZhipuClient | None = PrivateAttr(default=None)
    _aclient: AsyncZhipuClient | None = PrivateAttr(default=None)
    _aclient_loop: asyncio.AbstractEventLoop | None = PrivateAttr(default=None)
    _http_client: httpx.Client | None = PrivateAttr(default=None)
    _async_http_client: httpx.AsyncClient | None = PrivateAttr(default=None)

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        thinking: bool | dict[str, Any] | None = None,
        clear_thinking: bool | None = None,
        tool_stream: bool | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        context_window: int | None = None,
        additional_kwargs: dict[str, Any] | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        client: ZhipuClient | None = None,
        async_client: AsyncZhipuClient | None = None,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        key = api_key if api_key is not None else api_key_from_env()
        super().__init__(
            model=model,
            api_key=key,
            base_url=base_url or os.environ.get(BASE_URL_ENV_VAR) or None,
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            thinking=thinking,
            clear_thinking=clear_thinking,
            tool_stream=tool_stream,
            timeout=timeout,
            max_retries=max_retries,
            context_window=context_window or get_model_info(model).context_window,
            additional_kwargs=additional_kwargs or {},
            callback_manager=callback_manager,
            **kwargs,
        )
        self._http_client = http_client
        self._async_http_client = async_http_client
        self._client = client
        self._aclient = async_client

    @classmethod
    def class_name(cls) -> str:
        return "ZhipuFlash"

    @property
    def metadata(self) -> LLMMetadata:
        # Never raises: the catalog returns defaults for models it does not know.
        info = get_model_info(self.model)
        return LLMMetadata(
            context_window=self.context_window or info.context_window,
            num_output=self.max_tokens or info.max_output_tokens,
            is_chat_model=True,
            is_function_calling_model=info.tools,
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )

    # -- clients -------------------------------------------------------------------------

    def _secret(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def _get_client(self) -> ZhipuClient:
        if self._client is None:
            self._client = ZhipuClient(
                api_key=self._secret(),
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                # No injected client: the process-wide pool, so discarded LLMs leak no sockets.
                http_client=self._http_client or shared_http_client(self.timeout),
            )
        return self._client

    def _get_aclient(self) -> AsyncZhipuClient:
        # An httpx.AsyncClient's pooled connections belong to the loop that opened them, so
        # a client we created is re-created when called from another loop (asyncio.run twice,
        # notebooks). An injected client is used as given.
        loop = asyncio.get_running_loop()
        injected = self._async_http_client is not None
        if self._aclient is None or (
            not injected and self._aclient_loop is not None and self._aclient_loop is not loop
        ):
            self._aclient = AsyncZhipuClient(
                api_key=self._secret(),
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                http_client=self._async_http_client,
            )
            self._aclient_loop = loop
        return self._aclient

    def close(self) -> None:
        """Release the sync client (the shared default pool and injected clients stay open)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the async connection pool this LLM created (injected clients stay open)."""
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None

    # -- requests ------------------------------------------------------------------------

    def _request(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "thinking": self.thinking,
            "clear_thinking": self.clear_thinking,
            "tool_stream": self.tool_stream,
        }
        params = {k: v for k, v in params.items() if v is not None}
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
        # Streamed under the hood: a long reasoning answer never waits on one read timeout,
        # and chat() returns exactly what the last streamed response would hold.
        manager = self._get_client().stream(**self._request(messages, kwargs))
        builder = ChatResponseBuilder()
        with manager as stream:
            for chunk in stream:
                builder.update(chunk)  # no per-chunk response: only the final one is returned
            completion = stream.get_final_completion()
        return builder.final(completion)

    async def _achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        manager = self._get_aclient().stream(**self._request(messages, kwargs))
        builder = ChatResponseBuilder()
        async with manager as stream:
            async for chunk in stream:
                builder.update(chunk)
            completion = await stream.get_final_completion()
        return builder.final(completion)

    def _stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        # Input is checked now (errors at the call); the request is sent on first next().
        manager = self._get_client().stream(**self._request(messages, kwargs))

        def gen() -> Generator[ChatResponse, None, None]:
            builder = ChatResponseBuilder()
            # The stream is owned here: break, close() or an error closes the response.
            with manager as stream:
                for chunk in stream:
                    yield builder.add(chunk)

        return gen()

    def _astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        manager = self._get_aclient().stream(**self._request(messages, kwargs))

        async def gen() -> AsyncGenerator[ChatResponse, None]:
            builder = ChatResponseBuilder()
            # Owned by ``async with`` inside the generator: aclose() or cancellation closes
            # the HTTP response at once. (LlamaIndex's decorator does not aclose() the inner
            # generator on a bare ``break``; see the README.)
            async with manager as stream:
                async for chunk in stream:
                    yield builder.add(chunk)

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
        is never modified), tools in OpenAI form, and ``tool_choice="auto"``. A GLM built-in
        tool given as its API dict (``{"type": "web_search", "web_search": {...}}``,
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
        """Without parallel calls, keep only the first tool call (GLM has no switch for it)."""
        if not allow_parallel_tool_calls:
            blocks = response.message.blocks
            calls = [b for b in blocks if isinstance(b, ToolCallBlock)]
            if len(calls) > 1:
                first = calls[0]
                response.message.blocks = [
                    b for b in blocks if not isinstance(b, ToolCallBlock) or b is first
                ]
        return response

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        """The tool calls in a response; partial arguments (mid-stream) never raise."""
        selections = [
            ToolSelection(
                tool_id=block.tool_call_id or "",
                tool_name=block.tool_name,
                tool_kwargs=parse_tool_kwargs(block.tool_kwargs),
            )
            for block in response.message.blocks
            if isinstance(block, ToolCallBlock)
        ]
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


def _prompt(prompt: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=prompt)]
