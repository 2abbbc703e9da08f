"""langchain-tests' standard integration suite, replayed offline from vcrpy cassettes.

The cassettes in tests/cassettes/test_standard_integration/ were recorded against the local
GLM emulator (``--glm-emulator --record-mode=rewrite``); each response carries an
``x-cassette-source`` header saying so. They prove the protocol mapping, not model quality.
Re-record against the live API with::

    ZHIPUAI_API_KEY=... pytest tests/langchain/test_standard_integration.py \\
        --record-mode=rewrite --force-enable-socket

Models are built without a base_url, so ``ZHIPUAI_BASE_URL`` (or the default host) decides.
The suite builds several models per test and never closes them: their async clients close
with the test's event loop, and sync calls use the process-wide pool, so nothing is left to
the garbage collector.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_zhipu_flash import ChatZhipuFlash

pytestmark = [
    pytest.mark.vcr,
    # test_stream_time runs unbenchmarked while recording (no responses yet); the plugin then
    # warns that its fixture was unused. Replays do use it.
    pytest.mark.filterwarnings(
        "ignore:Benchmark fixture was not used:pytest_benchmark.logger.PytestBenchmarkWarning"
    ),
]


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
