"""langchain-tests' standard suites for ZhipuFlashEmbeddings: the unit suite offline, the
integration suite replayed from vcrpy cassettes.

The cassettes in tests/cassettes/test_standard_embeddings/ were recorded against the local GLM
emulator (``--glm-emulator --record-mode=rewrite``); each response carries an
``x-cassette-source`` header saying so. The vectors are the emulator's hashed features, not
GLM's: the recordings prove the protocol mapping only. No live recording exists yet.
``dimensions=256`` keeps them small.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_zhipu_flash import ZhipuFlashEmbeddings


class TestZhipuFlashEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[ZhipuFlashEmbeddings]:
        return ZhipuFlashEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "embedding-3", "dimensions": 256}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"ZHIPUAI_API_KEY": "env-key", "ZHIPUAI_BASE_URL": "https://example.test/api/paas/v4"},
            {"model": "embedding-3"},
            {"api_key": "env-key", "base_url": "https://example.test/api/paas/v4"},
        )


@pytest.mark.vcr
class TestZhipuFlashEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[ZhipuFlashEmbeddings]:
        return ZhipuFlashEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"model": "embedding-3", "dimensions": 256, "max_retries": 0}
