"""``ZhipuClient`` and ``AsyncZhipuClient``: configuration, the retry loop, and the calls:
``create``, ``stream``, ``count_tokens``, ``embed`` and ``rerank``.

``_BaseClient`` holds everything that is not I/O (key and URL resolution, headers, request
building, the retry decision); the two subclasses hold only the loops that block or await.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from ._constants import (
    BASE_URL_ENV_VAR,
    CHAT_COMPLETIONS_PATH,
    CONCURRENCY_URL_ENV_VAR,
    DEFAULT_BASE_URL,
    DEFAULT_EMBED_CONCURRENCY,
    DEFAULT_MAX_RETRIES,
    EMBEDDINGS_PATH,
    RERANK_PATH,
    TOKENIZER_PATH,
    api_key_from_env,
)
from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    MissingAPIKeyError,
    ZhipuError,
    error_from_body,
    error_from_response,
)
from ._hints import add_setting_hint
from ._limiter import ConcurrencyLimit, Release, as_limit, no_release
from ._parse import OnMalformed, parse_completion
from ._pool import as_timeout
from ._request import build_chat_request
from ._retry import retry_delay, should_retry
from ._stream import AsyncStream, Stream, StreamParser
from ._transport import LazyTLSTransport, ShardedAsyncTransport, limits_for
from ._version import __version__
from .models import get_model_info
from .types import ChatCompletion

__all__ = ["AsyncZhipuClient", "ZhipuClient"]

logger = logging.getLogger("zhipu_flash")

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._retrieval import EmbeddingBatch, EmbeddingPlan, EmbeddingsPart
    from ._shared_limit import SharedLimit
    from .types import EmbeddingsResponse, RerankResponse
    from .types.request import ChatParams

TimeoutTypes = float | httpx.Timeout | None


class _BaseClient:
    _owns_http: bool

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        timeout: TimeoutTypes,
        max_retries: int,
        max_concurrency: int | ConcurrencyLimit | None,
        concurrency_url: str | None = None,
    ) -> None:
        self._api_key = api_key or None
        self.limit = as_limit(max_concurrency)
        self.shared = self._share(concurrency_url)
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV_VAR) or DEFAULT_BASE_URL).rstrip(
            "/"
        )
        self.timeout = as_timeout(timeout)
        self._timeout_given = timeout is not None
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more.")
        self.max_retries = max_retries
        self._url = self.base_url + CHAT_COMPLETIONS_PATH
        self._tokenizer_url = self.base_url + TOKENIZER_PATH
        self._embeddings_url = self.base_url + EMBEDDINGS_PATH
        self._rerank_url = self.base_url + RERANK_PATH

    def __repr__(self) -> str:
        # Never the key: only whether one is configured.
        state = "set" if self._key_or_none() else "missing"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<{state}>)"

    def _key_or_none(self) -> str | None:
        return self._api_key or api_key_from_env()

    def _share(self, url: str | None) -> SharedLimit | None:
        if url is None:
            # The variable configures a fleet; clients without a cap (a tokenizer client, a
            # model without max_concurrency) have nothing to share and ignore it.
            url = os.environ.get(CONCURRENCY_URL_ENV_VAR) or None
            if url is None or self.limit is None:
                return None
        if not url:
            return None  # "" turns the variable off for this client
        if self.limit is None:
            raise ValueError(
                "concurrency_url shares max_concurrency between processes: set "
                "max_concurrency=N too (your account's concurrency per model)."
            )
        # Imported here, not at the top: only a client sharing its limit needs Redis's side
        # of the package (start-up; so are embeddings and rerank, below).
        from ._shared_limit import shared_limit

        return shared_limit(url)

    def _limits(self) -> httpx.Limits:
        # The pool makes room for the requests max_concurrency lets through.
        return limits_for(None if self.limit is None else self.limit.limit)

    def _acquire(self, model: str) -> Release:
        if self.limit is None:
            return no_release
        release = self.limit.acquire(model)
        if self.shared is None:
            return release
        return self.shared.acquire(
            self._scope(model), model, self.limit.limit, self.timeout.pool, release
        )

    async def _aacquire(self, model: str) -> Release:
        if self.limit is None:
            return no_release
        release = await self.limit.aacquire(model)
        if self.shared is None:
            return release
        return await self.shared.aacquire(
            self._scope(model), model, self.limit.limit, self.timeout.pool, release
        )

    def _scope(self, model: str) -> str:
        # Per request: the key may come from the environment, which can change.
        from ._shared_limit import scope_of

        return scope_of(self.base_url, self._key_or_none() or "", model)

    def _headers(self, stream: bool) -> dict[str, str]:
        # A blank key would go out as "Bearer " (httpx refuses it as an illegal header, which
        # reads like a network failure): it is a missing key, said before any request.
        key = (self._key_or_none() or "").strip()
        if not key:
            raise MissingAPIKeyError(
                "No Zhipu API key (none given, or only whitespace): pass api_key=... or set "
                "ZHIPUAI_API_KEY (or ZAI_API_KEY). Get a key at open.bigmodel.cn or z.ai."
            )
        return {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
            "Accept-Language": "en-US,en",
            "User-Agent": f"zhipu-flash/{__version__}",
        }

    def _prepare(
        self, model: str, messages: Sequence[Mapping[str, Any]], stream: bool, params: Any
    ) -> tuple[bytes, dict[str, str]]:
        body = build_chat_request(model, messages, stream=stream, **params)
        # Compact, deterministic bytes: cassettes match on the body.
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return content, self._headers(stream)

    def _prepare_count(
        self,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None,
    ) -> tuple[bytes, dict[str, str]]:
        # The same checks and normalisation as a chat request, so the count is of what a chat
        # request would send (images as bare base64, tools in GLM's form, ...).
        built = build_chat_request(model, messages, stream=False, tools=tools)
        body: dict[str, Any] = {"model": built["model"], "messages": built["messages"]}
        if "tools" in built:
            body["tools"] = built["tools"]
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return content, self._headers(False)

    def _token_count(self, response: httpx.Response) -> int:
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            raise APIConnectionError(
                f"The tokenizer answered HTTP {response.status_code} with a body that is not JSON."
            ) from exc
        if isinstance(body, dict) and body.get("error"):
            raise error_from_body(body, status_code=response.status_code)
        usage = body.get("usage") if isinstance(body, dict) else None
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        if isinstance(tokens, bool) or not isinstance(tokens, int):
            raise APIConnectionError(
                f"The tokenizer answered HTTP {response.status_code} without usage.prompt_tokens."
            )
        return tokens

    def _request_timeout(self) -> httpx.Timeout | Any:
        # An injected client keeps its own timeout unless one was passed to us explicitly.
        return self.timeout if self._timeout_given or self._owns_http else httpx.USE_CLIENT_DEFAULT

    def _failed(self, response: httpx.Response) -> ZhipuError:
        return error_from_response(
            response.status_code, response.content, request_id=response.headers.get("x-request-id")
        )

    def _next_delay(
        self, error: ZhipuError, attempt: int, headers: Mapping[str, str] | None
    ) -> float | None:
        if not should_retry(error, attempt, self.max_retries):
            return None
        delay = retry_delay(attempt, error, headers)
        if delay is not None:
            logger.info(
                "retrying in %.2fs after %s (attempt %d of %d)",
                delay,
                type(error).__name__ + (f" [{error.code}]" if error.code else ""),
                attempt + 1,
                self.max_retries,
            )
        return delay

    def _parser(self, model: str, strip_markers: bool, on_malformed: OnMalformed) -> StreamParser:
        return StreamParser(
            strip_markers=strip_markers and get_model_info(model).markers,
            on_malformed=on_malformed,
        )

    def _completion(self, response: httpx.Response, model: str, strip: bool) -> ChatCompletion:
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            raise APIConnectionError(
                f"The API answered HTTP {response.status_code} with a body that is not JSON."
            ) from exc
        if isinstance(body, dict) and body.get("error"):
            raise error_from_body(body, status_code=response.status_code)
        return parse_completion(body, strip_markers=strip and get_model_info(model).markers)


def _connection_error(exc: httpx.TransportError) -> ZhipuError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"Request timed out ({type(exc).__name__}).")
    return APIConnectionError(f"Could not reach the Zhipu API ({type(exc).__name__}: {exc}).")


async def _all_or_first_error(calls: Sequence[Awaitable[EmbeddingsPart]]) -> list[EmbeddingsPart]:
    """Run ``calls`` concurrently; their results in order, or, when one fails, the error of
    the first failed call in order, once every other call is cancelled and finished (no
    request is left running behind the caller's back, none of its errors unretrieved)."""
    import asyncio  # here, not at the top: see _asleep

    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        # Also on the caller's cancellation: nothing outlives the call.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error
    return [task.result() for task in tasks]


async def _asleep(seconds: float) -> None:
    # asyncio is imported where the async client first needs it, not with the package: it is
    # about a fifth of ``import zhipu_flash``, and a program that never awaits never needs it.
    import asyncio

    await asyncio.sleep(seconds)


#: Why a manager refuses a second ``with`` while its stream is open: that would send a second
#: request and leave the first response (and its pooled connection) open.
_ALREADY_OPEN = (
    "This stream is already open: iterate the stream that `with` returned (or the manager "
    "itself), or call client.stream(...) again for a second request."
)


class StreamManager:
    """What :meth:`ZhipuClient.stream` returns: ``with`` it to send the request and get a
    :class:`~zhipu_flash.Stream`, or iterate it directly.

    Iterating it inside its own ``with`` reads the stream that ``with`` opened. Once closed,
    it may be entered again, which sends the request again."""

    def __init__(self, opener: Callable[[], Stream]) -> None:
        self._opener = opener
        self._stream: Stream | None = None
        self._open = False

    def __enter__(self) -> Stream:
        # Marked open before the request goes out: a second ``with`` while the first is still
        # connecting (another task or thread) is refused too.
        if self._open:
            raise RuntimeError(_ALREADY_OPEN)
        self._open = True
        try:
            self._stream = self._opener()
        except BaseException:
            self._open = False
            raise
        return self._stream

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stream, self._stream, self._open = self._stream, None, False
        if stream is not None:
            stream.close()

    def __iter__(self) -> Iterator[Any]:
        if self._stream is not None:  # inside this manager's own ``with``
            yield from self._stream
            return
        with self as stream:
            yield from stream


class AsyncStreamManager:
    """What :meth:`AsyncZhipuClient.stream` returns: ``async with`` it to send the request and
    get an :class:`~zhipu_flash.AsyncStream`, or ``async for`` over it directly (inside its
    own ``async with``, that reads the stream it opened), as :class:`StreamManager`."""

    def __init__(self, opener: Callable[[], Awaitable[AsyncStream]]) -> None:
        self._opener = opener
        self._stream: AsyncStream | None = None
        self._open = False

    async def __aenter__(self) -> AsyncStream:
        # Marked open before the request goes out: a second ``with`` while the first is still
        # connecting (another task or thread) is refused too.
        if self._open:
            raise RuntimeError(_ALREADY_OPEN)
        self._open = True
        try:
            self._stream = await self._opener()
        except BaseException:
            self._open = False
            raise
        return self._stream

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stream, self._stream, self._open = self._stream, None, False
        if stream is not None:
            await stream.aclose()

    async def __aiter__(self) -> AsyncIterator[Any]:
        if self._stream is not None:  # inside this manager's own ``async with``
            async for chunk in self._stream:
                yield chunk
            return
        async with self as stream:
            async for chunk in stream:
                yield chunk


class ZhipuClient(_BaseClient):
    """A synchronous client for Zhipu's chat-completions API, on one pooled ``httpx.Client``.

    Args:
        api_key: The API key. Defaults to ``ZHIPUAI_API_KEY``, then ``ZAI_API_KEY``. A missing
            key is reported at the first request, not here.
        base_url: Defaults to ``ZHIPUAI_BASE_URL``, then open.bigmodel.cn
            (:data:`~zhipu_flash.BIGMODEL_BASE_URL`); use :data:`~zhipu_flash.ZAI_BASE_URL`
            for api.z.ai.
        timeout: Seconds or an ``httpx.Timeout``; defaults to 10 s connect, 300 s read.
        max_retries: Retries before the first chunk for retryable failures (2).
        http_client: An ``httpx.Client`` to use instead of the client's own (it is not closed
            by :meth:`close`).
        max_concurrency: At most this many requests per model in flight from this client;
            further calls wait for a slot instead of meeting GLM's 1302 limit. None: no cap.
            A :class:`~zhipu_flash.ConcurrencyLimit` is shared by every client given it, sync
            and async, across threads and event loops.
        concurrency_url: A ``redis://`` URL (needs ``zhipu-flash[redis]``) through which
            every process and machine with the same URL, base URL host, API key and model
            shares ``max_concurrency`` (a slot is a lease of 30 s, renewed while the request
            is open; ``?lease=SECONDS`` changes it). Defaults to ``ZHIPU_FLASH_CONCURRENCY_URL``
            when ``max_concurrency`` is set; ``""`` turns it off. Waiting for a shared slot
            is bounded by the pool part of ``timeout``. An unreachable Redis falls back to
            this process's ``max_concurrency`` with one :class:`~zhipu_flash.SharedLimitWarning`.

    Example::

        with ZhipuClient() as client:
            messages = [{"role": "user", "content": "Hi"}]
            with client.stream(model="glm-4.7-flash", messages=messages) as s:
                for chunk in s:
                    print(chunk.delta and chunk.delta.content or "", end="")
                print(s.get_final_completion().usage)
    """

    _sleep: Callable[[float], None] = staticmethod(time.sleep)

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
        max_concurrency: int | ConcurrencyLimit | None = None,
        concurrency_url: str | None = None,
    ) -> None:
        super().__init__(api_key, base_url, timeout, max_retries, max_concurrency, concurrency_url)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            timeout=self.timeout, transport=LazyTLSTransport(self._limits())
        )

    def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        strip_markers: bool = True,
        **params: Unpack[ChatParams],
    ) -> ChatCompletion:
        """One non-streamed completion."""
        content, headers = self._prepare(model, messages, False, params)
        release = self._acquire(model)
        try:
            response = self._send(content, headers, read_body=True)
        except ZhipuError as exc:
            add_setting_hint(exc, model, params)
            raise
        finally:
            release()
        return self._completion(response, model, strip_markers)

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        strip_markers: bool = True,
        on_malformed: OnMalformed = "skip",
        **params: Unpack[ChatParams],
    ) -> StreamManager:
        """A streamed completion. Input is checked now; the request is sent on ``with``.

        ``strip_markers`` moves the ``<think>``/box markers of the GLM-V thinking models out of
        the content (only those models use them). ``on_malformed`` chooses whether an
        undecodable frame is skipped (logged and counted) or raised.
        """
        content, headers = self._prepare(model, messages, True, params)

        def open_stream() -> Stream:
            release = self._acquire(model)
            try:
                response = self._send(content, headers)
            except BaseException as exc:
                release()
                add_setting_hint(exc, model, params)
                raise
            return Stream(response, self._parser(model, strip_markers, on_malformed), release)

        return StreamManager(open_stream)

    def count_tokens(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        """The prompt tokens GLM counts for ``messages`` (and ``tools``) on ``model``, from
        ``POST {base_url}/tokenizer``: an exact count, including the chat template's tokens.

        Input is checked as for :meth:`create`; errors, retries and the key are handled the
        same way. It takes no ``max_concurrency`` slot: the cap is for chat completions (GLM's
        1302). Which models the endpoint accepts is GLM's to say (its docs list GLM-4 and
        GLM-4.5/4.6 names; the flash models are unverified).
        """
        content, headers = self._prepare_count(model, messages, tools)
        response = self._send(content, headers, url=self._tokenizer_url, read_body=True)
        return self._token_count(response)

    def embed(
        self,
        input: str | Sequence[str],
        *,
        model: str = "embedding-3",
        dimensions: int | None = None,
        user_id: str | None = None,
    ) -> EmbeddingsResponse:
        """Embed ``input`` (a str is one input) with ``POST {base_url}/embeddings``.

        Args:
            input: The texts, or one text.
            model: An embedding model of :data:`zhipu_flash.models.EMBEDDING_MODELS`; another
                name is sent as given, with a warning and no local limits.
            dimensions: The vector length, among the model's allowed values; None: the
                model's default.
            user_id: The end user's id (6 to 128 characters).

        Returns:
            The vectors in input order (``data[i].index == i``), with the usage summed.

        Raises:
            InvalidRequestInputError: Before anything is sent, for an empty input, an empty or
                non-str item, ``dimensions`` a catalogued model does not take, or an input
                certainly over its token limit (the message names the index).
            ZhipuError: As for :meth:`create`; the message names the inputs of the request
                that failed.

        More inputs than one request takes go out in batches, one after another here
        (concurrently on :class:`AsyncZhipuClient`), each taking a ``max_concurrency`` slot
        of the model; errors, retries by business code, timeouts and the key are handled as
        for chat.
        """
        from ._retrieval import merge_embeddings, plan_embeddings  # see _share

        plan = plan_embeddings(input, model=model, dimensions=dimensions, user_id=user_id)
        headers = self._headers(False)
        parts = [self._embed_batch(plan, batch, headers) for batch in plan.batches]
        return merge_embeddings(parts)

    def _embed_batch(
        self, plan: EmbeddingPlan, batch: EmbeddingBatch, headers: dict[str, str]
    ) -> EmbeddingsPart:
        release = self._acquire(plan.info.name)
        try:
            response = self._send(batch.content, headers, url=self._embeddings_url, read_body=True)
            return plan.parse(batch, response.status_code, response.content)
        except ZhipuError as exc:
            raise plan.failed(exc, batch) from exc
        finally:
            release()

    def rerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        model: str = "rerank",
        top_n: int | None = None,
        return_documents: bool = False,
        user_id: str | None = None,
    ) -> RerankResponse:
        """Score ``documents`` against ``query`` with ``POST {base_url}/rerank``.

        Args:
            query: The query (at most 4,096 characters).
            documents: The candidates (1 to 128, each at most 4,096 characters).
            model: A model of :data:`zhipu_flash.models.RERANK_MODELS`; another name is sent
                as given, with a warning and no local limits.
            top_n: Return only the best ``top_n`` (1 to ``len(documents)``); None: all.
            return_documents: Also return each document's text.
            user_id: The end user's id (6 to 128 characters).

        Returns:
            The results in GLM's order, highest score first; ``index`` points into
            ``documents``.

        Raises:
            InvalidRequestInputError: Before anything is sent, for input over the limits
                above. More than 128 documents are refused, not split: scores from separate
                calls are not comparable (docs/glm-api.md §10.2).
            ZhipuError: As for :meth:`create`.
        """
        from ._retrieval import parse_rerank, rerank_request  # see _share

        info, content = rerank_request(
            query,
            documents,
            model=model,
            top_n=top_n,
            return_documents=return_documents,
            user_id=user_id,
        )
        headers = self._headers(False)
        release = self._acquire(info.name)
        try:
            response = self._send(content, headers, url=self._rerank_url, read_body=True)
        finally:
            release()
        return parse_rerank(response.status_code, response.content, len(documents))

    def _send(
        self,
        content: bytes,
        headers: dict[str, str],
        *,
        url: str | None = None,
        read_body: bool = False,
    ) -> httpx.Response:
        """POST (to the chat endpoint unless ``url``) with retries; returns a 2xx response,
        open with its body unread unless ``read_body`` (then read and closed)."""
        request = self._http.build_request(
            "POST",
            url or self._url,
            content=content,
            headers=headers,
            timeout=self._request_timeout(),
        )
        attempt = 0
        while True:
            response_headers: Mapping[str, str] | None = None
            try:
                response = self._http.send(request, stream=True)
                # The body is read inside the try: one that breaks after the status line (a
                # close, a stall past the read timeout) is a typed, retryable error like any
                # failure to open, not a bare httpx exception (tests/faults found this).
                if read_body or response.status_code >= 400:
                    try:
                        response.read()
                    finally:
                        response.close()
            except httpx.TransportError as exc:
                error = _connection_error(exc)
                cause: BaseException = exc
            else:
                if response.status_code < 400:
                    return response
                error = cause = self._failed(response)
                response_headers = response.headers
            delay = self._next_delay(error, attempt, response_headers)
            if delay is None:
                if error is cause:
                    raise error
                raise error from cause
            self._sleep(delay)
            attempt += 1

    def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> ZhipuClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncZhipuClient(_BaseClient):
    """The asyncio twin of :class:`ZhipuClient`, on one pooled ``httpx.AsyncClient``.

    Same arguments; ``create`` is awaited and ``stream`` is used with ``async with``::

        async with AsyncZhipuClient() as client:
            async with client.stream(model="glm-4.7-flash", messages=msgs) as s:
                async for chunk in s:
                    ...
    """

    _sleep: Callable[[float], Awaitable[None]] = staticmethod(_asleep)

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutTypes = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
        max_concurrency: int | ConcurrencyLimit | None = None,
        concurrency_url: str | None = None,
    ) -> None:
        super().__init__(api_key, base_url, timeout, max_retries, max_concurrency, concurrency_url)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=self.timeout, transport=ShardedAsyncTransport(self._limits())
        )

    async def create(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        strip_markers: bool = True,
        **params: Unpack[ChatParams],
    ) -> ChatCompletion:
        """One non-streamed completion."""
        content, headers = self._prepare(model, messages, False, params)
        release = await self._aacquire(model)
        try:
            response = await self._send(content, headers, read_body=True)
        except ZhipuError as exc:
            add_setting_hint(exc, model, params)
            raise
        finally:
            release()
        return self._completion(response, model, strip_markers)

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        strip_markers: bool = True,
        on_malformed: OnMalformed = "skip",
        **params: Unpack[ChatParams],
    ) -> AsyncStreamManager:
        """A streamed completion; input is checked now, the request sent on ``async with``."""
        content, headers = self._prepare(model, messages, True, params)

        async def open_stream() -> AsyncStream:
            release = await self._aacquire(model)
            try:
                response = await self._send(content, headers)
            except BaseException as exc:
                release()
                add_setting_hint(exc, model, params)
                raise
            return AsyncStream(response, self._parser(model, strip_markers, on_malformed), release)

        return AsyncStreamManager(open_stream)

    async def count_tokens(
        self,
        *,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        """The prompt tokens GLM counts for ``messages`` (and ``tools``); see
        :meth:`ZhipuClient.count_tokens`."""
        content, headers = self._prepare_count(model, messages, tools)
        response = await self._send(content, headers, url=self._tokenizer_url, read_body=True)
        return self._token_count(response)

    async def embed(
        self,
        input: str | Sequence[str],
        *,
        model: str = "embedding-3",
        dimensions: int | None = None,
        user_id: str | None = None,
    ) -> EmbeddingsResponse:
        """Embed ``input``; see :meth:`ZhipuClient.embed`.

        The batches run concurrently, within this client's ``max_concurrency`` for the model,
        or at most ``DEFAULT_EMBED_CONCURRENCY`` (4) at once when the client has no cap. The
        first batch to fail cancels the others and its error is raised.
        """
        from ._retrieval import merge_embeddings, plan_embeddings  # see _share

        plan = plan_embeddings(input, model=model, dimensions=dimensions, user_id=user_id)
        headers = self._headers(False)
        if len(plan.batches) == 1:
            return merge_embeddings([await self._embed_batch(plan, plan.batches[0], headers)])
        import asyncio  # see _asleep

        gate = asyncio.Semaphore(DEFAULT_EMBED_CONCURRENCY) if self.limit is None else None

        async def run(batch: EmbeddingBatch) -> EmbeddingsPart:
            if gate is None:  # the client's ConcurrencyLimit queues the batches
                return await self._embed_batch(plan, batch, headers)
            async with gate:
                return await self._embed_batch(plan, batch, headers)

        return merge_embeddings(await _all_or_first_error([run(b) for b in plan.batches]))

    async def _embed_batch(
        self, plan: EmbeddingPlan, batch: EmbeddingBatch, headers: dict[str, str]
    ) -> EmbeddingsPart:
        release = await self._aacquire(plan.info.name)
        try:
            response = await self._send(
                batch.content, headers, url=self._embeddings_url, read_body=True
            )
            return plan.parse(batch, response.status_code, response.content)
        except ZhipuError as exc:
            raise plan.failed(exc, batch) from exc
        finally:
            release()

    async def rerank(
        self,
        query: str,
        documents: Sequence[str],
        *,
        model: str = "rerank",
        top_n: int | None = None,
        return_documents: bool = False,
        user_id: str | None = None,
    ) -> RerankResponse:
        """Score ``documents`` against ``query``; see :meth:`ZhipuClient.rerank`."""
        from ._retrieval import parse_rerank, rerank_request  # see _share

        info, content = rerank_request(
            query,
            documents,
            model=model,
            top_n=top_n,
            return_documents=return_documents,
            user_id=user_id,
        )
        headers = self._headers(False)
        release = await self._aacquire(info.name)
        try:
            response = await self._send(content, headers, url=self._rerank_url, read_body=True)
        finally:
            release()
        return parse_rerank(response.status_code, response.content, len(documents))

    async def _send(
        self,
        content: bytes,
        headers: dict[str, str],
        *,
        url: str | None = None,
        read_body: bool = False,
    ) -> httpx.Response:
        request = self._http.build_request(
            "POST",
            url or self._url,
            content=content,
            headers=headers,
            timeout=self._request_timeout(),
        )
        attempt = 0
        while True:
            response_headers: Mapping[str, str] | None = None
            try:
                response = await self._http.send(request, stream=True)
                # Read inside the try: see ZhipuClient._send.
                if read_body or response.status_code >= 400:
                    try:
                        await response.aread()
                    finally:
                        await response.aclose()
            except httpx.TransportError as exc:
                error = _connection_error(exc)
                cause: BaseException = exc
            else:
                if response.status_code < 400:
                    return response
                error = cause = self._failed(response)
                response_headers = response.headers
            delay = self._next_delay(error, attempt, response_headers)
            if delay is None:
                if error is cause:
                    raise error
                raise error from cause
            await self._sleep(delay)
            attempt += 1

    async def aclose(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncZhipuClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
