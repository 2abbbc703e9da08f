"""pytest fixtures for replaying recorded GLM responses.

Enable with ``pytest_plugins = ["zhipu_flash.testing.pytest_plugin"]`` in a conftest.py::

    def test_my_chain(glm_replay):
        replay = glm_replay("tests/recordings/my_chain")      # folder, file or cassette
        llm = ChatZhipuFlash(api_key="replay", http_client=replay.http_client())
        ...
        assert len(replay.requests) == 2
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from . import Replay


@pytest.fixture
def glm_replay() -> Callable[..., Replay]:
    """A factory: ``glm_replay(path, **options) -> Replay``; relative paths are taken from
    the current working directory."""

    def make(path: str | Path, **kwargs: Any) -> Replay:
        return Replay.from_path(path, **kwargs)

    return make
