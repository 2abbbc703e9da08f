"""What every class of this adapter shares about its core clients.

:class:`ClientConfig` is the connection settings of a LlamaIndex component (``api_key``,
``base_url``, ``timeout``, ``max_retries``, ``max_concurrency``, ``concurrency_url``) and the
cache of core clients built from them (:class:`~zhipu_flash.model_clients.ModelClients`): a
component constructs without a key or a network, changed settings reach the next call, async
clients are one per event loop, and copies and pickles start with an empty cache.
``ZhipuFlashEmbedding`` and ``ZhipuFlashRerank`` and ``ZhipuFlash`` inherit it.

:class:`Injected` holds the clients a caller passed in, and :func:`refuse_unknown_keywords`
turns a misspelt keyword into a ``TypeError`` naming the nearest valid one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from llama_index.core.bridge.pydantic import BaseModel, Field, PrivateAttr, SecretStr

from zhipu_flash import BASE_URL_ENV_VAR, AsyncZhipuClient, ZhipuClient, api_key_from_env
from zhipu_flash.model_clients import ClientSettings, ModelClients, nearest_name

__all__ = ["INIT_ONLY", "ClientConfig", "Injected", "refuse_unknown_keywords", "resolve_base_url"]

logger = logging.getLogger(__name__)

#: Constructor arguments that are not fields.
INIT_ONLY = ("api_base", "http_client", "async_http_client", "client", "async_client")


class Injected:
    """Clients the caller passed in. Copies of the component share them (the caller owns and
    closes them). A connection pool cannot move to another process: a pickled component leaves
    them behind, says so in the log, and builds its own clients from its fields (as
    LlamaIndex does with any private attribute it cannot pickle)."""

    __slots__ = ("_logged", "async_client", "async_http_client", "client", "http_client", "owner")
    _NAMES = ("async_client", "async_http_client", "client", "http_client")

    def __init__(
        self,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        client: ZhipuClient | None = None,
        async_client: AsyncZhipuClient | None = None,
        owner: str = "ZhipuFlash",
    ) -> None:
        self.http_client = http_client
        self.async_http_client = async_http_client
        self.client = client
        self.async_client = async_client
        self.owner = owner
        self._logged = False

    def __copy__(self) -> Injected:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Injected:
        return self

    def __reduce__(self) -> tuple[type[Injected], tuple[()]]:
        given = [name for name in self._NAMES if getattr(self, name) is not None]
        if given and not self._logged:
            # Once per component: LlamaIndex's __getstate__ test-pickles each attribute first.
            self._logged = True
            logger.warning(
                "%s pickled without its injected %s: the unpickled copy builds its own "
                "clients from base_url, api_key, timeout and max_retries.",
                self.owner,
                ", ".join(given),
            )
        return (Injected, ())


def resolve_base_url(base_url: str | None, api_base: str | None) -> str | None:
    """``base_url``, or its other name ``api_base`` (OpenAI's spelling), else the
    ``ZHIPUAI_BASE_URL`` environment variable; None leaves the core's default."""
    if api_base is not None:
        if base_url is not None and base_url != api_base:
            raise ValueError(
                f"base_url={base_url!r} and api_base={api_base!r} disagree; they are two "
                "names for one setting, pass one of them."
            )
        base_url = api_base
    return base_url or os.environ.get(BASE_URL_ENV_VAR) or None


def refuse_unknown_keywords(
    cls: type[BaseModel],
    kwargs: Mapping[str, Any],
    *,
    init_only: Iterable[str] = INIT_ONLY,
    hints: Mapping[str, str] | None = None,
    fallback: str = "",
) -> None:
    """Raise ``TypeError`` for keywords that are neither a field nor a constructor argument,
    naming the nearest valid one: a misspelt setting must never be dropped silently.

    Args:
        cls: The component class (its fields and their aliases are valid).
        kwargs: The keywords the constructor did not name.
        init_only: Constructor arguments that are not fields.
        hints: What to say for keywords of other integrations that mean nothing here.
        fallback: A last sentence for the error (where other parameters go, if anywhere).
    """
    names = set(cls.model_fields)
    for field in cls.model_fields.values():
        names.update(a for a in (field.alias, field.validation_alias) if isinstance(a, str))
    unknown = sorted(set(kwargs) - names)
    if not unknown:
        return
    valid = sorted({*names, *init_only})
    problems = []
    for name in unknown:
        hint = (hints or {}).get(name)
        if hint is None:
            near = nearest_name(name, valid)
            hint = f"did you mean {near!r}?" if near else ""
        problems.append(f"{name!r}" + (f" ({hint})" if hint else ""))
    message = f"{cls.__name__}() got unexpected keyword argument(s) {', '.join(problems)}."
    raise TypeError(f"{message} {fallback}".strip())


def _secret(value: str | SecretStr | None) -> str | None:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class ClientConfig(BaseModel):
    """Connection settings and the core clients built from them (see the module doc)."""

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
            "API base URL ending in /api/paas/v4 (api_base is accepted as another name). "
            "Defaults to ZHIPUAI_BASE_URL, then https://open.bigmodel.cn/api/paas/v4 (use "
            "https://api.z.ai/api/paas/v4 for z.ai)."
        ),
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        description="Request timeout in seconds; unset means 10 s to connect and 300 s per read.",
    )
    max_retries: int = Field(
        default=2,
        ge=0,
        description=(
            "Retries of a failed request whose error code is retryable (e.g. 1302, 1305); a "
            "stream is never retried once its first chunk arrived."
        ),
    )
    max_concurrency: int | None = Field(
        default=None,
        gt=0,
        description=(
            "At most this many requests of this component in flight (threads, tasks and event "
            "loops together); more wait for a slot instead of meeting GLM's 1302 limit."
        ),
    )
    concurrency_url: SecretStr | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description=(
            "A redis:// URL through which every process on this API key, host and model "
            "shares max_concurrency (needs zhipu-flash[redis]). Defaults to "
            "ZHIPU_FLASH_CONCURRENCY_URL. Never serialised: it may hold Redis's password."
        ),
    )

    _clients: ModelClients = PrivateAttr(default_factory=ModelClients)
    _injected: Injected = PrivateAttr(default_factory=Injected)

    def _inject(
        self,
        http_client: httpx.Client | None,
        async_http_client: httpx.AsyncClient | None,
        client: ZhipuClient | None,
        async_client: AsyncZhipuClient | None,
    ) -> None:
        self._injected = Injected(
            http_client, async_http_client, client, async_client, owner=type(self).__name__
        )

    @staticmethod
    def _key_or_env(api_key: str | SecretStr | None) -> str | SecretStr | None:
        return api_key if api_key is not None else api_key_from_env()

    def _client_settings(self) -> ClientSettings:
        # Built per call from the current fields: a changed field means another cached client.
        # A plain str when assigned after construction (fields are not re-validated).
        return ClientSettings(
            api_key=_secret(self.api_key),
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            http_client=self._injected.http_client,
            async_http_client=self._injected.async_http_client,
            max_concurrency=self.max_concurrency,
            concurrency_url=_secret(self.concurrency_url),
        )

    def _sync_client(self) -> ZhipuClient:
        injected = self._injected.client
        if injected is not None:
            return injected
        return self._clients.sync_client(self._client_settings())

    def _async_client(self) -> AsyncZhipuClient:
        """The async client for the running event loop (call it from a coroutine)."""
        injected = self._injected.async_client
        if injected is not None:
            return injected
        return self._clients.async_client(self._client_settings())

    def close(self) -> None:
        """Release the sync clients built here (the shared default pool and injected clients
        stay open; async pools close with their event loops)."""
        self._clients.close()

    async def aclose(self) -> None:
        """:meth:`close`, and close the async connection pool of the running loop now
        (injected clients stay open)."""
        await self._clients.aclose()
