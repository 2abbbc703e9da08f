"""What the built distributions hold, and metadata that reads right on PyPI.

The sdist and the wheel are built from this tree with ``python -m build --no-isolation`` (the
build backend comes with the test extra, so no network is needed), as a release would build
them: the wheel from the unpacked sdist. The wheel holds the four import packages, their data
and the license; the sdist adds the test suite and everything it reads (pyproject.toml says
why), so that pytest passes in an unpacked sdist (``bash .ci/sdist`` runs it there).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

import zhipu_flash

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "https://github.com/zhipu-flash/zhipu-flash"
PACKAGES = ("zhipu_flash", "langchain_zhipu_flash", "llama_index_zhipu_flash")
#: Never shipped: caches, environments, local state, and what is not part of the tests.
JUNK = re.compile(r"__pycache__|\.pyc$|(^|/)\.venv|\.ipynb_checkpoints|/READY$|^benchmarks/")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def sdist_files(dist: Path) -> list[str]:
    (archive,) = dist.glob("*.tar.gz")
    prefix = f"zhipu_flash-{zhipu_flash.__version__}/"
    with tarfile.open(archive) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile()]
    assert all(name.startswith(prefix) for name in names)
    return [name[len(prefix) :] for name in names]


def wheel(dist: Path) -> zipfile.ZipFile:
    (path,) = dist.glob("*.whl")
    return zipfile.ZipFile(path)


def test_the_wheel_is_the_packages_and_the_license(dist: Path) -> None:
    info = f"zhipu_flash-{zhipu_flash.__version__}.dist-info"
    with wheel(dist) as whl:
        names = whl.namelist()
        assert whl.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {*PACKAGES, "llama_index", info}
    for package in PACKAGES:
        assert f"{package}/py.typed" in names
    # The LlamaIndex import path is a namespace package: an __init__.py in llama_index/ or
    # llama_index/llms/ would shadow llama-index-core's own.
    assert "llama_index/llms/zhipu_flash/__init__.py" in names
    assert not {"llama_index/__init__.py", "llama_index/llms/__init__.py"} & set(names)
    assert "zhipu_flash/testing/recordings/README.md" in names  # the demo's replay data
    recordings = [n for n in names if n.startswith("zhipu_flash/testing/recordings/")]
    assert any(n.endswith(".sse") for n in recordings)
    assert "zhipu-flash = zhipu_flash.cli:main" in entry_points
    # The CLI finds the adapters' backends, and pytest the replay fixture, through these.
    assert "[zhipu_flash.cli_backends]" in entry_points
    assert "langchain = langchain_zhipu_flash._cli:chat" in entry_points
    assert "llama-index = llama_index_zhipu_flash._cli:chat" in entry_points
    assert "[pytest11]" in entry_points
    assert "zhipu_flash.testing.pytest_plugin = zhipu_flash.testing.pytest_plugin" in entry_points
    assert not [name for name in names if JUNK.search(name)]


def test_the_sdist_holds_the_tests_and_what_they_read(dist: Path) -> None:
    files = sdist_files(dist)
    tops = {name.split("/", 1)[0] for name in files}
    assert tops == {
        *PACKAGES,
        "llama_index",
        "tests",
        "glm_emulator",
        "cookbook",
        "docs",
        ".ci",
        ".gitignore",
        "LICENSE",
        "PKG-INFO",
        "README.md",
        "CONTRIBUTING.md",
        "RELIABILITY.md",
        "pyproject.toml",
    }
    shipped = set(files)
    for needed in (
        ".ci/constraints.txt",  # README's test command installs with it
        ".ci/run",  # test_project checks README's command against it
        "CONTRIBUTING.md",  # test_readme checks its re-record command
        "docs/glm-api.md",  # what the code, the fixtures and the emulator cite
        "tests/conftest.py",
        "glm_emulator/server.py",  # the tests run against it
        "glm_emulator/tests/test_emulator.py",
        "tests/fixtures/picture.png",
        "cookbook/assets/errors/1113_no_balance.json",
    ):
        assert needed in shipped, needed
    notebooks = sorted(p.name for p in (ROOT / "cookbook").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks and all(f"cookbook/{name}" in shipped for name in notebooks)
    for notebook in notebooks:
        stem = notebook.removesuffix(".ipynb")
        assert any(f.startswith(f"cookbook/recordings/{stem}/") for f in files), stem
    assert any(f.startswith("tests/cassettes/") for f in files)
    assert not [name for name in files if JUNK.search(name)]


def test_metadata_links_license_and_pythons(dist: Path) -> None:
    info = f"zhipu_flash-{zhipu_flash.__version__}.dist-info"
    with wheel(dist) as whl:
        metadata = Parser().parsestr(whl.read(f"{info}/METADATA").decode())
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    urls = dict(url.split(", ", 1) for url in metadata.get_all("Project-URL"))
    assert urls["Repository"] == REPOSITORY
    assert urls["Issues"] == f"{REPOSITORY}/issues"
    assert metadata["Requires-Python"] == ">=3.10"
    pythons = {
        c.rsplit(" :: ", 1)[1]
        for c in metadata.get_all("Classifier")
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    }
    assert pythons == {"3.10", "3.11", "3.12", "3.13"}


def test_readme_links_work_where_pypi_shows_it() -> None:
    # PyPI renders README.md as the project description, where a relative link points
    # nowhere: every link is absolute (or an anchor on the same page).
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    assert targets
    relative = [t for t in targets if not t.startswith(("https://", "http://", "#"))]
    assert relative == []
    for target in targets:
        if target.startswith(f"{REPOSITORY}/blob/main/"):
            path = target.removeprefix(f"{REPOSITORY}/blob/main/").split("#", 1)[0]
            assert (ROOT / path).exists(), target
