"""Project-level promises: import boundaries, shipped data, README's commands."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.wire import FIXTURES

ROOT = Path(__file__).resolve().parents[2]


def test_core_imports_no_framework() -> None:
    code = (
        "import sys, zhipu_flash, zhipu_flash.models, zhipu_flash.multimodal, zhipu_flash.testing;"
        "bad = [m for m in sys.modules if m.startswith(('langchain', 'llama_index'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_source_never_imports_the_frameworks() -> None:
    # Docstrings may show adapter examples; only real import statements count, lazy ones too.
    for path in (ROOT / "zhipu_flash").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(("langchain", "llama_index")), f"{path}: {name}"


def test_the_package_face_is_what_a_user_needs() -> None:
    # At most 40 names; the rest is importable from the public modules (zhipu_flash.types,
    # .models, .multimodal, .model_clients, .testing) or, for tests, the internal ones.
    import inspect

    import zhipu_flash

    assert len(zhipu_flash.__all__) <= 40
    assert all(hasattr(zhipu_flash, name) for name in zhipu_flash.__all__)
    exposed = {
        name
        for name, value in vars(zhipu_flash).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert exposed == set(zhipu_flash.__all__) - {"__version__"}


def test_every_package_is_typed() -> None:
    for package in ("zhipu_flash", "langchain_zhipu_flash", "llama_index_zhipu_flash"):
        assert (ROOT / package / "py.typed").exists(), package


def test_shipped_recording_is_a_wire_sample() -> None:
    for path in (ROOT / "zhipu_flash" / "testing" / "recordings").glob("*.sse"):
        assert path.read_bytes() == (FIXTURES / path.name).read_bytes()


def test_readme_ends_with_the_two_commands_ci_runs() -> None:
    # README opens for users (install, key, quickstarts); the checkout commands close it.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", readme, re.S)
    assert blocks[0].strip().startswith('pip install "zhipu-flash[langchain]"')
    first, second = blocks[-2].strip(), blocks[-1].strip()
    assert "pip install" in first and first.endswith("python -m zhipu_flash")
    assert "pip install -c .ci/constraints.txt -e '.[test]'" in second
    assert second.endswith("python -m pytest -q")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -q" in ci
    assert "lock=.ci/constraints.txt" in ci and '-c "$lock"' in ci and "-e '.[test]'" in ci


def test_the_lock_pins_every_requirement_of_the_project() -> None:
    # The lock is uv's full resolution of pyproject.toml, so every package below a pinned one is
    # pinned too; what can go stale is the top: a requirement added to pyproject.toml without
    # `bash .ci/lock` would install unpinned in CI.
    from importlib.metadata import distribution

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lock = (ROOT / ".ci" / "constraints.txt").read_text(encoding="utf-8")
    pins = {
        canonicalize_name(re.split(r"[=;\s]", line, maxsplit=1)[0])
        for line in lock.splitlines()
        if line and not line.startswith((" ", "#"))
    }
    requirements = [Requirement(r) for r in distribution("zhipu-flash").requires or []]
    names = {canonicalize_name(r.name) for r in requirements} - {"zhipu-flash"}
    assert {"httpx", "pydantic", "langchain-core", "llama-index-core", "pytest"} <= names
    assert sorted(names - pins) == []
    assert {"pip", "hatchling"} <= pins  # the installer and the build backend are locked too


def test_main_command_replays_offline_and_says_so() -> None:
    env = {
        k: v
        for k, v in __import__("os").environ.items()
        if k not in ("ZHIPUAI_API_KEY", "ZAI_API_KEY")
    }
    result = subprocess.run(
        [sys.executable, "-m", "zhipu_flash"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("OFFLINE REPLAY")
    for surface in ("core", "langchain", "llama-index"):
        section = result.stdout.split(f"== {surface} ==", 1)[1].split("==", 1)[0]
        assert "[reasoning] The user just said" in section
        assert section.strip().endswith("Hi!")
