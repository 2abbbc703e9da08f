"""The client settings every class of this package shares: ``ChatZhipuFlash``,
``ZhipuFlashEmbeddings`` and ``ZhipuFlashRerank``.

:class:`ClientConfig` holds the fields, with their names, aliases and environment variables
(``api_key``, ``base_url``, ``timeout``/``request_timeout``, ``max_retries``,
``max_concurrency``, ``concurrency_url``, ``http_client``, ``async_http_client``) and the same
:class:`~zhipu_flash.model_clients.ModelClients` cache behind them: clients built at the first
call, per event loop for async, rebuilt when a setting changes, never copied or pickled.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx
from langchain_core.utils import from_env, secret_from_env
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_serializer,
    field_validator,
    model_validator,
)
from typing_extensions import Self

import zhipu_flash as zf
from zhipu_flash.model_clients import ClientSettings, ModelClients, nearest_name

__all__ = ["ClientConfig", "accepted_names", "refuse_unknown"]


class ClientConfig(BaseModel):
    """Client settings and the client cache of one model object (see the module doc)."""

    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(list(zf.API_KEY_ENV_VARS), default=None)
    )
    """Zhipu API key; read from ``ZHIPUAI_API_KEY`` then ``ZAI_API_KEY`` when not given."""
    base_url: str | None = Field(default_factory=from_env(zf.BASE_URL_ENV_VAR, default=None))
    """API base URL ending in ``/api/paas/v4``; ``ZHIPUAI_BASE_URL`` when not given."""
    timeout: float | httpx.Timeout | None = Field(default=None, alias="request_timeout")
    """Request timeout in seconds (or an ``httpx.Timeout``)."""
    max_retries: int = Field(default=2, ge=0)
    """Retries of a request for retryable failures (by GLM's business code); a stream is never
    retried once its first chunk arrived."""
    max_concurrency: int | None = Field(default=None, ge=1)
    """At most this many requests per model in flight from this object and its copies (threads
    and event loops together); None: no cap (one async embedding call then runs at most 4
    batches at once)."""
    concurrency_url: SecretStr | None = Field(default=None, exclude=True)
    """A ``redis://`` URL through which every process on this API key, host and model shares
    ``max_concurrency`` (needs ``zhipu-flash[redis]``); None: ``ZHIPU_FLASH_CONCURRENCY_URL``
    when set. A secret (a URL may hold Redis's password), never serialized: where the model
    is loaded, the variable says where the fleet's Redis is."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """An ``httpx.Client`` to use for sync calls."""
    async_http_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """An ``httpx.AsyncClient`` to use for async calls (on any event loop, as given)."""

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    # Caches, not state: copies, deep copies and pickles start with none (see ModelClients).
    _clients: ModelClients = PrivateAttr(default_factory=ModelClients)

    @model_validator(mode="before")
    @classmethod
    def _zhipu_refuse_unknown_arguments(cls, values: Any) -> Any:
        # Pydantic would drop an unknown keyword silently, so ``dimension=256`` would embed at
        # the default size: unknown names are refused with the nearest valid one.
        if isinstance(values, Mapping):
            refuse_unknown(values, accepted_names(cls), f"{cls.__name__} got")
        return values

    @field_validator("timeout", mode="before")
    @classmethod
    def _zhipu_timeout_from_dict(cls, value: Any) -> Any:
        # The serialized form of an httpx.Timeout (model_dump) loads back as one.
        if isinstance(value, Mapping):
            return httpx.Timeout(**value)
        return value

    @field_serializer("timeout")
    def _serialize_timeout(self, timeout: float | httpx.Timeout | None) -> Any:
        if isinstance(timeout, httpx.Timeout):
            return timeout.as_dict()
        return timeout

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        # Injected HTTP clients are shared by deep copies, never copied: a pool (its locks
        # and sockets) is not configuration.
        memo = {} if memo is None else memo
        for client in (self.http_client, self.async_http_client):
            if client is not None:
                memo.setdefault(id(client), client)
        return super().__deepcopy__(memo)

    def _client_settings(self) -> ClientSettings:
        # Derived at every call, so a changed key, URL, timeout or retry count (in place or
        # through model_copy) is used by the next request. model_copy(update=...) does not
        # validate, so the key may arrive as a plain string.
        return ClientSettings(
            api_key=_secret(self.api_key) or None,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            http_client=self.http_client,
            async_http_client=self.async_http_client,
            max_concurrency=self.max_concurrency,
            concurrency_url=_secret(self.concurrency_url),
        )

    def _sync_client(self) -> zf.ZhipuClient:
        return self._clients.sync_client(self._client_settings())

    def _async_client(self) -> zf.AsyncZhipuClient:
        # One per running event loop, closed when that loop shuts down.
        return self._clients.async_client(self._client_settings())

    def close(self) -> None:
        """Close the sync HTTP client this object made (the process-wide default pool and
        injected clients stay open). Async clients close with their event loops, or now with
        :meth:`aclose`."""
        self._clients.close()

    async def aclose(self) -> None:
        """:meth:`close`, and close the running event loop's async client now."""
        await self._clients.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _secret(value: Any) -> str | None:
    # model_copy(update=...) does not validate, so a secret may arrive as a plain string.
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@functools.cache
def accepted_names(cls: type[BaseModel]) -> frozenset[str]:
    """The keyword arguments ``cls`` takes: its field names and their aliases."""
    names = set(cls.model_fields)
    for field in cls.model_fields.values():
        if field.alias:
            names.add(field.alias)
        if isinstance(field.validation_alias, str):
            names.add(field.validation_alias)
    return frozenset(names)


def refuse_unknown(
    given: Mapping[str, Any], accepted: frozenset[str], what: str, advice: str = ""
) -> None:
    """Raise ``ValueError`` naming each of ``given``'s keys not in ``accepted``, with the
    nearest accepted name; ``what`` starts the message and ``advice`` ends it."""
    unknown = sorted(str(name) for name in given if name not in accepted)
    if not unknown:
        return
    hints = []
    for name in unknown:
        near = nearest_name(name, accepted)
        hints.append(f"{name!r} (did you mean {near!r}?)" if near else repr(name))
    message = f"{what} unknown argument(s) {', '.join(hints)}."
    raise ValueError(f"{message} {advice}" if advice else message)
