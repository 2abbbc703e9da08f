"""The ``zhipu-flash`` command: try a GLM model from a terminal.

    zhipu-flash chat "Why is the sky blue?"            stream an answer, reasoning dimmed
    zhipu-flash chat --no-reasoning --model glm-4-flash-250414 "Hi"
    zhipu-flash chat --model glm-5.3-flash --reasoning-effort low "Hi"
    zhipu-flash chat --image photo.png --model glm-4.6v-flash "What is this?"
    zhipu-flash chat --via langchain "Hi"              the same through ChatZhipuFlash
    zhipu-flash chat                                   interactive: one line per turn
    zhipu-flash models                                 the catalog with capabilities
    zhipu-flash demo                                   the README's main job
    zhipu-flash --version

Interactive chat: Ctrl-C stops the answer being printed and returns to the prompt; Ctrl-D or
/exit ends the chat; Up and Down recall earlier lines where Python has readline.
``--image`` takes an http(s) URL or a local file, which is read because you named it.

Exit codes (for scripts): 0 success, 1 other API error, 2 bad usage or input, 3 no key or the
key was refused, 4 no balance or quota, 5 rate limited after retries, 6 network failure or
timeout, 130 interrupted, 141 output pipe closed. Expected failures print one line, never a
traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

from . import (
    API_KEY_ENV_VARS,
    BASE_URL_ENV_VAR,
    MODELS,
    ZAI_BASE_URL,
    APIConnectionError,
    AuthenticationError,
    InvalidRequestInputError,
    QuotaExceededError,
    RateLimitError,
    ZhipuClient,
    ZhipuError,
    __version__,
    api_key_from_env,
    get_model_info,
    image_part,
)
from ._constants import DEFAULT_BASE_URL
from ._request import check_media_input
from .models import EMBEDDING_MODELS, RERANK_MODELS
from .testing import Replay, builtin_recording

__all__ = ["BACKEND_GROUP", "Backend", "ChatOptions", "Pieces", "main"]

#: The entry-point group through which installed packages add ``--via`` backends. An entry
#: point's name is its ``--via`` value and the extra that installs its framework
#: (``pip install 'zhipu-flash[NAME]'``); it loads a :data:`Backend`, only when chosen. The
#: adapters declare theirs in pyproject.toml, so this module names none of them.
BACKEND_GROUP = "zhipu_flash.cli_backends"
#: The backend built in: the core client itself.
CORE = "core"


@dataclass(frozen=True)
class ChatOptions:
    """What a backend needs besides the conversation."""

    model: str
    thinking: bool | None = None
    reasoning_effort: str | None = None
    #: ``--offline``: the replay's client (answers come from a recording), else None.
    http_client: httpx.Client | None = None

    def client_kwargs(self) -> dict[str, Any]:
        """What a client (core or framework model) needs to answer from the replay: the
        replay's ``http_client`` and a placeholder key; nothing for a live call."""
        if self.http_client is None:
            return {}
        return {"http_client": self.http_client, "api_key": "replay"}


#: What a backend yields: (kind, text) pieces, kind "reasoning" or "answer".
Pieces = Iterator[tuple[str, str]]
#: A backend streams one answer to the conversation: ``backend(messages, options)``.
Backend = Callable[[list[dict[str, Any]], ChatOptions], Pieces]

DEMO_RECORDING = "glm-4.5_stream_reasoning_usage_cached_nuvin_REPAIRED.sse"
#: The model and prompt DEMO_RECORDING answers; --offline replays it whatever is asked.
DEMO_MODEL = "glm-4.5"
DEMO_PROMPT = "hi"
#: Typed at the interactive prompt, these end the chat (as Ctrl-D does).
EXIT_COMMANDS = ("/exit", "/quit")


class _Style:
    def __init__(self, out: TextIO) -> None:
        color = out.isatty() and not os.environ.get("NO_COLOR")
        self.dim = "\x1b[2m" if color else ""
        self.reset = "\x1b[0m" if color else ""
        self.color = color


def _has_key() -> bool:
    return api_key_from_env() is not None


def _key_problem() -> str | None:
    """Why no usable key is configured (None when one is). A blank variable is named: it is a
    key problem, not the network failure httpx would report for "Bearer "."""
    if _has_key():
        return None
    blank = [name for name in API_KEY_ENV_VARS if name in os.environ]
    if blank:
        return (
            f"{blank[0]} is set but blank: put your API key in it, or add --offline to replay "
            "a recorded answer."
        )
    return (
        "No API key: set ZHIPUAI_API_KEY (or ZAI_API_KEY), or add --offline to replay a "
        "recorded answer."
    )


def _where() -> str:
    """Which server a live run talks to, for banners: a custom base URL is always shown."""
    base = (os.environ.get(BASE_URL_ENV_VAR) or DEFAULT_BASE_URL).rstrip("/")
    if base == DEFAULT_BASE_URL:
        return "the Zhipu API (open.bigmodel.cn)"
    if base == ZAI_BASE_URL:
        return "the Z.ai API (api.z.ai)"
    local = urlsplit(base).hostname in ("127.0.0.1", "localhost", "::1")
    return f"{base} ({BASE_URL_ENV_VAR}{'; a local server' if local else ''})"


def _replay(args: argparse.Namespace) -> Replay | None:
    if not args.offline:
        return None
    return Replay([builtin_recording(DEMO_RECORDING)], repeat=True, delay=0.005)


def _options(args: argparse.Namespace) -> ChatOptions:
    replay = _replay(args)
    return ChatOptions(
        model=args.model,
        thinking=args.thinking,
        reasoning_effort=args.reasoning_effort,
        http_client=replay.http_client() if replay is not None else None,
    )


def _core(messages: list[dict[str, Any]], options: ChatOptions) -> Pieces:
    with (
        ZhipuClient(**options.client_kwargs()) as client,
        client.stream(
            model=options.model,
            messages=messages,
            thinking=options.thinking,
            reasoning_effort=options.reasoning_effort,
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


#: The built-in backends; the others come from :data:`BACKEND_GROUP`.
BACKENDS: dict[str, Backend] = {CORE: _core}


class _UsageError(Exception):
    pass


def _declared_backends() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=BACKEND_GROUP) if ep.name not in BACKENDS}


def _via_choices() -> list[str]:
    return [*BACKENDS, *sorted(_declared_backends())]


def _backend(name: str) -> Backend:
    """The backend ``--via name`` chose, loaded now: a framework is imported only when used."""
    if name in BACKENDS:
        return BACKENDS[name]
    entry_point = _declared_backends()[name]
    try:
        backend: Backend = entry_point.load()
    except ImportError as exc:
        dist = entry_point.dist.name if entry_point.dist is not None else "zhipu-flash"
        raise _UsageError(
            f"--via {name} needs a framework that is not installed ({exc}). Install it with: "
            f"pip install '{dist}[{name}]'"
        ) from exc
    return backend


def _image(arg: str) -> dict[str, Any]:
    """An ``--image`` argument as a content part: a URL as given; anything else is a local
    file, read because the user named it on the command line (a string in a message never
    is)."""
    if arg.startswith(("http://", "https://", "data:")):
        return dict(image_part(arg))
    return dict(image_part(Path(arg).expanduser()))


def _user_message(prompt: str, images: Sequence[dict[str, Any]]) -> dict[str, Any]:
    if not images:
        return {"role": "user", "content": prompt}
    return {"role": "user", "content": [*images, {"type": "text", "text": prompt}]}


def _render(
    pieces: Pieces, args: argparse.Namespace, out: TextIO, answer: list[str] | None = None
) -> str:
    """Print reasoning (dimmed, or not at all) apart from the answer; return the answer.

    ``answer`` collects the answer's pieces as they are printed, so a caller that is
    interrupted (Ctrl-C) still has what the user saw."""
    style = _Style(out)
    section = ""
    answer = [] if answer is None else answer
    try:
        for kind, text in pieces:
            if kind == "reasoning":
                if args.no_reasoning:
                    continue
                if section != "reasoning":
                    section = "reasoning"
                    out.write(style.dim + ("" if style.color else "[reasoning] "))
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
    finally:
        # Also on Ctrl-C or an error: close the stream (and its HTTP response) now, and never
        # leave the terminal dim for the shell prompt and everything after it.
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
        if section == "reasoning":
            out.write(style.reset)
        out.flush()
    out.write("\n")
    return "".join(answer)


def _chat(args: argparse.Namespace, out: TextIO) -> int:
    backend = _backend(args.via)
    images = [_image(arg) for arg in args.image]  # a missing file is named before anything else
    problem = None if args.offline else _key_problem()
    if problem:
        raise AuthenticationError(problem)
    if args.offline:
        print(
            f"OFFLINE REPLAY: not the live API. The answer is a real {DEMO_MODEL} "
            f"stream recorded by a third party for the prompt {DEMO_PROMPT!r}, replayed "
            "whatever you ask; set ZHIPUAI_API_KEY for a live answer.",
            file=out,
        )
    messages: list[dict[str, Any]] = []
    if args.prompt is not None:
        messages.append(_user_message(args.prompt, images))
        _render(backend(messages, _options(args)), args, out)
        return 0
    return _interactive(backend, args, out, images)


def _interactive(
    backend: Backend, args: argparse.Namespace, out: TextIO, images: list[dict[str, Any]]
) -> int:
    """One line per turn until Ctrl-D or /exit; Ctrl-C stops only the answer in progress."""
    _enable_line_editing()
    where = "" if args.offline else f" at {_where()}"
    print(
        f"{args.model} via {args.via}{where}. Ctrl-C stops an answer; Ctrl-D or /exit ends "
        "the chat.",
        file=out,
    )
    messages: list[dict[str, Any]] = []
    while True:
        try:
            line = input("> ")
        except EOFError:
            out.write("\n")  # Ctrl-D leaves the cursor after "> ": the shell prompt needs a line
            return 0
        except KeyboardInterrupt:
            out.write("\n(Ctrl-D or /exit ends the chat)\n")
            continue
        if not line.strip():
            continue
        if line.strip() in EXIT_COMMANDS:
            return 0
        messages.append(_user_message(line, images))
        shown: list[str] = []
        try:
            _render(backend(messages, _options(args)), args, out, shown)
        except KeyboardInterrupt:
            out.write("\n(answer stopped)\n")
            if not shown:  # nothing to keep: the question is asked again next time, images too
                messages.pop()
                continue
        images = []  # an image belongs to the turn it was given with
        messages.append({"role": "assistant", "content": "".join(shown)})


def _enable_line_editing() -> None:
    """Line editing and Up/Down history for input(): importing readline (GNU readline or
    libedit; absent on Windows) is what turns them on."""
    if sys.stdin.isatty():
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401


def _tokens(n: int) -> str:
    """A token count as the vendor writes it: 1M, 128K (131072), 200K (200000)."""
    if n % 1_000_000 == 0 or n % 1_048_576 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}K" if n % 1000 == 0 else f"{n // 1024}K"


def _mark(info: Any, fact: str, text: str) -> str:
    """``text`` with "?" when no vendor page confirms ``fact`` (``ModelInfo.unverified``)."""
    return f"{text}?" if fact in info.unverified else text


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
                _mark(info, "context_window", _tokens(info.context_window)),
                _mark(info, "max_output_tokens", _tokens(info.max_output_tokens)),
                _mark(info, "thinking", info.thinking),
                _mark(info, "reasoning_efforts", efforts or "-"),
                _mark(info, "vision", vision),
                "yes" if info.tools else "-",
                "free" if info.free else "",
            )
        )
    _table(rows, out)
    free = [name for name, info in MODELS.items() if info.free]  # the same test as the column
    print(
        "\nthinking: toggle (on/off), forced (always thinks; thinking=False is refused), none."
        "\neffort: the reasoning_effort values a model takes (* its default); others are "
        "refused.\n?: unverified (no vendor page confirms it): shown, nothing is refused on it.",
        file=out,
    )
    print(
        f"\nFree of charge: {', '.join(free)}. Unknown names are sent as given, with default "
        "limits.",
        file=out,
    )
    _retrieval_models(out)
    return 0


def _retrieval_models(out: TextIO) -> None:
    """The embedding and rerank catalogs (all paid), with the limits the clients enforce."""
    print(
        "\nEmbedding models (paid; client.embed, ZhipuFlashEmbeddings, ZhipuFlashEmbedding):",
        file=out,
    )
    rows = [("model", "dimensions", "default", "inputs/request", "tokens/input", "tokens/request")]
    for name, embedding in EMBEDDING_MODELS.items():
        budget = embedding.max_tokens_per_request
        rows.append(
            (
                name,
                "|".join(str(d) for d in embedding.dimensions),
                str(embedding.default_dimensions),
                str(embedding.max_inputs_per_request),
                str(embedding.max_tokens_per_input),
                _tokens(budget) if budget is not None else "-",
            )
        )
    _table(rows, out)
    print("\nRerank models (paid; client.rerank, ZhipuFlashRerank):", file=out)
    _table(
        [
            ("model", "documents/request", "characters/text"),
            *((name, str(r.max_documents), str(r.max_chars)) for name, r in RERANK_MODELS.items()),
        ],
        out,
    )


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out
        )


def _demo(out: TextIO) -> int:
    """The README's main job: one answer through the core and every installed backend (the
    LangChain and LlamaIndex adapters)."""
    live = _has_key()
    if live:
        print(
            f"LIVE: glm-4.7-flash via {_where()}, through the core, LangChain and LlamaIndex.",
            file=out,
        )
    else:
        print(
            "OFFLINE REPLAY: no ZHIPUAI_API_KEY or ZAI_API_KEY set, so this replays a real "
            f"glm-4.5 stream recorded by a third party (prompt {DEMO_PROMPT!r}); set a key for a "
            "live answer.",
            file=out,
        )
    prompt = "In one sentence: why is the sky blue?" if live else DEMO_PROMPT
    code = 0
    for via in _via_choices():
        args = _parser().parse_args(
            [
                "chat",
                "--via",
                via,
                "--model",
                "glm-4.7-flash" if live else DEMO_MODEL,
                *([] if live else ["--offline"]),
                prompt,
            ]
        )
        print(f"\n== {via} ==", file=out)
        try:
            _render(_backend(via)([_user_message(prompt, [])], _options(args)), args, out)
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    chat = sub.add_parser(
        "chat",
        help="stream an answer (interactive without a prompt)",
        description="Stream an answer to the prompt. Without one, an interactive chat: Ctrl-C "
        "stops the answer being printed, Ctrl-D or /exit ends the chat.",
    )
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
        help="attach an image: a URL or a local file (repeatable; needs a vision model)",
    )
    chat.add_argument("--via", choices=_via_choices(), default=CORE)
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


#: What Zhipu's business codes mean, in English, and what to do next. The API's own message is
#: often Chinese only (1211: "模型不存在，请检查模型代码。"). docs/glm-api.md §8.2 lists the codes.
_CODE_HINTS: dict[str, str] = {
    **dict.fromkeys(
        ("1000", "1001", "1002", "1004"),
        "The API key was refused. Check ZHIPUAI_API_KEY (or ZAI_API_KEY); keys from "
        "open.bigmodel.cn and z.ai belong to different accounts, so set ZHIPUAI_BASE_URL to "
        "the platform that issued yours.",
    ),
    "1003": "The API key has expired. Create a new one at open.bigmodel.cn (or z.ai).",
    **dict.fromkeys(
        ("1110", "1111", "1112", "1121"),
        "The account is inactive or locked. Check it in the platform's console.",
    ),
    "1113": "The account has no balance or resource package for this model. Top up, or use a "
    "free model (`zhipu-flash models` marks them).",
    "1210": "The API refused a parameter of the request. Check --model and the options given.",
    "1211": "{model} is not a model the API knows. `zhipu-flash models` lists the names.",
    "1220": "This key has no permission for the API. Check the key's permissions.",
    "1261": "The conversation is longer than the model's context window. Start a new chat, or "
    "pick a model with a larger window (`zhipu-flash models`).",
    **dict.fromkeys(
        ("1300", "1301"),
        "The API's content filter blocked the prompt or the answer. Rephrase the prompt.",
    ),
    **dict.fromkeys(
        ("1302", "1303"),
        "Too many requests at once, or too fast, for this account. Wait a little and retry.",
    ),
    "1304": "The daily call limit for this model is reached; it resets tomorrow.",
    **dict.fromkeys(
        ("1305", "1312"),
        "The model is overloaded on Zhipu's side. Retry later, or pick another model "
        "(`zhipu-flash models`).",
    ),
    **dict.fromkeys(
        ("1308", "1310"),
        "Your plan's usage limit is reached; the message above says when it resets.",
    ),
    "1309": "Your Coding Plan has expired. Renew it, or use a key with pay-as-you-go balance.",
    "1311": "Your plan does not include this model. Pick another (`zhipu-flash models`).",
}


def _hint(exc: ZhipuError, args: argparse.Namespace) -> str | None:
    """An English explanation and the next step for a known business code."""
    hint = _CODE_HINTS.get(exc.code or "")
    if hint is None:
        return None
    model = getattr(args, "model", None)
    return hint.replace("{model}", repr(model) if model else "The model")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    args = _parser().parse_args(argv)
    try:
        if args.command == "models":
            return _models(stream)
        if args.command == "demo":
            return _demo(stream)
        if args.image:  # before any file is read
            check_media_input(get_model_info(args.model), "image_url")
        return _chat(args, stream)
    except ZhipuError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        hint = _hint(exc, args)
        if hint:
            print(f"hint: {hint}", file=sys.stderr)
        return _exit_code(exc)
    except _UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`zhipu-flash models | head -3`): stop quietly, as Unix tools do, and
        # point stdout at devnull so the interpreter's final flush cannot fail again.
        if stream is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the signal


if __name__ == "__main__":
    sys.exit(main())
