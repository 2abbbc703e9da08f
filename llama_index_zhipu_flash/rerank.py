"""``ZhipuFlashRerank``: Zhipu's rerank model as a LlamaIndex node postprocessor."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from llama_index.core.bridge.pydantic import Field, SecretStr, model_validator
from llama_index.core.callbacks import CallbackManager, CBEventType, EventPayload
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

# llama-index-core re-exports it without marking it public; this is where it lives (a
# package every llama-index-core this package supports installs, via llama-index-workflows).
from llama_index_instrumentation import get_dispatcher

from zhipu_flash import AsyncZhipuClient, ZhipuClient
from zhipu_flash.models import rerank_model_info
from zhipu_flash.types import RerankResponse

from ._clients import ClientConfig, refuse_unknown_keywords, resolve_base_url

__all__ = ["DEFAULT_RERANK_MODEL", "ZhipuFlashRerank"]

logger = logging.getLogger(__name__)
dispatcher = get_dispatcher(__name__)

DEFAULT_RERANK_MODEL = "rerank"


class ZhipuFlashRerank(ClientConfig, BaseNodePostprocessor):
    """Zhipu AI's ``rerank`` model as a node postprocessor: it scores each retrieved node
    against the query and keeps the ``top_n`` best, highest first, with GLM's
    ``relevance_score`` as ``NodeWithScore.score``.

    Use it in any query or chat engine (``node_postprocessors=[...]``); the async engines
    (``aquery``, ``achat``) run it on the core's native async client. It sends one request per
    query with the nodes' text as LlamaIndex embeds it (``MetadataMode.EMBED``). GLM takes at
    most 128 documents per request, so retrieve at most 128 nodes (``similarity_top_k``); a
    node longer than GLM's 4096 characters is cut to that length before it is sent
    (``truncate=True``, logged at DEBUG), as cross-encoder rerankers cut their input, so long
    chunks never fail a query; ``truncate=False`` refuses them instead. The scores are GLM's:
    their meaning and scale are the model's, and this class claims nothing about them beyond
    their order.

    Examples:
        ``pip install "zhipu-flash[llama-index]"`` and set ``ZHIPUAI_API_KEY``.

        ```python
        from llama_index_zhipu_flash import ZhipuFlashRerank

        engine = index.as_query_engine(
            similarity_top_k=10, node_postprocessors=[ZhipuFlashRerank(top_n=3)]
        )
        response = engine.query("How many days of annual leave do new employees get?")
        print([(n.node.node_id, n.score) for n in response.source_nodes])
        ```
    """

    model: str = Field(default=DEFAULT_RERANK_MODEL, description="The rerank model: rerank.")
    top_n: int | None = Field(
        default=2,
        gt=0,
        description=(
            "How many nodes to keep, best first (2, as other LlamaIndex rerankers); None keeps "
            "every node, reordered. Fewer nodes than top_n are all kept."
        ),
    )
    truncate: bool = Field(
        default=True,
        description=(
            "Cut nodes longer than the model's limit (4096 characters) to that length before "
            "sending; False refuses them with an error instead."
        ),
    )
    user_id: str | None = Field(
        default=None,
        description="An end-user id (6 to 128 characters) sent with every request.",
    )

    def __init__(
        self,
        top_n: int | None = 2,
        model: str = DEFAULT_RERANK_MODEL,
        *,
        truncate: bool = True,
        user_id: str | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        api_base: str | None = None,
        timeout: float | None = None,
        max_retries: int = 2,
        max_concurrency: int | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        client: ZhipuClient | None = None,
        async_client: AsyncZhipuClient | None = None,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        refuse_unknown_keywords(type(self), kwargs)
        super().__init__(
            top_n=top_n,
            model=model,
            truncate=truncate,
            user_id=user_id,
            api_key=self._key_or_env(api_key),
            base_url=resolve_base_url(base_url, api_base),
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
            callback_manager=callback_manager or CallbackManager([]),
            **kwargs,
        )
        self._inject(http_client, async_http_client, client, async_client)

    @model_validator(mode="after")
    def _check_rerank_model(self) -> ZhipuFlashRerank:
        # At construction, where the mistake is; the core refuses the same at each call.
        rerank_model_info(self.model)
        return self

    @classmethod
    def class_name(cls) -> str:
        return "ZhipuFlashRerank"

    # -- the request and its answer, shared by the sync and async paths ------------------

    def _documents(self, nodes: list[NodeWithScore]) -> list[str]:
        texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        if not self.truncate:
            return texts  # the core refuses a text over the limit, naming its index
        limit = rerank_model_info(self.model).max_chars
        if limit is None:
            return texts  # a model the catalog does not know: no documented limit to cut to
        for i, text in enumerate(texts):
            if len(text) > limit:
                logger.debug("Node %d has %d characters; sent its first %d.", i, len(text), limit)
                texts[i] = text[:limit]
        return texts

    def _request(self, query: QueryBundle, nodes: list[NodeWithScore]) -> dict[str, Any]:
        # top_n is never above the number of nodes: the API refuses that, and a retriever
        # may well return fewer nodes than the reranker keeps.
        top_n = min(self.top_n, len(nodes)) if self.top_n is not None else None
        return {
            "query": query.query_str,
            "documents": self._documents(nodes),
            "model": self.model,
            "top_n": top_n,
            "user_id": self.user_id,
        }

    def _start(self, query: QueryBundle | None, nodes: list[NodeWithScore]) -> QueryBundle:
        if query is None:
            raise ValueError(
                "ZhipuFlashRerank needs the query: call postprocess_nodes(nodes, "
                "query_str=...) or use it in a query engine's node_postprocessors."
            )
        dispatcher.event(
            ReRankStartEvent(
                query=query, nodes=nodes, top_n=self.top_n or len(nodes), model_name=self.model
            )
        )
        return query

    def _payload(self, query: QueryBundle, nodes: list[NodeWithScore]) -> dict[str, Any]:
        return {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: self.model,
            EventPayload.QUERY_STR: query.query_str,
            EventPayload.TOP_K: self.top_n,
        }

    @staticmethod
    def _ranked(response: RerankResponse, nodes: list[NodeWithScore]) -> list[NodeWithScore]:
        # GLM lists results best first; each index points into the documents sent. New
        # NodeWithScore objects: the retriever's (and its scores) stay as they were.
        return [
            NodeWithScore(node=nodes[r.index].node, score=r.relevance_score)
            for r in response.results
        ]

    # -- sync and async ------------------------------------------------------------------

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query = self._start(query_bundle, nodes)
        if not nodes:
            dispatcher.event(ReRankEndEvent(nodes=[]))
            return []
        with self.callback_manager.event(
            CBEventType.RERANKING, payload=self._payload(query, nodes)
        ) as event:
            response = self._sync_client().rerank(**self._request(query, nodes))
            ranked = self._ranked(response, nodes)
            event.on_end(payload={EventPayload.NODES: ranked})
        dispatcher.event(ReRankEndEvent(nodes=ranked))
        return ranked

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        query = self._start(query_bundle, nodes)
        if not nodes:
            dispatcher.event(ReRankEndEvent(nodes=[]))
            return []
        with self.callback_manager.event(
            CBEventType.RERANKING, payload=self._payload(query, nodes)
        ) as event:
            response = await self._async_client().rerank(**self._request(query, nodes))
            ranked = self._ranked(response, nodes)
            event.on_end(payload={EventPayload.NODES: ranked})
        dispatcher.event(ReRankEndEvent(nodes=ranked))
        return ranked
