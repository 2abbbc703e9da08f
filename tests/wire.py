"""Load the real response samples in ``tests/fixtures/wire/``.

They are copies of published captures of the live API (provenance in each file's header and
in that folder's README). Each sample starts with ``# `` provenance lines (SOURCE, KIND,
AUTHENTICITY) that are not part of the body; :func:`wire_body` strips them and returns the
exact bytes that followed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from glm_emulator import frames

FIXTURES = Path(__file__).parent / "fixtures" / "wire"
#: Bodies built by this project from public reports where no capture exists (not recordings);
#: same header convention, provenance in each file and in that folder's README.
SHAPED = Path(__file__).parent / "fixtures" / "glm_shaped"


def wire_path(name: str) -> Path:
    return FIXTURES / name


def wire_text(name: str) -> str:
    return wire_path(name).read_text(encoding="utf-8")


def wire_body(name: str) -> bytes:
    """The response body as bytes, without the provenance header lines."""
    lines = wire_path(name).read_bytes().splitlines(keepends=True)
    return b"".join(line for line in lines if not line.startswith(b"# "))


def wire_sse(name: str) -> bytes:
    """An SSE body for a stream sample; ``.jsonl`` samples get their ``data:`` framing back."""
    body = wire_body(name)
    if not name.endswith(".jsonl"):
        return body
    return b"".join(frames.event(line) for line in body.splitlines() if line.strip())


def wire_json(name: str) -> Any:
    return json.loads(wire_body(name))


def shaped_body(name: str) -> bytes:
    """A GLM-shaped (constructed) body from ``fixtures/glm_shaped``, without its header lines."""
    lines = (SHAPED / name).read_bytes().splitlines(keepends=True)
    return b"".join(line for line in lines if not line.startswith(b"# "))


def shaped_sse(name: str) -> bytes:
    return shaped_body(name)


def shaped_json(name: str) -> Any:
    return json.loads(shaped_body(name))
