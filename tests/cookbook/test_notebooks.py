"""The cookbook's notebooks run top to bottom offline, on their recorded answers, as in CI.

Each notebook is executed in a fresh ``python3`` kernel (this interpreter) with the variables
that would make it live removed, so ``zhipu_flash.testing.recorded()`` replays the files in
``cookbook/recordings/<notebook stem>/``. Re-record with ``python cookbook/record.py``.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

COOKBOOK = Path(__file__).resolve().parents[2] / "cookbook"
NOTEBOOKS = sorted(COOKBOOK.glob("[0-9][0-9]_*.ipynb"))
LIVE_ENV_VARS = ("ZHIPUAI_API_KEY", "ZAI_API_KEY", "ZHIPUAI_BASE_URL", "ZHIPU_FLASH_RECORD")
CELL_TIMEOUT = 60
#: Local paths, and strings shaped like a Zhipu key (<32 hex>.<16 characters>) or its header.
FORBIDDEN = re.compile(
    r"/(?:work|tmp|root|home|Users)/|Bearer\s|[0-9a-f]{32}\.[0-9A-Za-z]{16}|ZHIPUAI_API_KEY="
)


def outputs(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [output for cell in nb.cells for output in cell.get("outputs", [])]


def output_text(output: nbformat.NotebookNode) -> str:
    parts = [output.get("text", ""), *map(str, output.get("data", {}).values())]
    return "\n".join([*parts, *output.get("traceback", [])])


def check_clean(nb: nbformat.NotebookNode) -> None:
    """Replayed, complete, and free of errors, warnings, paths and secrets."""
    found = outputs(nb)
    assert found, "the notebook has no outputs"
    assert output_text(found[0]).startswith("OFFLINE REPLAY"), output_text(found[0])
    for output in found:
        text = output_text(output)
        assert output["output_type"] != "error", text
        # A warning or log line in a notebook is noise for readers (and often a path).
        assert output.get("name") != "stderr", text
        match = FORBIDDEN.search(text)
        assert match is None, f"an output contains {match.group(0)!r}"


def test_there_are_notebooks() -> None:
    assert len(NOTEBOOKS) == 9


def test_the_python3_kernel_is_this_interpreter() -> None:
    # jupyter_client runs a kernelspec's "python" as sys.executable, so the notebooks see the
    # packages (and the working-tree code) this test suite sees.
    command = KernelManager(kernel_name="python3").format_kernel_cmd()
    assert Path(command[0]).resolve() == Path(sys.executable).resolve()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_offline(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if k not in LIVE_ENV_VARS}
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(COOKBOOK)}},
    )
    client.execute(env=env)  # raises CellExecutionError, naming the cell, on the first error
    check_clean(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_come_from_a_clean_replay(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code), "run it with cookbook/record.py"
    check_clean(nb)
    # Streamed text is saved merged: one stdout output per cell, not one per token (which
    # nbconvert, nbviewer and GitHub render one token per line).
    for cell in code:
        names = [o["name"] for o in cell.get("outputs", []) if o["output_type"] == "stream"]
        assert len(names) == len(set(names)), f"cell {cell.get('id')}: {len(names)} streams"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_recordings_say_where_they_came_from(path: Path) -> None:
    folder = COOKBOOK / "recordings" / path.stem
    files = sorted(folder.iterdir())
    assert files, f"no recordings in {folder.name}/"
    for file in files:
        text = file.read_text(encoding="utf-8")
        assert text.startswith("# SOURCE: "), file.name
        assert "Bearer" not in text
        assert FORBIDDEN.search(text) is None, file.name


def test_error_samples_keep_their_provenance() -> None:
    for file in sorted((COOKBOOK / "assets" / "errors").iterdir()):
        text = file.read_text(encoding="utf-8")
        assert text.startswith("# SOURCE: "), file.name
        assert "# status: " in text and "# COPIED: tests/fixtures/wire/" in text, file.name
