"""Every client of the embedding benchmark: one function per client, ``texts`` in, vectors out.

Each takes the base URL, the texts and the dimensions, and returns the vectors in input
order; a client builds what it needs once (the runner warms it up with a first call, which is
not timed) and is then called again for the timed run. Frameworks are imported inside the
functions, so a missing one only makes its client "not available".

- ``floor``: a plain httpx loop, what a user would write by hand: batches of 64 (GLM's limit
  for embedding-3), ``json.loads``, vectors sorted by ``index``. Its async twin runs the
  batches concurrently, at most 4 at once (the core's default for one ``embed()`` call).
- ``core``: ``ZhipuClient.embed`` / ``AsyncZhipuClient.embed`` with all the texts in one call.
- ``llama-index``: ``ZhipuFlashEmbedding.get_text_embedding_batch`` and its async twin.
- ``langchain``: ``ZhipuFlashEmbeddings.embed_documents`` and its async twin.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

KEY = "bench.key"  # a dummy: the loopback server accepts anything
BATCH = 64
CONCURRENCY = 4

Vectors = list[list[float]]
#: A built client: texts in, vectors out (a coroutine for async clients).
Embed = Callable[[list[str]], "Vectors | Awaitable[Vectors]"]


def _body(texts: list[str], dimensions: int) -> bytes:
    return json.dumps(
        {"model": "embedding-3", "input": texts, "dimensions": dimensions}, ensure_ascii=False
    ).encode()


def _vectors(content: bytes) -> Vectors:
    data = json.loads(content)["data"]
    return [item["embedding"] for item in sorted(data, key=lambda item: item["index"])]


def floor_sync(base_url: str, dimensions: int) -> Embed:
    import httpx

    client = httpx.Client(timeout=60)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    def embed(texts: list[str]) -> Vectors:
        out: Vectors = []
        for start in range(0, len(texts), BATCH):
            body = _body(texts[start : start + BATCH], dimensions)
            response = client.post(f"{base_url}/embeddings", content=body, headers=headers)
            response.raise_for_status()
            out.extend(_vectors(response.content))
        return out

    return embed


def floor_async(base_url: str, dimensions: int) -> Embed:
    import httpx

    client = httpx.AsyncClient(timeout=60)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}

    async def embed(texts: list[str]) -> Vectors:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def batch(start: int) -> Vectors:
            async with gate:
                body = _body(texts[start : start + BATCH], dimensions)
                url = f"{base_url}/embeddings"
                response = await client.post(url, content=body, headers=headers)
            response.raise_for_status()
            return _vectors(response.content)

        parts = await asyncio.gather(*(batch(s) for s in range(0, len(texts), BATCH)))
        return [vector for part in parts for vector in part]

    return embed


def core_sync(base_url: str, dimensions: int) -> Embed:
    from zhipu_flash import ZhipuClient

    client = ZhipuClient(api_key=KEY, base_url=base_url)
    return lambda texts: client.embed(texts, dimensions=dimensions).vectors


def core_async(base_url: str, dimensions: int) -> Embed:
    from zhipu_flash import AsyncZhipuClient

    client = AsyncZhipuClient(api_key=KEY, base_url=base_url)

    async def embed(texts: list[str]) -> Vectors:
        return (await client.embed(texts, dimensions=dimensions)).vectors

    return embed


def llama_index_sync(base_url: str, dimensions: int) -> Embed:
    from llama_index_zhipu_flash import ZhipuFlashEmbedding

    model = ZhipuFlashEmbedding(dimensions=dimensions, api_key=KEY, base_url=base_url)
    return model.get_text_embedding_batch


def llama_index_async(base_url: str, dimensions: int) -> Embed:
    from llama_index_zhipu_flash import ZhipuFlashEmbedding

    model = ZhipuFlashEmbedding(dimensions=dimensions, api_key=KEY, base_url=base_url)
    return model.aget_text_embedding_batch


def _langchain(base_url: str, dimensions: int) -> Any:
    from langchain_zhipu_flash import ZhipuFlashEmbeddings

    return ZhipuFlashEmbeddings(dimensions=dimensions, api_key=KEY, base_url=base_url)


def langchain_sync(base_url: str, dimensions: int) -> Embed:
    return _langchain(base_url, dimensions).embed_documents


def langchain_async(base_url: str, dimensions: int) -> Embed:
    return _langchain(base_url, dimensions).aembed_documents


#: name -> (builder, is async, what it is)
CLIENTS: dict[str, tuple[Callable[[str, int], Embed], bool, str]] = {
    "floor": (floor_sync, False, "httpx loop, batches of 64"),
    "floor-async": (floor_async, True, "httpx.AsyncClient, batches of 64, 4 at once"),
    "core": (core_sync, False, "ZhipuClient.embed"),
    "core-async": (core_async, True, "AsyncZhipuClient.embed"),
    "llama-index": (llama_index_sync, False, "ZhipuFlashEmbedding.get_text_embedding_batch"),
    "llama-index-async": (
        llama_index_async,
        True,
        "ZhipuFlashEmbedding.aget_text_embedding_batch",
    ),
    "langchain": (langchain_sync, False, "ZhipuFlashEmbeddings.embed_documents"),
    "langchain-async": (langchain_async, True, "ZhipuFlashEmbeddings.aembed_documents"),
}
