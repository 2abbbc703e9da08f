"""pytest fixtures for replaying recorded GLM responses.

Registered with pytest through the ``pytest11`` entry point that zhipu-flash declares, so the
fixtures are there wherever zhipu-flash is installed (a conftest's
``pytest_plugins = ["zhipu_flash.testing.pytest_plugin"]`` is not needed, and harmless)::

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

from ._replay import Replay


@pytest.fixture
def glm_replay() -> Callable[..., Replay]:
    """A factory: ``glm_replay(path, **options) -> Replay``; relative paths are taken from
    the current working directory."""

    def make(path: str | Path, **kwargs: Any) -> Replay:
        return Replay.from_path(path, **kwargs)

    return make
