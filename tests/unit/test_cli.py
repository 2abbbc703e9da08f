"""The zhipu-flash command: output, offline replay through each surface, exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.wire import FIXTURES
from zhipu_flash import cli
from zhipu_flash.testing import Recording, Replay


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
    lines = iter(["hi", "again", ""])
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
