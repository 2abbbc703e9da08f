"""Response models of the retrieval endpoints: ``POST /embeddings`` and ``POST /rerank``.

Like the chat types they keep unknown fields (in ``model_extra``) and never fail on a field GLM
adds later. The clients return them already put together for the caller: an
:class:`EmbeddingsResponse` covers the caller's whole input even when it went out in several
batches (docs/glm-api.md §10).
"""

# No ``from __future__ import annotations`` here: pydantic and TypedDict would compile each
# annotation string back into a type when the class is made, about a quarter of the
# time it takes to define these classes at import (benchmarks/README.md, start-up).

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict

from .response import Usage

__all__ = ["Embedding", "EmbeddingsResponse", "RerankResponse", "RerankResult"]


class _Wire(BaseModel):
    # extra="allow": unknown fields are kept (and reachable via model_extra), never an error.
    model_config = ConfigDict(extra="allow", defer_build=True)


class Embedding(_Wire):
    """One input's vector. ``index`` is the input's position in the caller's whole input."""

    index: int
    embedding: list[float]
    object: str = "embedding"


class EmbeddingsResponse(_Wire):
    """The vectors of one :meth:`~zhipu_flash.ZhipuClient.embed` call.

    ``data`` is in the caller's input order (``data[i].index == i``), whatever order and
    batches the requests went out in; ``usage`` is summed over the batches (None when a batch
    reported none).
    """

    model: str
    data: list[Embedding]
    usage: Usage | None = None
    object: str = "list"

    @property
    def vectors(self) -> list[list[float]]:
        """The vectors alone, in input order."""
        return [item.embedding for item in self.data]


def _document_text(value: Any) -> Any:
    # The docs show ``document`` as the text; an object with a ``text`` key (the shape some
    # rerank APIs use) is accepted too, so a change of shape does not fail the whole answer.
    if isinstance(value, dict) and isinstance(value.get("text"), str):
        return value["text"]
    return value


class RerankResult(_Wire):
    """One document's score. ``index`` points into the ``documents`` the caller passed;
    ``document`` is its text when ``return_documents=True`` was asked for."""

    index: int
    relevance_score: float
    document: Annotated[str | None, BeforeValidator(_document_text)] = None


class RerankResponse(_Wire):
    """The answer of one :meth:`~zhipu_flash.ZhipuClient.rerank` call; ``results`` in GLM's
    order, highest score first."""

    id: str | None = None
    request_id: str | None = None
    created: int | None = None
    results: list[RerankResult]
    usage: Usage | None = None
