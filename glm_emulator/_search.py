"""The built-in ``web_search`` tool, emulated: made-up sources in GLM's result shape.

GLM runs the search server-side and returns its sources as a top-level ``web_search`` array
beside ``choices`` (docs/glm-api.md §6.3; the shape confirmed live in xmiksay/entanglement ADR
0171): each result has ``refer`` (``"ref_1"``, what the answer cites), ``title``, ``link``,
``content``, ``media``, ``icon`` and ``publish_date``, ``""`` when empty. In a stream it comes
once, on the final chunk with the finish reason and usage, or on the first chunk when the tool
asks for ``result_sequence: "before"``.

**The sources here are invented** (every link is on example.com and every title and snippet
says it comes from the emulator): only the shape is GLM's. A search runs whenever the tool is
offered with ``enable`` not false and the turn would otherwise be a plain text answer; the real
model decides for itself, and may not search at all.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ._answers import Turn

__all__ = ["SearchAnswer", "answer", "offered"]

#: How many sources an emulated search finds.
_RESULTS = 2


class SearchAnswer:
    """A searched turn: the cited text answer, the results, and where a stream puts them."""

    def __init__(self, turn: Turn, results: list[dict[str, Any]] | None, before: bool) -> None:
        self.turn = turn
        #: None when the tool asked for no results (``search_result`` false).
        self.results = results
        #: True: results on the first stream chunk; False: on the final one.
        self.before = before


def offered(tools: Any) -> dict[str, Any] | None:
    """The ``web_search`` tool's settings if one is offered and enabled, else None."""
    for tool in tools or []:
        if isinstance(tool, dict) and tool.get("type") == "web_search":
            settings = tool.get("web_search")
            settings = settings if isinstance(settings, dict) else {}
            if settings.get("enable", True) is not False:
                return settings
    return None


def answer(prompt: str, settings: dict[str, Any]) -> SearchAnswer:
    """The searched answer to ``prompt``: a sentence citing every source by its ``refer``."""
    query = " ".join(prompt.split())[:80] or "the question"
    tag = hashlib.sha256(query.encode()).hexdigest()[:8]
    results = [
        {
            "refer": f"ref_{n}",
            "title": f"Emulated search result {n} for: {query}",
            "link": f"https://example.com/glm-emulator/search/{tag}/{n}",
            "content": (
                f"The GLM emulator made this source up for the query {query!r}; a live call "
                "returns real web pages here."
            ),
            "media": "example.com",
            "icon": "",
            "publish_date": "",
        }
        for n in range(1, _RESULTS + 1)
    ]
    cites = "".join(f"[{r['refer']}]" for r in results)
    turn = Turn(
        reasoning=f"I searched the web for {query!r} and found {_RESULTS} sources to cite.",
        content=f"I searched the web: {_RESULTS} sources cover this {cites}; see them for details.",
    )
    shown = results if settings.get("search_result") is True else None
    return SearchAnswer(turn, shown, settings.get("result_sequence") == "before")
