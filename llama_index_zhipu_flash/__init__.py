"""LlamaIndex integration for Zhipu AI's GLM chat models: :class:`ZhipuFlash`.

Install with ``pip install "zhipu-flash[llama-index]"``.
"""

try:
    import llama_index.core  # noqa: F401  (the adapter's framework, an optional extra)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "llama_index_zhipu_flash needs llama-index-core. Install it with: "
        'pip install "zhipu-flash[llama-index]"'
    ) from exc

from .base import DEFAULT_MODEL, DEFAULT_NUM_OUTPUT, ZhipuFlash

__all__ = ["DEFAULT_MODEL", "DEFAULT_NUM_OUTPUT", "ZhipuFlash"]
