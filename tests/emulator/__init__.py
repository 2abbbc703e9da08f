"""A local, deterministic imitation of Zhipu's GLM chat-completions endpoint.

It exists so that integration tests and vcrpy cassettes can be recorded with no internet and
no API key. Its answers are rule-based placeholders, never real model output; only the wire
shapes (framing, key order, ids, usage, error bodies) imitate the real API. See README.md.

- :func:`tests.emulator.logic.respond` maps a request body to an :class:`EmulatedResponse`.
- :func:`tests.emulator.server.running_emulator` serves it on a loopback port.
"""

from __future__ import annotations

from .logic import EmulatedResponse, respond, sse_bytes
from .server import running_emulator

__all__ = ["EmulatedResponse", "respond", "running_emulator", "sse_bytes"]
