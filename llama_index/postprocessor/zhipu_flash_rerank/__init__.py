"""LlamaHub-style import path: ``from llama_index.postprocessor.zhipu_flash_rerank import
ZhipuFlashRerank``.

``llama_index`` and ``llama_index.postprocessor`` are namespace packages (no
``__init__.py``), so this module joins them; the class itself lives in
:mod:`llama_index_zhipu_flash`.
"""

from llama_index_zhipu_flash import DEFAULT_RERANK_MODEL, ZhipuFlashRerank

__all__ = ["DEFAULT_RERANK_MODEL", "ZhipuFlashRerank"]
