"""``ZhipuFlashRerank``: GLM's rerank model as a LangChain document compressor."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import Field, model_validator
from typing_extensions import Self

from zhipu_flash.models import rerank_model_info
from zhipu_flash.types import RerankResponse

from ._client_config import ClientConfig
from ._errors import translate_errors

__all__ = ["ZhipuFlashRerank"]


class ZhipuFlashRerank(ClientConfig, BaseDocumentCompressor):
    """Reorder documents by relevance to a query with GLM's ``rerank`` model.

    Returns the best ``top_n`` documents, highest score first, each a copy of the input
    document with its score in ``metadata["relevance_score"]``. One call scores at most 128
    documents of at most 4,096 characters (more are refused, not split: scores from separate
    calls are not comparable). The model is paid.

    Setup:
        ```bash
        pip install "zhipu-flash[langchain]"
        export ZHIPUAI_API_KEY="your-api-key"
        ```

    Key init args:
        model: str
            ``"rerank"`` (the one rerank model GLM documents).
        top_n: int | None
            How many documents to keep (3); None keeps them all, reordered.
        user_id: str | None
            The end user's id (6 to 128 characters).
        api_key, base_url, timeout, max_retries, max_concurrency, http_client,
        async_http_client:
            As on ``ChatZhipuFlash``.

    Instantiate and use in a retriever:
        ```python
        from langchain_classic.retrievers import ContextualCompressionRetriever
        from langchain_core.vectorstores import InMemoryVectorStore

        from langchain_zhipu_flash import ZhipuFlashEmbeddings, ZhipuFlashRerank

        store = InMemoryVectorStore.from_texts(texts, ZhipuFlashEmbeddings())
        retriever = ContextualCompressionRetriever(
            base_compressor=ZhipuFlashRerank(top_n=3),
            base_retriever=store.as_retriever(search_kwargs={"k": 20}),
        )
        docs = retriever.invoke("What is GLM?")
        docs[0].metadata["relevance_score"]
        ```

    Async:
        ``acompress_documents`` (and so ``retriever.ainvoke``) uses the async client.
    """

    model: str = "rerank"
    """The rerank model."""
    top_n: int | None = Field(default=3, ge=1)
    """Documents to keep, best first; None keeps all of them."""
    user_id: str | None = None
    """The end user's id (6 to 128 characters)."""

    @model_validator(mode="after")
    def _zhipu_check_model(self) -> Self:
        rerank_model_info(self.model)  # at construction: a name's type, a warning if unknown
        return self

    def _top_n(self, documents: Sequence[Document]) -> int | None:
        # A retriever may return fewer documents than top_n: keep them all then.
        return None if self.top_n is None else min(self.top_n, len(documents))

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The best ``top_n`` of ``documents`` for ``query``, highest score first."""
        if not documents:
            return []
        with translate_errors():
            response = self._sync_client().rerank(
                query,
                [doc.page_content for doc in documents],
                model=self.model,
                top_n=self._top_n(documents),
                user_id=self.user_id,
            )
        return _ranked(documents, response)

    async def acompress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """The async twin of :meth:`compress_documents`."""
        if not documents:
            return []
        with translate_errors():
            response = await self._async_client().rerank(
                query,
                [doc.page_content for doc in documents],
                model=self.model,
                top_n=self._top_n(documents),
                user_id=self.user_id,
            )
        return _ranked(documents, response)


def _ranked(documents: Sequence[Document], response: RerankResponse) -> list[Document]:
    """Copies of the ranked documents in GLM's order, each with its score (the originals,
    which the caller's vector store may hold, are left untouched)."""
    ranked = []
    for result in response.results:
        document = documents[result.index]
        metadata = {**document.metadata, "relevance_score": result.relevance_score}
        ranked.append(document.model_copy(update={"metadata": metadata}))
    return ranked
