"""LlamaIndex integration for Zhipu AI's GLM models: the LLM :class:`ZhipuFlash`, the
embedding model :class:`ZhipuFlashEmbedding` and the node postprocessor
:class:`ZhipuFlashRerank`.

Install with ``pip install "zhipu-flash[llama-index]"``.
"""

try:
    import llama_index.core  # noqa: F401  (the adapter's framework, an optional extra)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "llama_index_zhipu_flash needs llama-index-core. Install it with: "
        'pip install "zhipu-flash[llama-index]"'
    ) from exc

# First, before any module here imports httpx: zhipu_flash imports it without its command line
# (rich and click, about 60 ms; zhipu_flash/_httpx.py), which LlamaIndex does not import.
import zhipu_flash  # noqa: F401

from .base import DEFAULT_MODEL, DEFAULT_NUM_OUTPUT, ZhipuFlash
from .embeddings import DEFAULT_EMBEDDING_MODEL, ZhipuFlashEmbedding
from .rerank import DEFAULT_RERANK_MODEL, ZhipuFlashRerank

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_MODEL",
    "DEFAULT_NUM_OUTPUT",
    "DEFAULT_RERANK_MODEL",
    "ZhipuFlash",
    "ZhipuFlashEmbedding",
    "ZhipuFlashRerank",
]
