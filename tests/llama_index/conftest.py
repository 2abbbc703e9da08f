"""Fixtures for the LlamaIndex tests: a GLM emulator on loopback that logs what it was sent,
offline embeddings for indexes, and the clean-up LlamaIndex's sync paths need."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_index.core import MockEmbedding, Settings

from glm_emulator.server import EmulatorHTTPServer, serving_emulator


@pytest.fixture
def emulator() -> Iterator[EmulatorHTTPServer]:
    """The GLM emulator (glm_emulator: GLM's wire format, answers that are not real model
    output) on 127.0.0.1; ``emulator.bodies()`` holds every body it received."""
    with serving_emulator() as server:
        yield server


@pytest.fixture
def other_emulator() -> Iterator[EmulatorHTTPServer]:
    """A second emulator, for settings that move an LLM from one server to another."""
    with serving_emulator() as server:
        yield server


@pytest.fixture
def mock_embeddings() -> Iterator[None]:
    """``Settings.embed_model = MockEmbedding(embed_dim=8)`` for the test (indexes build
    offline), then whatever was there before."""
    previous = Settings._embed_model
    Settings.embed_model = MockEmbedding(embed_dim=8)
    try:
        yield
    finally:
        Settings._embed_model = previous
