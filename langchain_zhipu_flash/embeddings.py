"""``ZhipuFlashEmbeddings``: GLM's embedding models as a LangChain ``Embeddings``."""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings
from pydantic import model_validator
from typing_extensions import Self

from zhipu_flash.models import embedding_model_info

from ._client_config import ClientConfig
from ._errors import translate_errors

__all__ = ["ZhipuFlashEmbeddings"]


class ZhipuFlashEmbeddings(ClientConfig, Embeddings):
    """Zhipu AI GLM text embeddings (``embedding-3``, ``embedding-2``), on ``zhipu_flash``.

    The same key, errors, retries by business code, timeouts and concurrency cap as
    ``ChatZhipuFlash``. Lists longer than one request takes (64 texts on embedding-3) go out
    in batches and come back in order; async batches run concurrently within
    ``max_concurrency``. Embedding models are paid (no free one exists).

    Setup:
        Install the LangChain extra and set your key (from open.bigmodel.cn or z.ai):

        ```bash
        pip install "zhipu-flash[langchain]"
        export ZHIPUAI_API_KEY="your-api-key"   # ZAI_API_KEY is read too
        ```

    Key init args — embedding params:
        model: str
            ``"embedding-3"`` (default) or ``"embedding-2"``; other names are refused.
        dimensions: int | None
            embedding-3: 256, 512, 1024 or 2048 (default 2048); embedding-2: 1024 only.
        user_id: str | None
            The end user's id (6 to 128 characters).

    Key init args — client params:
        api_key: SecretStr | None
            Defaults to ``ZHIPUAI_API_KEY``, then ``ZAI_API_KEY``.
        base_url: str | None
            Defaults to ``ZHIPUAI_BASE_URL``, then open.bigmodel.cn.
        timeout: float | httpx.Timeout | None
            Alias ``request_timeout``.
        max_retries: int
            Retries for retryable failures (2).
        max_concurrency: int | None
            At most this many requests per model in flight (async batches included).
        http_client / async_http_client: httpx clients to use instead of the shared pool.

    Instantiate:
        ```python
        from langchain_zhipu_flash import ZhipuFlashEmbeddings

        embeddings = ZhipuFlashEmbeddings(model="embedding-3", dimensions=1024)
        ```

    Embed a query and documents:
        ```python
        vector = embeddings.embed_query("What is GLM?")
        vectors = embeddings.embed_documents(["GLM is a model family.", "Paris is in France."])
        len(vector), len(vectors)  # (1024, 2)
        ```

    Async:
        ```python
        vector = await embeddings.aembed_query("What is GLM?")
        vectors = await embeddings.aembed_documents(texts)  # batches run concurrently
        ```

    In a vector store:
        ```python
        from langchain_core.vectorstores import InMemoryVectorStore

        store = InMemoryVectorStore.from_texts(texts, embeddings)
        store.similarity_search("What is GLM?", k=2)
        ```

    Errors:
        Input GLM would refuse (an empty or whitespace-only text, a text certainly over the
        model's token limit, a wrong ``dimensions``) raises ``ZhipuFlashInvalidInputError``
        before anything is sent, naming the text's index; API errors are the adapter's
        typed errors (``ZhipuFlashRateLimitError`` is also ``ModelRateLimitError``, ...), and
        the message of a failed batch names the texts it carried.
    """

    model: str = "embedding-3"
    """The embedding model: ``embedding-3`` or ``embedding-2``."""
    dimensions: int | None = None
    """The vector length (embedding-3: 256, 512, 1024 or 2048); None: the model's default."""
    user_id: str | None = None
    """The end user's id (6 to 128 characters)."""

    @model_validator(mode="after")
    def _zhipu_check_model(self) -> Self:
        # Said at construction, not at the first call of a long ingestion job; the core's
        # check (InvalidRequestInputError is a ValueError, so pydantic reports it).
        embedding_model_info(self.model, self.dimensions)
        return self

    def _params(self) -> dict[str, Any]:
        return {"model": self.model, "dimensions": self.dimensions, "user_id": self.user_id}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order (no request for an empty list)."""
        if not texts:
            return []
        with translate_errors():
            return self._sync_client().embed(texts, **self._params()).vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of one text."""
        with translate_errors():
            return self._sync_client().embed(text, **self._params()).vectors[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order; batches run concurrently."""
        if not texts:
            return []
        with translate_errors():
            response = await self._async_client().embed(texts, **self._params())
        return response.vectors

    async def aembed_query(self, text: str) -> list[float]:
        """The vector of one text."""
        with translate_errors():
            response = await self._async_client().embed(text, **self._params())
        return response.vectors[0]
