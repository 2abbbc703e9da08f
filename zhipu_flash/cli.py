"""The ``zhipu-flash`` command: try a GLM model from a terminal.

    zhipu-flash chat "Why is the sky blue?"            stream an answer, reasoning dimmed
    zhipu-flash chat --no-reasoning --model glm-4-flash-250414 "Hi"
    zhipu-flash chat --model glm-5.3-flash --reasoning-effort low "Hi"
    zhipu-flash chat --image photo.png --model glm-4.6v-flash "What is this?"
    zhipu-flash chat --via langchain "Hi"              the same through ChatZhipuFlash
    zhipu-flash chat                                   interactive: one line per turn
    zhipu-flash models                                 the catalog with capabilities
    zhipu-flash demo                                   the README's main job

Exit codes (for scripts): 0 success, 1 other API error, 2 bad usage or input, 3 no key or the
key was refused, 4 no balance or quota, 5 rate limited after retries, 6 network failure or
timeout, 130 interrupted. Expected failures print one line, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

from . import (
    FLASH_MODELS,
    MODELS,
    APIConnectionError,
    AuthenticationError,
    InvalidRequestInputError,
    QuotaExceededError,
    RateLimitError,
    ZhipuClient,
    ZhipuError,
    api_key_from_env,
    get_model_info,
    image_part,
)
from .testing import Replay, builtin_recording

__all__ = ["main"]

#: A backend turns a conversation into (kind, text) pieces, kind "reasoning" or "answer".
Pieces = Iterator[tuple[str, str]]
Backend = Callable[[list[dict[str, Any]], argparse.Namespace], Pieces]

DEMO_RECORDING = "glm-4.5_stream_reasoning_usage_cached_nuvin_REPAIRED.sse"


class _Style:
    def __init__(self, out: TextIO) -> None:
        color = out.isatty() and not os.environ.get("NO_COLOR")
        self.dim = "\x1b[2m" if color else ""
        self.reset = "\x1b[0m" if color else ""
        self.color = color


def _has_key() -> bool:
    return api_key_from_env() is not None


def _replay(args: argparse.Namespace) -> Replay | None:
    if not args.offline:
        return None
    return Replay([builtin_recording(DEMO_RECORDING)], repeat=True, delay=0.005)


def _model_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """What a framework model needs to answer from the replay (both take ``http_client``)."""
    replay = _replay(args)
    return {"http_client": replay.http_client(), "api_key": "replay"} if replay else {}


def _effort(args: argparse.Namespace) -> dict[str, Any]:
    """``reasoning_effort`` as a request parameter both frameworks pass on to the core."""
    return {"reasoning_effort": args.reasoning_effort} if args.reasoning_effort else {}


def _core_client(args: argparse.Namespace) -> ZhipuClient:
    replay = _replay(args)
    return replay.client() if replay is not None else ZhipuClient()


def _core(messages: list[dict[str, Any]], args: argparse.Namespace) -> Pieces:
    with (
        _core_client(args) as client,
        client.stream(
            model=args.model,
            messages=messages,
            thinking=args.thinking,
            reasoning_effort=args.reasoning_effort,
        ) as stream,
    ):
        for chunk in stream:
            delta = chunk.delta
            if delta is None:
                continue
            if delta.reasoning_content:
                yield "reasoning", delta.reasoning_content
            if delta.content:
                yield "answer", delta.content


def _langchain(messages: list[dict[str, Any]], args: argparse.Namespace) -> Pieces:
    try:
        from langchain_zhipu_flash import ChatZhipuFlash
    except ImportError as exc:
        raise _UsageError(str(exc)) from exc
    llm = ChatZhipuFlash(
        model=args.model,
        thinking=args.thinking,
        model_kwargs=_effort(args),
        **_model_kwargs(args),
    )
    for chunk in llm.stream(messages):
        reasoning = chunk.additional_kwargs.get("reasoning_content")
        if reasoning:
            yield "reasoning", str(reasoning)
        if chunk.text:
            yield "answer", chunk.text


def _llama_index(messages: list[dict[str, Any]], args: argparse.Namespace) -> Pieces:
    try:
        from llama_index.core.llms import ChatMessage

        from llama_index_zhipu_flash import ZhipuFlash
    except ImportError as exc:
        raise _UsageError(str(exc)) from exc
    llm = ZhipuFlash(
        model=args.model,
        thinking=args.thinking,
        additional_kwargs=_effort(args),
        **_model_kwargs(args),
    )
    history = [ChatMessage(role=m["role"], content=_text(m["content"])) for m in messages]
    if any(isinstance(m["content"], list) for m in messages):
        raise _UsageError("--image is supported with --via core or --via langchain.")
    for response in llm.stream_chat(history):
        thinking = response.additional_kwargs.get("thinking_delta")
        if thinking:
            yield "reasoning", str(thinking)
        if response.delta:
            yield "answer", response.delta


BACKENDS: dict[str, Backend] = {"core": _core, "langchain": _langchain, "llama-index": _llama_index}


class _UsageError(Exception):
    pass


def _text(content: Any) -> str:
    return content if isinstance(content, str) else ""


def _user_message(prompt: str, images: Sequence[str]) -> dict[str, Any]:
    if not images:
        return {"role": "user", "content": prompt}
    parts: list[dict[str, Any]] = [dict(image_part(image)) for image in images]
    return {"role": "user", "content": [*parts, {"type": "text", "text": prompt}]}


def _render(pieces: Pieces, args: argparse.Namespace, out: TextIO) -> str:
    """Print reasoning (dimmed, or not at all) apart from the answer; return the answer."""
    style = _Style(out)
    section = ""
    answer: list[str] = []
    for kind, text in pieces:
        if kind == "reasoning":
            if args.no_reasoning:
                continue
            if section != "reasoning":
                out.write(style.dim + ("" if style.color else "[reasoning] "))
                section = "reasoning"
            out.write(text)
        else:
            if not answer:
                text = text.lstrip()
                if not text:
                    continue
            if section == "reasoning":
                out.write(style.reset + "\n\n")
            section = "answer"
            answer.append(text)
            out.write(text)
        out.flush()
    if section == "reasoning":
        out.write(style.reset)
    out.write("\n")
    return "".join(answer)


def _chat(args: argparse.Namespace, out: TextIO) -> int:
    backend = BACKENDS[args.via]
    if not args.offline and not _has_key():
        raise AuthenticationError(
            "No API key: set ZHIPUAI_API_KEY (or ZAI_API_KEY), or add --offline to replay a "
            "recorded answer."
        )
    if args.offline:
        print(
            "OFFLINE REPLAY: answers come from a recorded GLM stream, not the live API.", file=out
        )
    messages: list[dict[str, Any]] = []
    if args.prompt is not None:
        messages.append(_user_message(args.prompt, args.image))
        _render(backend(messages, args), args, out)
        return 0
    print(f"{args.model} via {args.via}; an empty line or Ctrl-D ends the chat.", file=out)
    images = list(args.image)
    while True:
        try:
            line = input("> ")
        except EOFError:
            break
        if not line.strip():
            break
        messages.append(_user_message(line, images))
        images = []  # an image belongs to the turn it was given with
        answer = _render(backend(messages, args), args, out)
        messages.append({"role": "assistant", "content": answer})
    return 0


def _tokens(n: int) -> str:
    """A token count as the vendor writes it: 1M, 128K (131072), 200K (200000)."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}K" if n % 1000 == 0 else f"{n // 1024}K"


def _models(out: TextIO) -> int:
    rows = [("model", "context", "output", "thinking", "effort", "vision", "tools", "free")]
    for name, info in MODELS.items():
        vision = "image+video" if info.video else ("image" if info.vision else "-")
        efforts = "|".join(
            f"{e}*" if e == info.default_effort else e for e in info.reasoning_efforts
        )
        rows.append(
            (
                name,
                _tokens(info.context_window),
                _tokens(info.max_output_tokens),
                info.thinking,
                efforts or "-",
                vision,
                "yes" if info.tools else "-",
                "free" if info.free else "",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out
        )
    print(
        "\nthinking: toggle (on/off), forced (always thinks; thinking=False is refused), none."
        "\neffort: the reasoning_effort values a model takes (* its default); others are "
        "refused.",
        file=out,
    )
    print(
        f"\nThe free flash models: {', '.join(FLASH_MODELS)}. Unknown names are sent as "
        "given, with default limits.",
        file=out,
    )
    return 0


def _demo(out: TextIO) -> int:
    """The README's main job: one answer through the core, LangChain and LlamaIndex."""
    live = _has_key()
    if live:
        print(
            "LIVE: glm-4.7-flash via the Zhipu API, through the core, LangChain and LlamaIndex.",
            file=out,
        )
    else:
        print(
            "OFFLINE REPLAY: no ZHIPUAI_API_KEY or ZAI_API_KEY set, so this replays a real "
            "glm-4.5 stream recorded by a third party (prompt 'hi'); set a key for a live "
            "answer.",
            file=out,
        )
    prompt = "In one sentence: why is the sky blue?" if live else "hi"
    code = 0
    for via in BACKENDS:
        args = _parser().parse_args(
            [
                "chat",
                "--via",
                via,
                "--model",
                "glm-4.7-flash" if live else "glm-4.5",
                *([] if live else ["--offline"]),
                prompt,
            ]
        )
        print(f"\n== {via} ==", file=out)
        try:
            _render(BACKENDS[via]([_user_message(prompt, [])], args), args, out)
        except _UsageError as exc:
            print(f"(skipped: {exc})", file=out)
            code = 0
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zhipu-flash",
        description="Try Zhipu GLM models from a terminal.",
        epilog=__doc__.split("Exit codes", 1)[1].join(["Exit codes", ""]) if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    chat = sub.add_parser("chat", help="stream an answer (interactive without a prompt)")
    chat.add_argument("prompt", nargs="?")
    chat.add_argument("--model", default="glm-4.7-flash")
    chat.add_argument(
        "--thinking",
        dest="thinking",
        action="store_true",
        default=None,
        help="ask the model to think (default: the model's own default)",
    )
    chat.add_argument("--no-thinking", dest="thinking", action="store_false")
    chat.add_argument(
        "--reasoning-effort",
        metavar="LEVEL",
        help="how much to reason, on models that take it (glm-5.3-flash: low, high, max; "
        "see 'zhipu-flash models')",
    )
    chat.add_argument("--no-reasoning", action="store_true", help="hide the reasoning")
    chat.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="PATH|URL",
        help="attach an image (repeatable; needs a vision model)",
    )
    chat.add_argument("--via", choices=list(BACKENDS), default="core")
    chat.add_argument(
        "--offline", action="store_true", help="replay a recorded answer instead of calling the API"
    )
    sub.add_parser("models", help="list the model catalog")
    sub.add_parser("demo", help="the README's main job")
    return parser


def _exit_code(exc: ZhipuError) -> int:
    if isinstance(exc, InvalidRequestInputError):
        return 2
    if isinstance(exc, AuthenticationError):
        return 3
    if isinstance(exc, QuotaExceededError):
        return 4
    if isinstance(exc, RateLimitError):
        return 5
    if isinstance(exc, APIConnectionError):
        return 6
    return 1


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    args = _parser().parse_args(argv)
    try:
        if args.command == "models":
            return _models(stream)
        if args.command == "demo":
            return _demo(stream)
        if (
            args.image
            and get_model_info(args.model).known
            and not get_model_info(args.model).vision
        ):
            raise InvalidRequestInputError(
                f"{args.model} is text-only; use --model glm-4.6v-flash for --image."
            )
        return _chat(args, stream)
    except ZhipuError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return _exit_code(exc)
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
