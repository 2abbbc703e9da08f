"""langchain-tests' standard unit suite for ChatZhipuFlash (offline: construction and wiring)."""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_zhipu_flash import ChatZhipuFlash


class TestChatZhipuFlashUnit(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatZhipuFlash]:
        return ChatZhipuFlash

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "glm-4.7-flash"}

    @property
    def has_tool_choice(self) -> bool:
        # GLM accepts tool_choice="auto" only; other values are downgraded, never forced.
        return False

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"ZHIPUAI_API_KEY": "env-key", "ZHIPUAI_BASE_URL": "https://example.test/api/paas/v4"},
            {"model": "glm-4.7-flash"},
            {"api_key": "env-key", "base_url": "https://example.test/api/paas/v4"},
        )
