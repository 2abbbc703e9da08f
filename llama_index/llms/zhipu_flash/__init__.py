"""LlamaHub-style import path: ``from llama_index.llms.zhipu_flash import ZhipuFlash``.

``llama_index`` and ``llama_index.llms`` are namespace packages (no ``__init__.py``), so this
module joins them; the class itself lives in :mod:`llama_index_zhipu_flash`.
"""

from llama_index_zhipu_flash import DEFAULT_MODEL, DEFAULT_NUM_OUTPUT, ZhipuFlash

__all__ = ["DEFAULT_MODEL", "DEFAULT_NUM_OUTPUT", "ZhipuFlash"]
