"""Run your own chains, agents and query engines offline on recorded GLM responses.

A :class:`Replay` answers HTTP requests from recordings instead of the network. Point any
client at it through its ``http_client`` argument: the core clients, ``ChatZhipuFlash`` and
``ZhipuFlash`` (``http_client=`` / ``async_http_client=``) all take one. Two kinds of
recording:

- a **folder of recorded responses** (or a list of files), served one per request in name
  order: ``*.sse`` (an event-stream body), ``*.json`` (a JSON body; an ``{"error": ...}`` body
  is served with the status given by a ``# status: 429`` header line, else 400). Lines that
  start with ``# `` are provenance and are not served. Good for scripted conversations and
  agent loops.
- a **vcrpy cassette** (``*.yaml``, as recorded with ``pytest --record-mode=once``): each
  request is matched by method, path and JSON body, so the order does not matter and a
  request nobody recorded is a clear error. Needs PyYAML (installed with vcrpy).

Example::

    from zhipu_flash.testing import Replay
    from langchain_zhipu_flash import ChatZhipuFlash

    replay = Replay.from_path("tests/recordings/weather_agent")
    llm = ChatZhipuFlash(api_key="replay", http_client=replay.http_client())
    assert "sunny" in llm.invoke("Weather in Hangzhou?").content
    assert len(replay.requests) == 1

In pytest the ``glm_replay`` fixture is there once zhipu-flash is installed (a pytest plugin,
:mod:`zhipu_flash.testing.pytest_plugin`).

To make recordings, :class:`Recorder` wraps a real transport and writes every response into a
folder in the format above. :func:`recorded` chooses for you: replay when no key is set, live
with a key, and live-and-record with ``ZHIPU_FLASH_RECORD=1``; the cookbook's notebooks use it
so that they run in CI offline and against the API with a key.

The parts, one job each: the recording formats (:mod:`._recording`), the two transports
(:mod:`._replay`, :mod:`._recorder`) and the mode choice (:mod:`._session`).
"""

from ._recorder import Recorder
from ._recording import Recording, builtin_recording
from ._replay import Replay, ReplayError
from ._session import RecordedSession, recorded

__all__ = [
    "RecordedSession",
    "Recorder",
    "Recording",
    "Replay",
    "ReplayError",
    "builtin_recording",
    "recorded",
]
