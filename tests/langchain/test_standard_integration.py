"""langchain-tests' standard integration suite, replayed offline from vcrpy cassettes.

The cassettes in tests/cassettes/test_standard_integration/ were recorded against the local
GLM emulator (``--glm-emulator --record-mode=rewrite``); each response carries an
``x-cassette-source`` header saying so. They prove the protocol mapping, not model quality.
Re-record against the live API with::

    ZHIPUAI_API_KEY=... pytest tests/langchain/test_standard_integration.py \\
        --record-mode=rewrite --force-enable-socket

Models are built without a base_url, so ``ZHIPUAI_BASE_URL`` (or the default host) decides.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

import zhipu_flash as zf
from langchain_zhipu_flash import ChatZhipuFlash

pytestmark = [
    pytest.mark.vcr,
    # test_stream_time runs unbenchmarked while recording (no responses yet); the plugin then
    # warns that its fixture was unused. Replays do use it.
    pytest.mark.filterwarnings(
        "ignore:Benchmark fixture was not used:pytest_benchmark.logger.PytestBenchmarkWarning"
    ),
]


@pytest.fixture(autouse=True)
async def _close_pools(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Close the connection pools of every model a test builds (the suite builds several
    per test and never closes them; when recording, their sockets would otherwise be left
    to the garbage collector and reported as ResourceWarnings)."""
    sync_clients: list[zf.ZhipuClient] = []
    async_clients: list[zf.AsyncZhipuClient] = []
    make_sync = ChatZhipuFlash._sync_client
    make_async = ChatZhipuFlash._get_async_client

    def sync_client(self: ChatZhipuFlash) -> zf.ZhipuClient:
        client = make_sync(self)
        sync_clients.append(client)
        return client

    def async_client(self: ChatZhipuFlash) -> zf.AsyncZhipuClient:
        client = make_async(self)
        async_clients.append(client)
        return client

    monkeypatch.setattr(ChatZhipuFlash, "_sync_client", sync_client)
    monkeypatch.setattr(ChatZhipuFlash, "_get_async_client", async_client)
    yield
    for client in sync_clients:
        client.close()
    for aclient in async_clients:
        await aclient.aclose()


class TestChatZhipuFlashText(ChatModelIntegrationTests):
    """glm-4.7-flash: text, reasoning, tools (tool_choice "auto" only), JSON mode."""

    @property
    def chat_model_class(self) -> type[ChatZhipuFlash]:
        return ChatZhipuFlash

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "glm-4.7-flash", "max_retries": 0}

    @property
    def has_tool_choice(self) -> bool:
        # GLM accepts tool_choice="auto" only; a forced call cannot be requested.
        return False

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "glm-4-flash-250414"

    @property
    def enable_vcr_tests(self) -> bool:
        return True


class TestChatZhipuFlashVision(ChatModelIntegrationTests):
    """glm-4.6v-flash: image input (URL and base64), Anthropic-style blocks, tools."""

    @property
    def chat_model_class(self) -> type[ChatZhipuFlash]:
        return ChatZhipuFlash

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "glm-4.6v-flash", "max_retries": 0}

    @property
    def has_tool_choice(self) -> bool:
        return False

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "glm-4.1v-thinking-flash"

    @property
    def enable_vcr_tests(self) -> bool:
        return True
