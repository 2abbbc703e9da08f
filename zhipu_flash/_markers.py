"""Strip the think and box markers that GLM-V thinking models put inside ``content``.

glm-4.1v-thinking-flash and glm-4.5v may answer ``<think>...</think>`` followed by the answer
wrapped in ``<|begin_of_box|>...<|end_of_box|>``. The filter moves the think section to the
reasoning and drops the box markers, so callers see the same shape as every other model.
In a stream a marker can be split across deltas, so the filter holds back a tail that could
still become a marker and releases it once it cannot.

The one rule, two uses: :meth:`MarkerFilter.move` runs on each streamed delta (the
accumulator), :func:`strip_message` on a whole answer (``create()``, or a JSON body answering
a stream request), where the whitespace the markers leave around the answer is trimmed too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .types import ChatCompletionMessage

__all__ = ["MarkerFilter", "strip_markers", "strip_message"]

_THINK_OPEN = "<think>"
_THINK_CLOSE = "</think>"
_BOX = ("<|begin_of_box|>", "<|end_of_box|>")
_MARKERS = (_THINK_OPEN, _THINK_CLOSE, *_BOX)


class MarkerFilter:
    """``feed(content) -> (content, reasoning)``; ``flush()`` at the end of the answer."""

    __slots__ = ("_in_think", "_pending")

    def __init__(self) -> None:
        self._pending = ""
        self._in_think = False

    def feed(self, text: str) -> tuple[str, str]:
        if self._pending:
            text = self._pending + text
            self._pending = ""
        elif "<" not in text and not self._in_think:
            return text, ""
        content: list[str] = []
        reasoning: list[str] = []
        while text:
            out = reasoning if self._in_think else content
            cut = text.find("<")
            if cut < 0:
                out.append(text)
                break
            out.append(text[:cut])
            text = text[cut:]
            for marker in _MARKERS:
                if text.startswith(marker):
                    if marker == _THINK_OPEN:
                        self._in_think = True
                    elif marker == _THINK_CLOSE:
                        self._in_think = False
                    text = text[len(marker) :]
                    break
            else:
                if any(m.startswith(text) for m in _MARKERS):
                    self._pending = text  # may complete in the next delta
                    break
                out.append("<")
                text = text[1:]
        return "".join(content), "".join(reasoning)

    def flush(self) -> tuple[str, str]:
        """Release a held-back tail that never became a marker."""
        text, self._pending = self._pending, ""
        return ("", text) if self._in_think else (text, "")

    def move(
        self, content: str | None, reasoning: str | None, *, last: bool
    ) -> tuple[str | None, str | None]:
        """One delta's ``(content, reasoning)`` with the markers taken out of the content and
        think text appended to the reasoning; ``last`` releases what was held back. A
        content of None stays None unless text is released into it."""
        moved_content, moved_reasoning = self.feed(content or "")
        if last:
            tail_content, tail_reasoning = self.flush()
            moved_content += tail_content
            moved_reasoning += tail_reasoning
        if content is not None or moved_content:
            content = moved_content
        if moved_reasoning:
            reasoning = (reasoning or "") + moved_reasoning
        return content, reasoning


def strip_markers(text: str) -> tuple[str, str]:
    """Whole-text form for non-streamed answers: ``(content, reasoning)``, the content
    trimmed of the whitespace the markers leave."""
    content, reasoning = MarkerFilter().move(text, None, last=True)
    return (content or "").strip(), reasoning or ""


def strip_message(message: ChatCompletionMessage) -> None:
    """A whole answer's message with the markers moved out of its content, in place."""
    if message.content:
        content, reasoning = strip_markers(message.content)
        message.content = content
        if reasoning:
            message.reasoning_content = (message.reasoning_content or "") + reasoning
