"""LlamaHub-style import path: ``from llama_index.embeddings.zhipu_flash import
ZhipuFlashEmbedding``.

``llama_index`` and ``llama_index.embeddings`` are namespace packages (no ``__init__.py``), so
this module joins them; the class itself lives in :mod:`llama_index_zhipu_flash`.
"""

from llama_index_zhipu_flash import DEFAULT_EMBEDDING_MODEL, ZhipuFlashEmbedding

__all__ = ["DEFAULT_EMBEDDING_MODEL", "ZhipuFlashEmbedding"]
