"""Every Python snippet in README.md runs, against the local GLM emulator (loopback), and
CONTRIBUTING.md's re-record command line is accepted."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from glm_emulator.server import running_emulator

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
SNIPPETS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_the_quickstarts_and_the_replay_example() -> None:
    assert len(SNIPPETS) == 5  # three quickstarts, retrieval, the replay example
    quickstarts, replay = SNIPPETS[:3], SNIPPETS[-1]
    assert all(len(s.strip().splitlines()) <= 15 for s in quickstarts)
    assert len(replay.strip().splitlines()) <= 12


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
@pytest.mark.usefixtures("close_default_loop")  # the LlamaIndex quickstart (asyncio_run)
def test_snippet_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    with running_emulator() as base_url:
        monkeypatch.setenv("ZHIPUAI_BASE_URL", base_url)
        monkeypatch.setenv("ZHIPUAI_API_KEY", "readme.key")
        with contextlib.redirect_stdout(out):
            exec(compile(SNIPPETS[index], f"README snippet {index}", "exec"), {})  # noqa: S102
    text = out.getvalue()
    assert text.strip(), "the snippet printed nothing"
    if index == 0:  # LangChain: the reasoning block comes first
        assert "Blocks: ['reasoning', 'text']" in text
    # Reasoning and answer are printed apart, never run together on one line.
    if "Reasoning:" in text:
        assert any(line.startswith("Reasoning:") for line in text.splitlines())


def test_readme_extras_exist() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    extras = re.findall(r"pip install \"zhipu-flash\[([a-z-]+)\]\"", README)
    assert set(extras) == {"langchain", "llama-index", "all", "redis"}
    for extra in extras:
        assert re.search(rf"^{re.escape(extra)} = \[", pyproject, re.M), extra


def test_the_re_record_command_line_is_accepted() -> None:
    # The live run needs a key; everything else in the command (the options, the path form)
    # is checked here on a module whose selected test uses no cassette.
    contributing = (Path(__file__).resolve().parents[2] / "CONTRIBUTING.md").read_text("utf-8")
    line = next(x for x in contributing.splitlines() if "--force-enable-socket" in x)
    argv = line.split("python -m pytest", 1)[1].split()
    argv = [a if a != "tests/<module>.py" else "tests/unit/test_core_cassettes.py" for a in argv]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *argv, "-q", "-k", "credential", "-p", "no:randomly"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout
