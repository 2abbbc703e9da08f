"""Every Python snippet in README.md runs, against the local GLM emulator (loopback)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from tests.emulator.server import running_emulator

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
SNIPPETS = re.findall(r"```python\n(.*?)```", README, re.S)


def test_readme_has_the_quickstarts_and_the_replay_example() -> None:
    assert len(SNIPPETS) == 4
    quickstarts, replay = SNIPPETS[:3], SNIPPETS[3]
    assert all(len(s.strip().splitlines()) <= 15 for s in quickstarts)
    assert len(replay.strip().splitlines()) <= 12


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_snippet_runs(index: int, monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    with running_emulator() as base_url:
        monkeypatch.setenv("ZHIPUAI_BASE_URL", base_url)
        monkeypatch.setenv("ZHIPUAI_API_KEY", "readme.key")
        with contextlib.redirect_stdout(out):
            exec(compile(SNIPPETS[index], f"README snippet {index}", "exec"), {})  # noqa: S102
    text = out.getvalue()
    assert text.strip(), "the snippet printed nothing"
    if index == 1:
        assert "['reasoning', 'text']" in text and "'setup'" in text


def test_readme_extras_exist() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    for extra in re.findall(r"pip install -e '\.\[([a-z-]+)\]'", README):
        assert re.search(rf"^{re.escape(extra)} = \[", pyproject, re.M), extra
