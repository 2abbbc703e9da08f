"""The core's create/stream paths replayed from vcrpy cassettes (network blocked), and the
guards around cassettes: they are what tests/wire_cassettes.py builds, and none holds a
credential."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import zhipu_flash as zf
from tests.conftest import CASSETTES
from tests.wire_cassettes import CASES, DIRECTORY, render


@pytest.mark.vcr
def test_stream_reasoning() -> None:
    with (
        zf.ZhipuClient() as client,
        client.stream(model="glm-4.5", messages=[{"role": "user", "content": "hi"}]) as stream,
    ):
        final = stream.get_final_completion()
    assert final.content == "\n\nHi!"
    assert final.reasoning_content.startswith('The user just said "hi"')
    assert final.usage is not None and final.usage.cached_tokens == 43


@pytest.mark.vcr
async def test_stream_tool_call() -> None:
    async with (
        zf.AsyncZhipuClient() as client,
        client.stream(
            model="glm-4-flash", messages=[{"role": "user", "content": "Write the stylesheet."}]
        ) as stream,
    ):
        final = await stream.get_final_completion()
    assert [t.function.name for t in final.tool_calls] == ["write_file"]
    assert final.finish_reason == "tool_calls"
    assert final.usage is not None and final.usage.total_tokens == 3157


@pytest.mark.vcr
def test_create_plain() -> None:
    with zf.ZhipuClient() as client:
        result = client.create(model="glm-4-flash", messages=[{"role": "user", "content": "你好"}])
    assert result.content == "你好👋！很高兴见到你，有什么可以帮助你的吗？"


@pytest.mark.vcr
def test_create_no_balance() -> None:
    # A cassette replays the 429 on every attempt; the client must not retry 1113 at all.
    with zf.ZhipuClient() as client, pytest.raises(zf.QuotaExceededError) as info:
        client.create(model="glm-4.7-flash", messages=[{"role": "user", "content": "hi"}])
    assert info.value.code == "1113" and info.value.status_code == 429


@pytest.mark.parametrize("name", sorted(CASES))
def test_cassettes_are_what_the_builder_makes(name: str) -> None:
    assert (DIRECTORY / f"{name}.yaml").read_text(encoding="utf-8") == render(name)


# Zhipu keys look like "<32 hex>.<16 alphanumerics>"; JWTs start with "eyJ".
_KEY_SHAPES = [
    re.compile(r"[0-9a-f]{32}\.[A-Za-z0-9]{16}"),
    re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    re.compile(r"Bearer\s+(?!REDACTED)\S+", re.IGNORECASE),
]


def _cassette_files() -> list[Path]:
    return sorted(CASSETTES.rglob("*.yaml")) + sorted(CASSETTES.rglob("*.yml"))


def test_no_cassette_holds_a_credential() -> None:
    files = _cassette_files()
    assert files, "no cassettes found"
    live_keys = [v for k in ("ZHIPUAI_API_KEY", "ZAI_API_KEY") if (v := os.environ.get(k))]
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern in _KEY_SHAPES:
            assert not pattern.search(text), f"{path}: credential-like text {pattern.pattern}"
        for key in live_keys:
            assert key not in text, f"{path} contains the API key from the environment"
        for match in re.finditer(r"(?im)^\s*authorization:\s*\n\s*-\s*(.+)$", text):
            assert match.group(1).strip() == "REDACTED", f"{path}: unredacted Authorization"


def test_scanner_catches_a_leaked_key(tmp_path: Path) -> None:
    leaked = "authorization:\n- Bearer 0123456789abcdef0123456789abcdef.AbCdEfGhIjKlMnOp\n"
    assert any(p.search(leaked) for p in _KEY_SHAPES)
