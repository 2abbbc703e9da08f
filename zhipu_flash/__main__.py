"""``python -m zhipu_flash``: stream one GLM answer with its reasoning shown apart.

With ``ZHIPUAI_API_KEY`` (or ``ZAI_API_KEY``) set it calls the live API. Without a key it
replays a real recorded stream offline and says so on the first line: nothing pretends to be
live.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import API_KEY_ENV_VARS, ZhipuClient, ZhipuError
from .testing import Replay, builtin_recording

_RECORDING = "glm-4.5_stream_reasoning_usage_cached_nuvin_REPAIRED.sse"
_PROMPT = "In one sentence: why is the sky blue?"


def _offline_client() -> ZhipuClient:
    # Paced a little so the replay reads like a stream, not a dump.
    return Replay([builtin_recording(_RECORDING)], repeat=True, delay=0.01).client()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zhipu_flash", description=__doc__)
    parser.add_argument("prompt", nargs="?", default=_PROMPT)
    parser.add_argument("--model", default="glm-4.7-flash")
    args = parser.parse_args(argv)

    live = any(os.environ.get(name) for name in API_KEY_ENV_VARS)
    if live:
        print(f"LIVE: {args.model} via the Zhipu API")
        client = ZhipuClient()
    else:
        print(
            "OFFLINE REPLAY: no ZHIPUAI_API_KEY or ZAI_API_KEY set, so this replays a real "
            "glm-4.5 stream recorded by a third party (prompt 'hi'); set a key for a live answer."
        )
        client = _offline_client()
    try:
        with (
            client,
            client.stream(
                model=args.model, messages=[{"role": "user", "content": args.prompt}]
            ) as stream,
        ):
            section = ""
            started = False  # GLM may open with blank lines; don't print them as the answer
            for chunk in stream:
                delta = chunk.delta
                if delta is None:
                    continue
                if delta.reasoning_content:
                    if section != "reasoning":
                        print("\n[reasoning]")
                        section = "reasoning"
                    print(delta.reasoning_content, end="", flush=True)
                text = delta.content or ""
                if not started:
                    text = text.lstrip()
                    started = bool(text)
                if text:
                    if section != "answer":
                        print("\n[answer]")
                        section = "answer"
                    print(text, end="", flush=True)
            final = stream.get_final_completion()
    except ZhipuError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    usage = final.usage
    print(
        f"\n[finish_reason={final.finish_reason} "
        f"tokens in/out={usage.prompt_tokens if usage else '?'}/"
        f"{usage.completion_tokens if usage else '?'}]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
