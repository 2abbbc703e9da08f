"""``ZhipuFlashEmbedding``: Zhipu's embedding models as a LlamaIndex ``BaseEmbedding``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, SecretStr, model_validator
from llama_index.core.callbacks import CallbackManager

from zhipu_flash import AsyncZhipuClient, ZhipuClient
from zhipu_flash.models import embedding_model_info

from ._clients import ClientConfig, refuse_unknown_keywords, resolve_base_url

__all__ = ["DEFAULT_EMBEDDING_MODEL", "ZhipuFlashEmbedding"]

DEFAULT_EMBEDDING_MODEL = "embedding-3"

#: Requests in flight at most by default. LlamaIndex's ``aget_text_embedding_batch`` starts
#: every batch at once, each a separate ``embed()`` call, so the core's own per-call bound on
#: concurrent batches does not reach across them: this cap (a shared ``ConcurrencyLimit``)
#: does. Four, as the core allows one ``embed()`` call by default.
DEFAULT_MAX_CONCURRENCY = 4

# Keywords of other LlamaIndex embedding classes that mean nothing here.
_KEYWORD_HINTS = {
    "mode": "Zhipu's embedding models have one mode: queries and texts embed alike",
    "deployment_name": "there are no deployments: pass model_name",
    "api_version": "there is no API version to choose",
}


class ZhipuFlashEmbedding(ClientConfig, BaseEmbedding):
    """Zhipu AI's embedding models (``embedding-3``, ``embedding-2``) for LlamaIndex indexes,
    ingestion pipelines and ``Settings.embed_model``.

    Requests go through zhipu-flash's core client: the same key, typed errors, retries by
    GLM's business code, timeouts and concurrency cap as ``ZhipuFlash``. Each LlamaIndex batch
    (``embed_batch_size`` texts, at most the model's per-request limit: 64) is one request, or
    more on embedding-2, whose 8K-token budget per request the core keeps; the async methods
    run on the core's native async client, one per event loop.
    Bad input is refused before anything is sent: an empty or whitespace-only text, a text
    certainly over the model's per-input token limit, ``dimensions`` the model does not offer.
    Such errors, and a refused request's "inputs A to B", count within the batch LlamaIndex
    handed over (``embed_batch_size`` texts), not within your whole list.

    Queries and texts are embedded alike (the models take no instruction or input type).
    ``max_concurrency`` (default 4) caps requests in flight across threads, tasks and event
    loops: ``aget_text_embedding_batch`` (what ``VectorStoreIndex(use_async=True)`` and
    ``IngestionPipeline.arun`` call) starts every batch at once, and the cap makes them queue
    instead of meeting GLM's 1302 concurrency error. ``max_concurrency=None`` lifts it.

    Examples:
        ``pip install "zhipu-flash[llama-index]"`` and set ``ZHIPUAI_API_KEY``.

        ```python
        from llama_index.core import Settings, VectorStoreIndex
        from llama_index_zhipu_flash import ZhipuFlash, ZhipuFlashEmbedding

        Settings.embed_model = ZhipuFlashEmbedding(dimensions=512)
        Settings.llm = ZhipuFlash(model="glm-4.7-flash")
        index = VectorStoreIndex.from_documents(documents)
        print(index.as_query_engine().query("What does the policy say about leave?"))
        ```
    """

    model_name: str = Field(
        default=DEFAULT_EMBEDDING_MODEL,
        description="The embedding model: embedding-3 or embedding-2 (model is another name).",
    )
    dimensions: int | None = Field(
        default=None,
        gt=0,
        description=(
            "Vector length: embedding-3 takes 256, 512, 1024 or 2048 (its default); "
            "embedding-2 has a fixed 1024 and takes none. Unset sends nothing (the model's "
            "default)."
        ),
    )
    embed_batch_size: int = Field(
        default=64,
        gt=0,
        le=2048,
        description=(
            "Texts per request; defaults to, and may not exceed, the model's per-request "
            "limit (64 for embedding-3)."
        ),
    )
    user_id: str | None = Field(
        default=None,
        description="An end-user id (6 to 128 characters) sent with every request.",
    )
    max_concurrency: int | None = Field(
        default=DEFAULT_MAX_CONCURRENCY,
        gt=0,
        description=(
            "At most this many requests in flight (threads, tasks and event loops together); "
            "more wait for a slot instead of meeting GLM's 1302 limit. None: no cap."
        ),
    )

    def __init__(
        self,
        model_name: str | None = None,
        *,
        model: str | None = None,
        dimensions: int | None = None,
        embed_batch_size: int | None = None,
        user_id: str | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        api_base: str | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        max_concurrency: int | None = DEFAULT_MAX_CONCURRENCY,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        client: ZhipuClient | None = None,
        async_client: AsyncZhipuClient | None = None,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        refuse_unknown_keywords(type(self), kwargs, hints=_KEYWORD_HINTS)
        if model is not None and model_name is not None and model != model_name:
            raise ValueError(
                f"model_name={model_name!r} and model={model!r} disagree; they are two names "
                "for one setting, pass one of them."
            )
        name = model_name or model or DEFAULT_EMBEDDING_MODEL
        super().__init__(
            model_name=name,
            dimensions=dimensions,
            embed_batch_size=embed_batch_size or _default_batch_size(name),
            user_id=user_id,
            api_key=self._key_or_env(api_key),
            base_url=resolve_base_url(base_url, api_base),
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            callback_manager=callback_manager,
            **kwargs,
        )
        self._inject(http_client, async_http_client, client, async_client)

    @model_validator(mode="after")
    def _check_embedding_model_settings(self) -> ZhipuFlashEmbedding:
        # At construction, where the mistake is, rather than at the first index build. The
        # core checks the same before each request (settings may change after construction).
        info = embedding_model_info(self.model_name, self.dimensions)
        limit = info.max_inputs_per_request
        # Only a documented count refuses: for a model the catalog does not know the core
        # splits the batch (its own cap) and GLM judges.
        if info.known and self.embed_batch_size > limit:
            raise ValueError(
                f"embed_batch_size={self.embed_batch_size} is over {info.name}'s limit of "
                f"{limit} inputs per request; use embed_batch_size={limit} or less."
            )
        return self

    @classmethod
    def class_name(cls) -> str:
        return "ZhipuFlashEmbedding"

    def to_payload(self) -> dict[str, Any]:
        # What instrumentation events and callbacks carry: never the key.
        return {**super().to_payload(), "dimensions": self.dimensions}

    # -- requests ------------------------------------------------------------------------

    def _request(self) -> dict[str, Any]:
        return {"model": self.model_name, "dimensions": self.dimensions, "user_id": self.user_id}

    def _embed(self, texts: Sequence[str]) -> list[Embedding]:
        return self._sync_client().embed(list(texts), **self._request()).vectors

    async def _aembed(self, texts: Sequence[str]) -> list[Embedding]:
        response = await self._async_client().embed(list(texts), **self._request())
        return response.vectors

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self._aembed([query]))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aembed([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await self._aembed(texts)


def _default_batch_size(model: str) -> int:
    # The model's own per-request count (the core's split for a model it does not know).
    return embedding_model_info(model).max_inputs_per_request
