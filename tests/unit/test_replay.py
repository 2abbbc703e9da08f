"""zhipu_flash.testing: replaying recordings and cassettes into real clients."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import zhipu_flash as zf
from tests.unit._helpers import USAGE, chunk
from tests.wire import FIXTURES
from zhipu_flash.testing import (
    Recorder,
    Recording,
    Replay,
    ReplayError,
    builtin_recording,
    recorded,
)

USER = [{"role": "user", "content": "hi"}]


def test_folder_of_recordings_is_served_in_order(tmp_path: Path) -> None:
    (tmp_path / "01_call.sse").write_bytes(
        b"# made by hand for this test\n"
        + chunk(
            tool_calls=[
                {
                    "id": "c1",
                    "index": 0,
                    "type": "function",
                    "function": {"name": "f", "arguments": "{}"},
                }
            ],
            finish="tool_calls",
        )
        + b"data: [DONE]\n\n"
    )
    (tmp_path / "02_answer.sse").write_bytes(
        chunk("done", finish="stop", usage=USAGE) + b"data: [DONE]\n\n"
    )
    replay = Replay.from_path(tmp_path)
    with replay.client() as client:
        with client.stream(model="glm-4.7-flash", messages=USER) as s:
            assert s.get_final_completion().tool_calls[0].function.name == "f"
        with client.stream(model="glm-4.7-flash", messages=USER) as s:
            assert s.get_final_completion().content == "done"
        with pytest.raises(ReplayError, match="more calls than were recorded"):
            client.create(model="glm-4.7-flash", messages=USER)
    assert [json.loads(r.content)["model"] for r in replay.requests] == ["glm-4.7-flash"] * 3


async def test_async_client_and_error_recordings(tmp_path: Path) -> None:
    (tmp_path / "no_balance.json").write_bytes(
        b"# status: 429\n"
        + (FIXTURES / "error_1113_no_balance_http429_cowagent-issue-2910.json").read_bytes()
    )
    replay = Replay.from_path(tmp_path, repeat=True)
    async with replay.async_client() as client:
        with pytest.raises(zf.QuotaExceededError):
            await client.create(model="glm-4.7-flash", messages=USER)
    assert len(replay.requests) == 1  # 1113 is never retried, even on replay


def test_wire_sample_files_replay_directly() -> None:
    replay = Replay.from_files([FIXTURES / "glm-4_stream_plain_usage_langchain-openai-tests.jsonl"])
    with replay.client() as client, client.stream(model="glm-4", messages=USER) as s:
        assert s.get_final_completion().content == "人工智能助手，你可以叫我AI助手。"


def test_cassette_matches_by_body_in_any_order() -> None:
    cassettes = Path(__file__).parents[1] / "cassettes" / "test_core_cassettes"
    replay = Replay.from_path(cassettes / "test_create_plain.yaml")
    with replay.client() as client:
        for _ in range(2):  # playback repeats
            result = client.create(
                model="glm-4-flash", messages=[{"role": "user", "content": "你好"}]
            )
            assert result.content.startswith("你好👋")
        with pytest.raises(ReplayError, match="No recorded response matches"):
            client.create(model="glm-4-flash", messages=[{"role": "user", "content": "other"}])


def test_builtin_recording_and_paced_delivery() -> None:
    rec = builtin_recording("glm-4.5_stream_reasoning_usage_cached_nuvin_REPAIRED.sse")
    assert rec.stream and rec.status == 200 and not rec.body.startswith(b"#")
    replay = Replay([rec], delay=0.0001)
    with replay.client() as client, client.stream(model="glm-4.5", messages=USER) as s:
        chunks = list(s)
    assert len(chunks) == 37


# No pytest_plugins line here: the fixture comes from the pytest11 entry point.
def test_fixture(glm_replay: object, tmp_path: Path) -> None:
    (tmp_path / "a.sse").write_bytes(chunk("x", finish="stop") + b"data: [DONE]\n\n")
    replay = glm_replay(tmp_path)  # type: ignore[operator]
    assert isinstance(replay, Replay)
    assert isinstance(Recording.from_file(tmp_path / "a.sse"), Recording)


def test_a_conftest_that_still_lists_the_plugin_runs(tmp_path: Path) -> None:
    # README used to ask for this line; with the entry point it must stay harmless.
    (tmp_path / "conftest.py").write_text(
        'pytest_plugins = ["zhipu_flash.testing.pytest_plugin"]\n', encoding="utf-8"
    )
    (tmp_path / "test_it.py").write_text(
        "def test_it(glm_replay):\n    assert callable(glm_replay)\n", encoding="utf-8"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_empty_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        Replay([])
    with pytest.raises(ValueError, match=r"No \.sse/\.json"):
        Replay.from_path(tmp_path)


def test_record_then_replay_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from glm_emulator.server import running_emulator

    folder = tmp_path / "rec"
    messages = [{"role": "user", "content": "Hello"}]
    with running_emulator() as base_url, recorded(folder, mode="record") as session:
        assert session.mode == "record" and "RECORDING" in session.banner
        assert session.http_client is not None
        with zf.ZhipuClient(api_key="k", base_url=base_url, http_client=session.http_client) as c:
            with c.stream(model="glm-4.7-flash", messages=messages) as s:
                live = s.get_final_completion()
            bad = zf.ZhipuClient(
                api_key="k", base_url=base_url, http_client=session.http_client, max_retries=0
            )
            with pytest.raises(zf.NotFoundError):
                bad.create(model="no-such-model", messages=messages)
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["001.sse", "002.json"]
    first = (folder / "001.sse").read_text(encoding="utf-8")
    assert first.startswith(
        "# SOURCE: recorded by zhipu_flash.testing.Recorder from the zhipu-flash GLM emulator"
    )
    assert "Bearer" not in first and "# status: 400" in (folder / "002.json").read_text(
        encoding="utf-8"
    )

    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    replayed = recorded(folder)
    assert replayed.mode == "replay" and replayed.banner.startswith("OFFLINE REPLAY")
    assert set(replayed.client_kwargs) == {"http_client", "async_http_client"}
    with zf.ZhipuClient(api_key="k", http_client=replayed.http_client) as c:
        with c.stream(model="glm-4.7-flash", messages=messages) as s:
            again = s.get_final_completion()
        with pytest.raises(zf.NotFoundError):
            c.create(model="no-such-model", messages=messages)
    assert (again.content, again.reasoning_content) == (live.content, live.reasoning_content)


def test_recorded_modes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZHIPUAI_API_KEY", "live.key")
    live = recorded(tmp_path)
    assert live.mode == "live" and live.client_kwargs == {} and live.banner.startswith("LIVE")
    monkeypatch.setenv("ZHIPU_FLASH_RECORD", "1")
    assert recorded(tmp_path / "new").mode == "record"
    with pytest.raises(ValueError, match="mode must be"):
        recorded(tmp_path, mode="sometimes")


async def test_recorder_numbers_files_in_request_order(tmp_path: Path) -> None:
    # Concurrent requests may finish in any order; a Replay answers in request order, so the
    # files must be numbered when each request is sent (the cookbook's asyncio.gather relies
    # on it).
    second_sent = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        n = json.loads(request.content)["n"]
        if n == 1:
            await second_sent.wait()  # the first request finishes last
        else:
            second_sent.set()
        return httpx.Response(200, json={"n": n})

    recorder = Recorder(tmp_path, async_transport=httpx.MockTransport(handler))
    async with httpx.AsyncClient(transport=recorder) as http:
        await asyncio.gather(*(http.post("http://127.0.0.1/x", json={"n": n}) for n in (1, 2)))
    bodies = [json.loads(Recording.from_file(tmp_path / f"00{n}.json").body) for n in (1, 2)]
    assert bodies == [{"n": 1}, {"n": 2}]
