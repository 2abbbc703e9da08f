"""Every client the benchmark measures, by family: the floors (:mod:`.floor`), zhipu-flash's
core (:mod:`.core`), LangChain chat models (:mod:`.langchain_models`) and LlamaIndex LLMs
(:mod:`.llama_index_llms`), and each framework's own machinery over the core
(:mod:`.frameworks`, the baselines of issue 21's "our layer"). Each family imports its
framework only inside its functions, so a runner process loads only the client it runs.

Every client's stream loop is the same user code: count the chunk, note the first one's time,
hand the content and reasoning deltas to two callbacks.

The embedding benchmark's clients (:mod:`.embeddings`) are a family of their own, driven by
``python -m benchmarks.embeddings``.
"""

from __future__ import annotations

from . import core, floor, frameworks, langchain_models, llama_index_llms
from ._common import Client

__all__ = ["CLIENTS", "Client"]

CLIENTS: dict[str, Client] = {
    client.name: client
    for family in (floor, core, frameworks, langchain_models, llama_index_llms)
    for client in family.CLIENTS
}
