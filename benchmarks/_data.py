"""The benchmark's stream content, shared by the server (which sends it) and the runners
(which check that every client received exactly it).

A response of ``n`` chunks is ``n // 5`` reasoning chunks, then content chunks, then GLM's
final chunk (``finish_reason`` and ``usage``, empty content), then ``data: [DONE]``: the shape
of a glm-4.5/4.7 answer with thinking on (docs/glm-api.md, streaming). Tokens mix CJK and ASCII and
cycle with a fixed period, so the expected text of any ``n`` is cheap to compute and a
1,000,000-chunk body can be written from one pre-rendered block.

No token holds U+2028/U+2029/U+0085: the floor (httpx ``iter_lines``) splits on them and would
fail its own exactness check. That bug is covered by the unit tests, not measured here.
"""

from __future__ import annotations

import re

from glm_emulator import frames

MODEL = "glm-4.7-flash"
STREAM_ID = "20260101000000bench0000000000000000"
CREATED = 1767225600

CONTENT_TOKENS = (
    "你好",
    "！",
    "Hello",
    ",",
    " world",
    "。",
    "这是",
    "一个",
    "流式",
    "输出",
    " benchmark",
    "，",
    "用来",
    "测量",
    " per-chunk",
    " cost",
    "。",
    "\n",
    "GLM",
    "-4.7",
    " 模型",
    "的",
    "回答",
    " “",
    "逐字",
    "”",
    " arrives",
    " token",
    " by",
    " token",
    "：",
    " 42",
    "%",
    " 的",
    "时间",
    "花在",
    " JSON",
    " 解析",
    "上",
    "。",
    "\n\n",
)
REASONING_TOKENS = (
    "用户",
    "想要",
    " a",
    " streaming",
    " answer",
    "，",
    "我",
    "需要",
    "先",
    "思考",
    "一下",
    "。",
    " Let",
    " me",
    " think",
    "…",
    "\n",
)


def split(n: int) -> tuple[int, int]:
    """(reasoning chunks, content chunks) of an ``n``-chunk response; the last chunk is the
    final one (finish reason + usage)."""
    if n < 2:
        raise ValueError("a benchmark stream has at least 2 chunks")
    reasoning = n // 5
    return reasoning, n - 1 - reasoning


def _cycle(tokens: tuple[str, ...], count: int) -> str:
    whole, rest = divmod(count, len(tokens))
    return "".join(tokens) * whole + "".join(tokens[:rest])


def expected(n: int) -> tuple[str, str]:
    """(content, reasoning) text of an ``n``-chunk response."""
    reasoning, content = split(n)
    return _cycle(CONTENT_TOKENS, content), _cycle(REASONING_TOKENS, reasoning)


def chunk_json(*, content: str | None = None, reasoning: str | None = None) -> bytes:
    """One intermediate chunk exactly as GLM sends it (glm_emulator.frames): ``role`` in the
    delta, no ``finish_reason`` key, raw UTF-8, compact separators."""
    return frames.compact(
        frames.chunk(
            content=content, reasoning=reasoning, id=STREAM_ID, created=CREATED, model=MODEL
        )
    )


def final_json(n: int) -> bytes:
    """The last chunk: empty content, ``finish_reason: stop`` and usage."""
    reasoning, _ = split(n)
    usage = {
        "prompt_tokens": 12,
        "completion_tokens": n - 1,
        "total_tokens": n + 11,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
    return frames.compact(
        frames.chunk(
            content="", finish="stop", usage=usage, id=STREAM_ID, created=CREATED, model=MODEL
        )
    )


_PROMPT_RE = re.compile(r"bench n=(\d+) mode=(\w+)")


def prompt(n: int, mode: str = "burst") -> str:
    """The user message that asks the server for an ``n``-chunk response. Every client sends
    the user message verbatim, so this works through any SDK or framework."""
    return f"bench n={n} mode={mode}"


def parse_prompt(text: str) -> tuple[int, str] | None:
    match = _PROMPT_RE.search(text)
    return (int(match.group(1)), match.group(2)) if match else None
