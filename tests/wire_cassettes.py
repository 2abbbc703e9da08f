"""Build vcrpy cassettes for the core from the real samples in tests/fixtures/wire.

No live recording exists in this project (there is no key here), so the core's cassettes pair
a request our client really sends with a response body published by a third party from the
live API. Each response carries ``x-cassette-source`` naming the sample and its provenance.
Run ``python -m tests.wire_cassettes`` to rewrite them; ``test_core_cassettes.py`` checks that
the committed files are exactly what this script produces.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.wire import wire_body, wire_sse, wire_text
from zhipu_flash import build_chat_request

DIRECTORY = Path(__file__).parent / "cassettes" / "test_core_cassettes"
URI = "https://open.bigmodel.cn/api/paas/v4/chat/completions"

# test name -> (sample, model, prompt, stream)
CASES: dict[str, tuple[str, str, str, bool]] = {
    "test_stream_reasoning": (
        "glm-4.5_stream_reasoning_usage_cached_nuvin_REPAIRED.sse",
        "glm-4.5",
        "hi",
        True,
    ),
    "test_stream_tool_call": (
        "glm-4-flash_stream_loop2_toolcall_only_mini-claude-design.sse",
        "glm-4-flash",
        "Write the stylesheet.",
        True,
    ),
    "test_create_plain": (
        "glm-4-flash_nonstream_plain_curl_unidentified-repo.json",
        "glm-4-flash",
        "你好",
        False,
    ),
    "test_create_no_balance": (
        "error_1113_no_balance_http429_cowagent-issue-2910.json",
        "glm-4.7-flash",
        "hi",
        False,
    ),
}


def _provenance(sample: str) -> str:
    header = [line[2:] for line in wire_text(sample).splitlines() if line.startswith("# ")]
    source = next((h for h in header if h.startswith("SOURCE")), header[0] if header else "")
    return f"tests/fixtures/wire/{sample}: {source}"[:400]


def request_body(model: str, prompt: str, stream: bool) -> bytes:
    body = build_chat_request(model, [{"role": "user", "content": prompt}], stream=stream)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def cassette(name: str) -> dict[str, Any]:
    sample, model, prompt, stream = CASES[name]
    error = sample.startswith("error_")
    status = 429 if "http429" in sample else 200
    content_type = "text/event-stream" if stream and not error else "application/json"
    body = wire_sse(sample) if stream else wire_body(sample).strip()
    return {
        "interactions": [
            {
                "request": {
                    "body": request_body(model, prompt, stream).decode(),
                    "headers": {
                        "Content-Type": ["application/json"],
                        "Authorization": ["REDACTED"],
                    },
                    "method": "POST",
                    "uri": URI,
                },
                "response": {
                    "body": {"string": body.decode()},
                    "headers": {
                        "content-type": [content_type],
                        "x-cassette-source": [_provenance(sample)],
                    },
                    "status": {
                        "code": status,
                        "message": "OK" if status == 200 else "Too Many Requests",
                    },
                },
            }
        ],
        "version": 1,
    }


def render(name: str) -> str:
    return yaml.safe_dump(cassette(name), allow_unicode=True, sort_keys=True, width=100)


def main() -> None:
    DIRECTORY.mkdir(parents=True, exist_ok=True)
    for name in CASES:
        (DIRECTORY / f"{name}.yaml").write_text(render(name), encoding="utf-8")


if __name__ == "__main__":
    main()
