"""Fixtures for the reliability suite: a fresh fault server per test, and the sync/async mode."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.faults.server import FaultServer, fault_server


@pytest.fixture
def server() -> Iterator[FaultServer]:
    before = {t.ident for t in threading.enumerate()}
    with fault_server() as running:
        yield running
    leaked = [
        t for t in threading.enumerate() if t.ident not in before and t.name == "fault-server"
    ]
    assert not leaked, f"fault server threads outlived the test: {leaked}"


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)
