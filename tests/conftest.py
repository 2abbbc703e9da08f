"""Shared test configuration: offline by default, cassettes that never hold a secret.

- Sockets: only loopback (pyproject ``--allow-hosts``); ``--force-enable-socket`` is needed,
  together with ``--record-mode=rewrite`` and a real key, to re-record against the live API.
- ``--glm-emulator`` starts the local GLM emulator (glm_emulator/) for the session and points
  ``ZHIPUAI_BASE_URL`` at it: that is how the committed cassettes were recorded.
- vcrpy: the record mode comes from the command line (never pinned in the config), cassettes
  live in tests/cassettes/<test module>/ whatever the working directory, the Authorization header is
  redacted, hosts are normalised to open.bigmodel.cn so one cassette replays for either
  platform or the emulator, and each recorded response carries an ``x-cassette-source``
  header saying where it came from.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

HERE = Path(__file__).parent
CASSETTES = HERE / "cassettes"
PICTURE = HERE / "fixtures" / "picture.png"
FAKE_KEY = "replay-key.not-a-secret"

_HOST = re.compile(r"^https?://[^/]+")
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_ZERO_UUID = b"00000000-0000-0000-0000-000000000000"
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--glm-emulator",
        action="store_true",
        default=False,
        help="Serve the API from the local GLM emulator (glm_emulator/) for this session.",
    )


def _cassette_source() -> str:
    base = os.environ.get("ZHIPUAI_BASE_URL", "https://open.bigmodel.cn/api/paas/v4")
    host = urlsplit(base).hostname or "unknown"
    if host in _LOOPBACK:
        return (
            "zhipu-flash GLM emulator (glm_emulator); wire shapes from tests/fixtures/wire, "
            "not live"
        )
    return f"live Zhipu API at {host}"


def _normalise_request(request: Any) -> Any:
    """Runs on a copy, both when recording and before matching: make equal requests equal."""
    request.uri = _HOST.sub("https://open.bigmodel.cn", request.uri)
    if isinstance(request.body, bytes):
        request.body = _UUID.sub(_ZERO_UUID, request.body)
    return request


def _squash_descriptions(value: Any) -> Any:
    """JSON with the whitespace of every ``description`` collapsed. Tool and schema
    descriptions come from docstrings, and Python 3.13 strips their indentation at compile
    time: the same tool is described with other whitespace than on 3.10-3.12."""
    if isinstance(value, dict):
        return {
            k: " ".join(v.split())
            if k == "description" and isinstance(v, str)
            else _squash_descriptions(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_squash_descriptions(v) for v in value]
    return value


def _comparable_body(body: Any) -> Any:
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        return _squash_descriptions(json.loads(body))
    except (TypeError, ValueError):
        return body


def _same_body(recorded: Any, sent: Any) -> None:
    """vcrpy's body matcher, blind to docstring indentation in descriptions (see above)."""
    assert _comparable_body(recorded.body) == _comparable_body(sent.body), "bodies differ"


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    vcr.register_matcher("glm_body", _same_body)


def _keep_content_type(response: dict[str, Any]) -> dict[str, Any]:
    headers = {k: v for k, v in response["headers"].items() if k.lower() == "content-type"}
    headers["x-cassette-source"] = [_cassette_source()]
    response["headers"] = headers
    return response


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    """tests/cassettes/<test module>/ whatever the working directory (names never collide)."""
    return str(CASSETTES / request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(scope="session")
def vcr_config() -> dict[str, Any]:
    # No "record_mode" key: it would override --record-mode (a vcrpy/pytest-recording trap).
    return {
        "filter_headers": [
            ("authorization", "REDACTED"),
            ("x-api-key", "REDACTED"),
            ("api-key", "REDACTED"),
            ("user-agent", "REDACTED"),
        ],
        "before_record_request": _normalise_request,
        "before_record_response": _keep_content_type,
        "match_on": ["method", "uri", "glm_body"],
        "decode_compressed_response": True,
        "allow_playback_repeats": True,
    }


@pytest.fixture(scope="session", autouse=True)
def _glm_emulator(pytestconfig: pytest.Config) -> Iterator[None]:
    if not pytestconfig.getoption("--glm-emulator"):
        yield
        return
    from glm_emulator.server import running_emulator

    previous = os.environ.get("ZHIPUAI_BASE_URL")
    with running_emulator() as base_url:
        os.environ["ZHIPUAI_BASE_URL"] = base_url
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("ZHIPUAI_BASE_URL", None)
            else:
                os.environ["ZHIPUAI_BASE_URL"] = previous


@pytest.fixture(autouse=True)
def _replay_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test has some key (replays need one); a real key in the environment is kept so
    re-recording works, and the cassette filter removes it."""
    if not (os.environ.get("ZHIPUAI_API_KEY") or os.environ.get("ZAI_API_KEY")):
        monkeypatch.setenv("ZHIPUAI_API_KEY", FAKE_KEY)


@pytest.fixture(autouse=True)
def _offline_pictures(monkeypatch: pytest.MonkeyPatch) -> None:
    """langchain-tests downloads a PNG with ``httpx.get``; serve ours so the bytes are the same
    at record and replay time and no test needs the network."""
    real_get = httpx.get
    picture = PICTURE.read_bytes()

    def get(url: Any, *args: Any, **kwargs: Any) -> httpx.Response:
        if "raw.githubusercontent.com" in str(url) and str(url).endswith(".png"):
            return httpx.Response(200, content=picture, request=httpx.Request("GET", str(url)))
        return real_get(url, *args, **kwargs)

    monkeypatch.setattr(httpx, "get", get)


@pytest.fixture(autouse=True)
def _fresh_once_per_process_warnings() -> None:
    # The core warns once per process about a forced tool_choice; each test is a new process.
    from zhipu_flash import _request

    _request._forced_choices_seen.clear()


@pytest.fixture
def close_default_loop() -> Iterator[None]:
    """LlamaIndex's sync paths run coroutines through ``asyncio_run``, which creates the
    thread's default event loop and leaves it open; close it so no ResourceWarning follows."""
    yield
    policy = asyncio.get_event_loop_policy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = policy.get_event_loop()
        except RuntimeError:
            return
    if not loop.is_running():
        loop.close()
        policy.set_event_loop(None)
