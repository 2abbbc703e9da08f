"""The zhipu-flash command: output, offline replay through each surface, exit codes."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

import zhipu_flash
from glm_emulator.server import running_emulator
from tests.conftest import PICTURE
from tests.wire import FIXTURES
from zhipu_flash import MissingAPIKeyError, ZhipuClient, api_key_from_env, cli
from zhipu_flash.testing import Recording, Replay, builtin_recording


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(list(argv), out=out)
    return code, out.getvalue()


def test_models_lists_the_catalog_flash_first() -> None:
    code, text = run("models")
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split() == [
        "model",
        "context",
        "output",
        "thinking",
        "effort",
        "vision",
        "tools",
        "free",
    ]
    assert [line.split()[0] for line in lines[1:6]] == [
        "glm-4.7-flash",
        "glm-4-flash-250414",
        "glm-4.6v-flash",
        "glm-4.1v-thinking-flash",
        "glm-4v-flash",
    ]
    assert "forced" in lines[4] and "image+video" in lines[4]
    # GLM-5.3's contract: always thinks, effort only (default marked).
    flash53 = next(line.split() for line in lines if line.startswith("glm-5.3-flash "))
    assert flash53[1:6] == ["1M", "128K", "forced", "low|high|max*", "image+video"]
    assert "glm-4.7-flash" in text and "reasoning_effort" in text


@pytest.mark.parametrize("via", ["core", "langchain", "llama-index"])
def test_offline_chat_through_each_surface(via: str) -> None:
    code, text = run("chat", "--offline", "--via", via, "--model", "glm-4.5", "hi")
    assert code == 0
    assert text.startswith("OFFLINE REPLAY")
    assert '[reasoning] The user just said "hi"' in text
    assert text.rstrip().endswith("Hi!")


@pytest.mark.parametrize("via", ["core", "langchain", "llama-index"])
def test_reasoning_effort_is_sent_through_each_surface(
    via: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    replay = Replay.from_files(
        [FIXTURES.parent / "glm_shaped" / "glm-5.3-flash_stream_effort_low.sse"], repeat=True
    )
    monkeypatch.setattr(cli, "_replay", lambda args: replay)
    argv = ["chat", "--offline", "--via", via, "--model", "glm-5.3-flash"]
    code, text = run(*argv, "--reasoning-effort", "low", "2+2?")
    assert code == 0 and text.rstrip().endswith("2 + 2 = 4.")
    assert json.loads(replay.requests[0].content)["reasoning_effort"] == "low"


@pytest.mark.parametrize("via", ["core", "langchain", "llama-index"])
def test_an_effort_the_model_does_not_take_is_exit_2(
    via: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["chat", "--offline", "--via", via, "--model", "glm-5.3-flash"]
    assert run(*argv, "--reasoning-effort", "medium", "hi")[0] == 2
    err = capsys.readouterr().err
    assert "'low', 'high' or 'max'" in err and "Traceback" not in err
    assert run(*argv, "--no-thinking", "hi")[0] == 2
    assert "reasoning_effort='low'" in capsys.readouterr().err


def test_no_reasoning_hides_it() -> None:
    code, text = run("chat", "--offline", "--no-reasoning", "--model", "glm-4.5", "hi")
    assert code == 0 and "reasoning" not in text.split("\n", 1)[1] and text.rstrip().endswith("Hi!")


def test_missing_key_is_exit_3_with_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    code, _ = run("chat", "hi")
    assert code == 3
    err = capsys.readouterr().err
    assert "ZHIPUAI_API_KEY" in err and "Traceback" not in err


def test_image_with_a_text_model_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run("chat", "--offline", "--image", "x.png", "--model", "glm-4.7-flash", "hi")
    assert code == 2
    assert "glm-4.6v-flash" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("sample", "code"),
    [
        ("error_1113_no_balance_http429_cowagent-issue-2910.json", 4),
        ("error_1305_overloaded_en_http429_test-fixture.json", 5),
        ("error_1003_token_expired_http401_zhipuai-sdk-issue-8.json", 3),
        ("error_1301_sensitive_http400_langchain4j-issue-1079.json", 1),
    ],
)
def test_api_errors_map_to_exit_codes(
    sample: str,
    code: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = sample.split("_http")[1][:3]
    recording = tmp_path / "err.json"
    recording.write_bytes(f"# status: {status}\n".encode() + (FIXTURES / sample).read_bytes())
    replay = Replay([Recording.from_file(recording)], repeat=True)
    monkeypatch.setattr(cli, "_replay", lambda args: replay)
    monkeypatch.setattr("zhipu_flash.ZhipuClient._sleep", staticmethod(lambda s: None))
    assert run("chat", "--offline", "hi")[0] == code
    err = capsys.readouterr().err
    assert err.startswith("\nerror:") and "Traceback" not in err


def test_interactive_mode_keeps_history(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = iter(["hi", "again", "/exit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    replay = Replay.from_files(
        [FIXTURES / "glm-4_stream_plain_usage_langchain-openai-tests.jsonl"], repeat=True
    )
    monkeypatch.setattr(cli, "_replay", lambda args: replay)
    code, text = run("chat", "--offline", "--model", "glm-4")
    assert code == 0
    assert text.count("人工智能助手，你可以叫我AI助手。") == 2
    second = json.loads(replay.requests[1].content)["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "user"]
    assert second[1]["content"] == "人工智能助手，你可以叫我AI助手。"


def test_interactive_mode_ends_on_eof(monkeypatch: pytest.MonkeyPatch) -> None:
    def eof(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr("builtins.input", eof)
    assert run("chat", "--offline")[0] == 0


def test_bad_usage_is_exit_2() -> None:
    with pytest.raises(SystemExit) as info:
        run("chat", "--via", "nowhere", "hi")
    assert info.value.code == 2


# --- a terminal: styles, Ctrl-C, Ctrl-D, line editing ----------------------------------------

#: A child process whose "core" backend is scripted by SCRIPT, a generator body that sees
#: ``messages``, ``calls`` (how many turns came before) and ``interrupt()`` (a real SIGINT to
#: itself, as Ctrl-C sends, at a known point of the stream).
CHILD = """
import os, signal, sys
from zhipu_flash import cli

def interrupt():
    os.kill(os.getpid(), signal.SIGINT)

calls = []

def backend(messages, args):
    calls.append(1)
{script}

cli.BACKENDS["core"] = backend
sys.exit(cli.main(sys.argv[1:]))
"""
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """The CLI in a child process on a pseudo-terminal, as a user runs it."""

    def __init__(self, script: str, *argv: str) -> None:
        import pty  # POSIX only, like the terminal behaviour under test

        body = textwrap.indent(textwrap.dedent(script).strip(), "    ")
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "ZHIPUAI_API_KEY")}
        env["TERM"] = "xterm"
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD.format(script=body), *argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self.output = b""
        self._seen = 0

    def _read(self) -> bytes:
        import select

        # A guard against a hung child, not a measure of speed.
        ready, _, _ = select.select([self.master], [], [], 60)
        if not ready:
            raise AssertionError(f"the CLI is stuck; it printed {self.output!r}")
        try:
            return os.read(self.master, 4096)
        except OSError:  # EIO: the child closed the terminal
            return b""

    def expect(self, text: bytes) -> bytes:
        """Read until ``text`` appears (after what earlier expects consumed); return the new
        output up to and including it."""
        while text not in self.output[self._seen :]:
            data = self._read()
            if not data:
                raise AssertionError(f"{text!r} never came; the CLI printed {self.output!r}")
            self.output += data
        end = self.output.index(text, self._seen) + len(text)
        new, self._seen = self.output[self._seen : end], end
        return new

    def send(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self) -> int:
        while data := self._read():
            self.output += data
        os.close(self.master)
        return self.proc.wait(timeout=60)


@pytest.fixture
def terminals() -> Iterator[list[Terminal]]:
    if sys.platform == "win32":
        pytest.skip("pseudo-terminals are POSIX only")
    started: list[Terminal] = []
    yield started
    for terminal in started:
        if terminal.proc.poll() is None:
            terminal.proc.kill()
            terminal.proc.wait()


def test_ctrl_c_while_reasoning_is_dim_resets_the_terminal(terminals: list[Terminal]) -> None:
    term = Terminal(
        """
        yield "reasoning", "Let me think"
        interrupt()
        yield "reasoning", " some more"
        """,
        "chat",
        "--offline",
        "hi",
    )
    terminals.append(term)
    assert term.finish() == 130
    dim = term.output.rindex(b"\x1b[2m")
    assert b"Let me think" in term.output[dim:]
    assert b"\x1b[0m" in term.output[dim:], term.output  # reset after the last dim
    assert term.output.rstrip().endswith(b"interrupted")


def test_ctrl_c_mid_answer_returns_to_the_prompt(terminals: list[Terminal]) -> None:
    term = Terminal(
        """
        if len(calls) == 1:
            yield "reasoning", "thinking"
            yield "answer", "The first answer is cut"
            interrupt()
            yield "answer", " never shown"
        else:
            roles = ",".join(m["role"] for m in messages)
            yield "answer", f"turn 2 sees {roles}: {messages[1]['content']}"
        """,
        "chat",
        "--offline",
    )
    terminals.append(term)
    term.expect(b"Ctrl-D or /exit ends the chat")
    term.expect(b"> ")
    term.send(b"first question\r")
    shown = term.expect(b"(answer stopped)")
    assert b"\x1b[0m" in shown[shown.rindex(b"\x1b[2m") :]  # the dim reasoning was reset
    term.expect(b"> ")
    term.send(b"second question\r")
    # What the user saw of the cut answer stays in the conversation.
    term.expect(b"turn 2 sees user,assistant,user: The first answer is cut")
    term.expect(b"> ")
    term.send(b"\x04")
    assert term.finish() == 0
    assert b"never shown" not in term.output


def test_empty_lines_do_not_end_the_chat(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = iter(["", "   ", "hi", "", "/quit"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(lines))
    code, text = run("chat", "--offline", "--model", "glm-4.5")
    assert code == 0
    assert "Ctrl-D or /exit ends the chat" in text.splitlines()[1]
    assert text.rstrip().endswith("Hi!")


def test_ctrl_d_puts_the_shell_prompt_on_a_new_line(terminals: list[Terminal]) -> None:
    term = Terminal('yield "answer", "unused"', "chat", "--offline")
    terminals.append(term)
    term.expect(b"> ")
    term.send(b"\x04")
    assert term.finish() == 0
    tail = ANSI.sub(b"", term.output[term.output.rindex(b"> ") + 2 :])
    assert tail.endswith(b"\n"), term.output


def test_up_arrow_recalls_the_last_line(terminals: list[Terminal]) -> None:
    pytest.importorskip("readline")
    term = Terminal('yield "answer", "you said: " + messages[-1]["content"]', "chat", "--offline")
    terminals.append(term)
    term.expect(b"> ")
    term.send(b"hello there\r")
    term.expect(b"you said: hello there")
    term.expect(b"> ")
    term.send(b"\x1b[A\r")  # Up, Enter: the previous line again, not "^[[A"
    term.expect(b"you said: hello there")
    term.expect(b"> ")
    term.send(b"/exit\r")
    assert term.finish() == 0


# --- keys, images, errors -------------------------------------------------------------------


@pytest.mark.parametrize("via", ["core", "langchain", "llama-index"])
def test_a_blank_key_is_a_key_problem_before_any_request(
    via: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_request(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("a request was sent")

    monkeypatch.setattr(httpx.Client, "send", no_request)
    monkeypatch.setenv("ZHIPUAI_API_KEY", "  ")
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    code, _ = run("chat", "--via", via, "hi")
    assert code == 3
    err = capsys.readouterr().err
    assert "ZHIPUAI_API_KEY is set but blank" in err and "Traceback" not in err


def test_the_core_treats_a_blank_key_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(500))
    monkeypatch.setenv("ZHIPUAI_API_KEY", " \n")
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    for key in (None, " ", "\t"):
        client = ZhipuClient(api_key=key, http_client=httpx.Client(transport=transport))
        with pytest.raises(MissingAPIKeyError, match="only whitespace"):
            client.create(model="glm-4.7-flash", messages=[{"role": "user", "content": "hi"}])
    assert sent == []
    monkeypatch.setenv("ZHIPUAI_API_KEY", "abc.def\n")  # as $(cat key.txt) leaves it
    assert api_key_from_env() == "abc.def"


def test_a_missing_image_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "holiday.png"
    code, _ = run("chat", "--offline", "--model", "glm-4.6v-flash", "--image", str(missing), "?")
    assert code == 2
    err = capsys.readouterr().err
    assert f"Image file {str(missing)!r} was not found." in err


@pytest.mark.parametrize("via", ["core", "langchain", "llama-index"])
def test_image_goes_out_through_every_surface(via: str, monkeypatch: pytest.MonkeyPatch) -> None:
    replay = Replay([builtin_recording(cli.DEMO_RECORDING)], repeat=True)
    monkeypatch.setattr(cli, "_replay", lambda args: replay)
    url = "https://example.com/cat.png"
    argv = ["--model", "glm-4.6v-flash", "--image", str(PICTURE), "--image", url, "What?"]
    code, text = run("chat", "--offline", "--via", via, *argv)
    assert code == 0 and text.rstrip().endswith("Hi!")
    parts = json.loads(replay.requests[0].content)["messages"][0]["content"]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert images == [base64.b64encode(PICTURE.read_bytes()).decode(), url]


# Simulates an install without the framework: its import fails as a missing module does.
NO_FRAMEWORK = """
import sys
from importlib.abc import MetaPathFinder

class Missing(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "langchain_core" or name.startswith("llama_index.core"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Missing())
from zhipu_flash import cli
sys.exit(cli.main(["chat", "--offline", "--via", sys.argv[1], "hi"]))
"""


@pytest.mark.parametrize("via", ["langchain", "llama-index"])
def test_a_missing_framework_gets_the_install_hint(via: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", NO_FRAMEWORK, via], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2, result.stderr
    assert f"pip install 'zhipu-flash[{via}]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_known_error_codes_are_explained(capsys: pytest.CaptureFixture[str]) -> None:
    with running_emulator() as base_url, pytest.MonkeyPatch.context() as env:
        env.setenv("ZHIPUAI_BASE_URL", base_url)
        env.setenv("ZHIPUAI_API_KEY", "emulator")
        code, _ = run("chat", "--model", "glm-9-nope", "hi")
    assert code == 1
    err = capsys.readouterr().err
    assert "模型不存在" in err  # the server's own words stay
    assert "hint: 'glm-9-nope' is not a model the API knows." in err
    assert "`zhipu-flash models`" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run("--version")
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"zhipu-flash {zhipu_flash.__version__}"


def test_models_marks_the_free_models_its_footer_names() -> None:
    _, text = run("models")
    table, _legend, footer, _embeddings, _rerank = text.split("\n\n")
    marked = {line.split()[0] for line in table.splitlines()[1:] if line.endswith("free")}
    named = set(footer.split(":", 1)[1].split(". ", 1)[0].strip().split(", "))
    assert marked == named
    assert {"glm-4.7-flash", "glm-4v-flash"} <= marked


def test_models_lists_the_embedding_and_rerank_models_with_their_limits() -> None:
    _, text = run("models")
    embeddings, rerank = text.rstrip("\n").split("\n\n")[-2:]
    assert embeddings.splitlines()[0].startswith("Embedding models (paid;")
    assert [line.split() for line in embeddings.splitlines()[1:]] == [
        ["model", "dimensions", "default", "inputs/request", "tokens/input", "tokens/request"],
        ["embedding-3", "256|512|1024|2048", "2048", "64", "3072", "-"],
        ["embedding-2", "1024", "1024", "64", "512", "8K"],
    ]
    assert rerank.splitlines()[0].startswith("Rerank models (paid;")
    assert [line.split() for line in rerank.splitlines()[1:]] == [
        ["model", "documents/request", "characters/text"],
        ["rerank", "128", "4096"],
    ]


def test_the_main_job_names_a_custom_base_url() -> None:
    with running_emulator() as base_url, pytest.MonkeyPatch.context() as env:
        env.setenv("ZHIPUAI_BASE_URL", base_url)
        env.setenv("ZHIPUAI_API_KEY", "emulator")
        code, text = run("demo")
    assert code == 0
    banner = text.splitlines()[0]
    assert banner.startswith("LIVE: glm-4.7-flash via " + base_url), banner
    assert "ZHIPUAI_BASE_URL; a local server" in banner and "Zhipu API" not in banner
    assert text.count("== ") == 3


def test_offline_chat_says_which_prompt_was_recorded() -> None:
    code, text = run("chat", "--offline", "--model", "glm-4.5", "What is 2+2?")
    assert code == 0
    banner = text.splitlines()[0]
    assert "for the prompt 'hi'" in banner and "whatever you ask" in banner


def test_ctrl_c_at_the_prompt_says_how_to_leave(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = iter([KeyboardInterrupt, EOFError])

    def typed(prompt: str = "") -> str:
        raise next(keys)

    monkeypatch.setattr("builtins.input", typed)
    code, text = run("chat", "--offline")
    assert code == 0
    assert "(Ctrl-D or /exit ends the chat)" in text


def test_a_closed_output_pipe_ends_quietly() -> None:
    # `zhipu-flash models | head -1`, with the reader gone before the first line is written.
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "wb") as sink:
        result = subprocess.run(
            [sys.executable, "-m", "zhipu_flash", "models"],
            stdout=sink,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert result.returncode == 141
    assert result.stderr == ""
