"""zhipu_flash.testing: replaying recordings and cassettes into real clients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import zhipu_flash as zf
from tests.unit._helpers import USAGE, chunk
from tests.wire import FIXTURES
from zhipu_flash.testing import Recording, Replay, ReplayError, builtin_recording

pytest_plugins = ["zhipu_flash.testing.pytest_plugin"]

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


def test_fixture(glm_replay: object, tmp_path: Path) -> None:
    (tmp_path / "a.sse").write_bytes(chunk("x", finish="stop") + b"data: [DONE]\n\n")
    replay = glm_replay(tmp_path)  # type: ignore[operator]
    assert isinstance(replay, Replay)
    assert isinstance(Recording.from_file(tmp_path / "a.sse"), Recording)


def test_empty_inputs_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        Replay([])
    with pytest.raises(ValueError, match=r"No \.sse/\.json"):
        Replay.from_path(tmp_path)
