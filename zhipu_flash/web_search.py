"""The built-in ``web_search`` tool as a dict, built from typed options (docs/glm-api.md §6.3).

GLM runs the search itself when a request offers ``{"type": "web_search", "web_search":
{...}}`` in ``tools``; the results come back in the answer's top-level ``web_search`` array
(``ChatCompletion.web_search``). :func:`web_search_tool` builds that dict with the option
names spelled right, sending only the options given.

The values GLM takes are listed in the type hints as third-party clients and guides relay them
([report]; docs/glm-api.md §6.3): no vendor page could be re-read for them, so no value is
refused here (a ``Literal`` helps an editor, any string is sent), only a value of the wrong
type (a count that is not an integer, a flag that is not a bool), which no reading of the
docs would accept.
"""

from __future__ import annotations

from typing import Any, Literal

from ._exceptions import InvalidRequestInputError

__all__ = ["web_search_tool"]

SearchRecency = Literal["oneDay", "oneWeek", "oneMonth", "oneYear", "noLimit"]
SearchEngine = Literal["search_std", "search_pro", "search_pro_sogou", "search_pro_quark"]
ContentSize = Literal["medium", "high"]
ResultSequence = Literal["before", "after"]

_FLAGS = ("enable", "search_intent", "search_result", "require_search")


def web_search_tool(
    *,
    enable: bool = True,
    search_engine: SearchEngine | str | None = None,
    search_query: str | None = None,
    search_intent: bool | None = None,
    count: int | None = None,
    search_domain_filter: str | None = None,
    search_recency_filter: SearchRecency | str | None = None,
    content_size: ContentSize | str | None = None,
    result_sequence: ResultSequence | str | None = None,
    search_result: bool | None = None,
    require_search: bool | None = None,
    search_prompt: str | None = None,
) -> dict[str, Any]:
    """The ``tools`` entry that turns on GLM's web search, with the options given.

    Args:
        enable: Offer the search (the model decides whether to search).
        search_engine: Which engine runs the search (``search_std``, ``search_pro``, ...).
        search_query: A query to search for instead of the one the model would write.
        search_intent: Whether GLM first decides if a search is needed.
        count: How many results to use (GLM's guides give 1 to 50, default 10).
        search_domain_filter: Only results from this domain (e.g. ``"www.gov.cn"``).
        search_recency_filter: How recent the pages must be (``"oneWeek"``, ``"noLimit"``, ...).
        content_size: How much of each page the model reads (``"medium"`` or ``"high"``).
        result_sequence: Results on the first chunk of a stream (``"before"``) or with the
            finish (``"after"``).
        search_result: Return the sources in the answer's ``web_search`` array.
        require_search: Answer from the search results only.
        search_prompt: A prompt for how the model uses the results (``{search_result}`` is
            where GLM puts them).

    Raises:
        InvalidRequestInputError: An option of the wrong type (checked before sending).
    """
    options: dict[str, Any] = {
        "enable": enable,
        "search_engine": search_engine,
        "search_query": search_query,
        "search_intent": search_intent,
        "count": count,
        "search_domain_filter": search_domain_filter,
        "search_recency_filter": search_recency_filter,
        "content_size": content_size,
        "result_sequence": result_sequence,
        "search_result": search_result,
        "require_search": require_search,
        "search_prompt": search_prompt,
    }
    given = {name: value for name, value in options.items() if value is not None}
    for name, value in given.items():
        if name in _FLAGS:
            if not isinstance(value, bool):
                raise InvalidRequestInputError(f"web_search {name} must be True or False.")
        elif name == "count":
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidRequestInputError(
                    f"web_search count must be an integer, got {value!r}."
                )
        elif not isinstance(value, str) or not value:
            raise InvalidRequestInputError(
                f"web_search {name} must be a non-empty string, got {value!r}."
            )
    return {"type": "web_search", "web_search": given}
