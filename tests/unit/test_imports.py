"""The import graph points one way, read from the source (every import statement, lazy ones
and ``TYPE_CHECKING`` ones included):

- adapters -> the core's public surface: ``zhipu_flash`` (names in ``__all__``) and its
  public modules (no part of the name starts with ``_``), never a private name;
- the core never imports an adapter, a framework, the emulator, the benchmark or the tests;
- inside the core, each module imports only modules before it in :data:`CORE_LAYERS`, and
  no private name (``_x``) of another module;
- one adapter never imports the other;
- nothing outside ``tests/`` imports ``tests``; the emulator uses the standard library only;
- ``import zhipu_flash`` leaves out what only some programs use (asyncio, the retrieval half,
  the shared limit), and each comes back the moment it is used.

CONTRIBUTING.md describes the same layering; a new core module goes into the table here.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import zhipu_flash

ROOT = Path(__file__).resolve().parents[2]

#: The core, bottom to top: a module may import only modules listed before it.
CORE_LAYERS: list[tuple[str, list[str]]] = [
    (
        "foundations: lazy names, constants, wire types, errors, catalog, limits, pools, retries",
        [
            "zhipu_flash._httpx",
            "zhipu_flash._lazy",
            "zhipu_flash._version",
            "zhipu_flash._constants",
            "zhipu_flash.types.response",
            "zhipu_flash.types.request",
            "zhipu_flash.types.retrieval",
            "zhipu_flash.types",
            "zhipu_flash.model_copies",
            "zhipu_flash._exceptions",
            "zhipu_flash._retrieval_models",
            "zhipu_flash.models",
            "zhipu_flash._limiter",
            "zhipu_flash._loops",
            "zhipu_flash._shared_limit",
            "zhipu_flash._transport",
            "zhipu_flash._pool",
            "zhipu_flash._retry",
        ],
    ),
    (
        "requests: images, the checked body, retrieval checks and batches, refusal hints",
        [
            "zhipu_flash.multimodal",
            "zhipu_flash._request",
            "zhipu_flash._retrieval",
            "zhipu_flash._hints",
            "zhipu_flash.web_search",
        ],
    ),
    (
        "responses: bytes to chunks to the final completion",
        [
            "zhipu_flash._markers",
            "zhipu_flash._sse",
            "zhipu_flash._accumulate",
            "zhipu_flash._fast",
            "zhipu_flash._parse",
            "zhipu_flash._stream",
        ],
    ),
    ("clients", ["zhipu_flash._client", "zhipu_flash.model_clients"]),
    (
        "offline replay",
        [
            "zhipu_flash.testing._recording",
            "zhipu_flash.testing._replay",
            "zhipu_flash.testing._recorder",
            "zhipu_flash.testing._session",
            "zhipu_flash.testing",
            "zhipu_flash.testing.pytest_plugin",
        ],
    ),
    ("the package face", ["zhipu_flash"]),
    ("the command line", ["zhipu_flash.cli", "zhipu_flash.__main__"]),
]
ORDER = [module for _, modules in CORE_LAYERS for module in modules]
ADAPTERS = ("langchain_zhipu_flash", "llama_index_zhipu_flash")
#: What each adapter must never import: the other adapter and the other's framework.
FOREIGN = {
    "langchain_zhipu_flash": ("llama_index_zhipu_flash", "llama_index"),
    "llama_index_zhipu_flash": ("langchain_zhipu_flash", "langchain", "langchain_core"),
}
#: Not the core's business: adapters, frameworks, the emulator, the benchmark, the tests.
NOT_FOR_THE_CORE = (
    *ADAPTERS,
    "langchain",
    "langchain_core",
    "llama_index",
    "glm_emulator",
    "benchmarks",
    "tests",
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def imports(path: Path) -> Iterator[tuple[str, str | None, int]]:
    """(module, imported name or None, line) for every import statement in ``path``; a
    ``from package import submodule`` counts as an import of the submodule."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                submodule = f"{target}.{alias.name}"
                if _is_module(submodule):
                    yield submodule, None, node.lineno
                else:
                    yield target, alias.name, node.lineno


def sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def _top(module: str) -> str:
    return module.split(".")[0]


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_the_layer_table_lists_every_core_module() -> None:
    assert sorted(ORDER) == sorted(module_name(p) for p in sources("zhipu_flash"))


@pytest.mark.parametrize("path", sources("zhipu_flash"), ids=module_name)
def test_the_core_imports_only_modules_below_it(path: Path) -> None:
    me = module_name(path)
    for module, name, line in imports(path):
        where = f"{path.relative_to(ROOT)}:{line} imports {module}" + (f".{name}" if name else "")
        assert not _within(module, NOT_FOR_THE_CORE), where
        if _top(module) == "zhipu_flash":
            assert module in ORDER, where
            assert ORDER.index(module) < ORDER.index(me), f"{where}, which is not below it"
            assert name is None or not name.startswith("_") or name == "__version__", where


@pytest.mark.parametrize("path", sources(*ADAPTERS, "llama_index"), ids=module_name)
def test_adapters_use_the_public_core_and_not_each_other(path: Path) -> None:
    me = module_name(path)
    adapter = _top(me) if _top(me) in ADAPTERS else "llama_index_zhipu_flash"
    aliases = set()
    for module, name, line in imports(path):
        where = f"{path.relative_to(ROOT)}:{line} imports {module}" + (f".{name}" if name else "")
        if _top(me) == "llama_index":  # the LlamaHub import path only re-exports the adapter
            assert _top(module) in ("llama_index_zhipu_flash", "__future__"), where
            continue
        assert not _within(module, FOREIGN[adapter]), where
        assert not _within(module, ("glm_emulator", "benchmarks", "tests")), where
        if _top(module) != "zhipu_flash":
            continue
        assert not any(part.startswith("_") for part in module.split(".")), where
        if module == "zhipu_flash" and name is not None:
            assert name in zhipu_flash.__all__, where
        elif name is not None:
            assert not name.startswith("_"), where
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {a.asname or a.name for a in node.names if a.name == "zhipu_flash"}
    # ``import zhipu_flash as zf``: every ``zf.X`` is a name of the face.
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            assert node.attr in zhipu_flash.__all__, f"{path.relative_to(ROOT)}: {node.attr}"


NOT_TESTS = [
    *sources(*ADAPTERS, "llama_index", "zhipu_flash", "glm_emulator", "benchmarks"),
    ROOT / "cookbook" / "record.py",
]


@pytest.mark.parametrize("path", NOT_TESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_outside_tests_imports_tests(path: Path) -> None:
    for module, _, line in imports(path):
        assert _top(module) != "tests", f"{path.relative_to(ROOT)}:{line} imports {module}"


@pytest.mark.parametrize(
    "path",
    [p for p in sources("glm_emulator") if "tests" not in p.relative_to(ROOT).parts],
    ids=module_name,
)
def test_the_emulator_uses_the_standard_library_only(path: Path) -> None:
    for module, _, line in imports(path):
        allowed = _top(module) in sys.stdlib_module_names or _top(module) == "glm_emulator"
        assert allowed, f"{path.relative_to(ROOT)}:{line} imports {module}"


#: Loaded by ``import zhipu_flash`` only once a program uses them (start-up, issue 21).
ON_FIRST_USE = (
    "asyncio",
    "difflib",
    "zhipu_flash._shared_limit",
    "zhipu_flash._retrieval",
    "zhipu_flash._retrieval_models",
    "zhipu_flash.types.retrieval",
)


def _fresh(code: str) -> list[str]:
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return run.stdout.split()


def test_import_leaves_out_what_only_some_programs_use() -> None:
    code = f"import sys, zhipu_flash\nprint(*[m for m in {ON_FIRST_USE!r} if m in sys.modules])"
    assert _fresh(code) == []


def test_what_is_left_out_comes_back_on_first_use() -> None:
    code = """\
import sys, zhipu_flash, zhipu_flash.models as models, zhipu_flash.types as types
print(models.EMBEDDING_MODELS["embedding-3"].max_inputs_per_request)
print(models.rerank_model_info("rerank").max_documents)
print(types.EmbeddingsResponse.__name__, types.RerankResult.__name__)
from zhipu_flash.models import *
from zhipu_flash.types import *
print(EmbeddingModelInfo.__name__, RerankResponse.__name__)
zhipu_flash.ZhipuClient(api_key="k", max_concurrency=1).close()
print("asyncio" in sys.modules)  # a sync program never needs it
client = zhipu_flash.ZhipuClient(api_key="k", max_concurrency=1, concurrency_url="redis://127.0.0.1:1")
print(type(client.shared).__name__)
import asyncio
async def main():
    async with zhipu_flash.AsyncZhipuClient(api_key="k", max_concurrency=1) as aclient:
        release = await aclient._aacquire("glm-4.7-flash")  # the limit's asyncio side
        release()
        await aclient._sleep(0)
    return "done"
print(asyncio.run(main()))
"""
    assert _fresh(code) == [
        "64", "128", "EmbeddingsResponse", "RerankResult", "EmbeddingModelInfo",
        "RerankResponse", "False", "SharedLimit", "done",
    ]  # fmt: skip
    for module in (zhipu_flash.models, zhipu_flash.types):
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            _ = module.nope


def test_the_names_loaded_on_first_use_are_the_modules_own() -> None:
    # zhipu_flash.models and zhipu_flash.types list the names they hand out from the modules
    # they load on first use (they cannot read them from modules they have not loaded).
    from zhipu_flash import _retrieval_models, models
    from zhipu_flash.types import retrieval

    assert set(_retrieval_models.__all__) == models._RETRIEVAL_NAMES
    assert set(zhipu_flash.types._RETRIEVAL_NAMES) == set(retrieval.__all__)
    assert set(models.__all__) >= models._RETRIEVAL_NAMES
    assert set(zhipu_flash.types.__all__) >= set(retrieval.__all__)
