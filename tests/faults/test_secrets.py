"""The API key never shows: not in ``repr``/``str`` of the clients, not in any error a fault
produces (message, repr, body, partial output, causes, traceback), not in any log line at any
level, httpx's and httpcore's DEBUG logs included. (Cassettes are scanned by
tests/unit/test_core_cassettes.py::test_no_cassette_holds_a_credential.)"""

from __future__ import annotations

import asyncio
import logging
import traceback

import httpx
import pytest

import zhipu_flash as zf
from glm_emulator import frames
from tests.faults._support import API_KEY, DONE, chunk, run, text_frames
from tests.faults.server import Drop, FaultServer, Reply, Stall, error, sse

# Each fault with the error it must produce: the key must not be in any of them.
FAULTS: dict[str, tuple[tuple[Reply, ...], type[zf.ZhipuError]]] = {
    "401": (
        (error(401, "1002", "Authorization Token非法，请确认Authorization Token正确传递。"),),
        zf.AuthenticationError,
    ),
    "429-1113": ((error(429, "1113", "余额不足或无可用资源包,请充值。"),), zf.QuotaExceededError),
    "503": ((error(503, None, "busy", retry_after="0"),), zf.InternalServerError),
    "reset": ((Drop("reset"),), zf.APIConnectionError),
    "stall-before-headers": ((Drop("stall"),), zf.APITimeoutError),
    "cut": ((sse(chunk("a"), ending="cut"),), zf.StreamInterruptedError),
    "error-frame": (
        (sse(chunk("a"), frames.event(frames.error("1301", "x")), DONE),),
        zf.ContentFilterError,
    ),
    "stall-mid-stream": ((sse(chunk("a"), Stall()),), zf.APITimeoutError),
    "malformed": ((sse(chunk("a"), b"data: {oops\n\n", DONE),), zf.StreamDecodeError),
}
FAST_FAIL = httpx.Timeout(0.2, connect=1.0)


def _texts(exc: BaseException) -> list[str]:
    """Everything a user or a log could print about ``exc`` and its causes."""
    texts = ["".join(traceback.format_exception(exc))]
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen), str(getattr(seen, "body", "")), str(vars(seen))]
        partial = getattr(seen, "partial", None)
        if partial is not None:
            texts.append(partial.model_dump_json())
        seen = seen.__cause__ or seen.__context__
    return texts


@pytest.mark.parametrize("name", list(FAULTS))
def test_key_never_in_errors_or_logs(
    server: FaultServer, mode: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    for logger in ("", "zhipu_flash", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=logger)
    replies, cls = FAULTS[name]
    url = server.script("k", *replies)
    out = run(mode, url, timeout=FAST_FAIL, max_retries=1, on_malformed="raise")
    assert isinstance(out.error, cls)
    assert server.received("k")[0].headers["authorization"] == f"Bearer {API_KEY}"  # it was sent
    for text in _texts(out.error):
        assert API_KEY not in text
    assert "httpcore" in {r.name.split(".")[0] for r in caplog.records}  # DEBUG really was on
    assert API_KEY not in caplog.text
    for record in caplog.records:
        assert API_KEY not in record.getMessage()
        assert API_KEY not in str(record.args)


def test_key_never_in_successful_call_logs(
    server: FaultServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    for logger in ("", "zhipu_flash", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=logger)
    url = server.script("k", error(429, "1302", "cap", retry_after="0"), sse(*text_frames(["x"])))
    out = run(mode, url)
    assert out.final is not None and out.final.content == "x"
    assert "retrying" in caplog.text
    assert API_KEY not in caplog.text


@pytest.mark.parametrize("source", ["argument", "ZHIPUAI_API_KEY", "ZAI_API_KEY"])
@pytest.mark.parametrize("cls", [zf.ZhipuClient, zf.AsyncZhipuClient])
def test_key_never_in_client_repr_or_str(
    monkeypatch: pytest.MonkeyPatch, cls: type[zf.ZhipuClient | zf.AsyncZhipuClient], source: str
) -> None:
    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    if source == "argument":
        client = cls(api_key=API_KEY)
    else:
        monkeypatch.setenv(source, API_KEY)
        client = cls()
    for text in (repr(client), str(client), f"{client}", f"{client!r}"):
        assert API_KEY not in text
        assert "api_key=<set>" in text
    if isinstance(client, zf.ZhipuClient):
        client.close()
    else:
        asyncio.run(client.aclose())


def test_missing_key_error_names_the_variables_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZHIPUAI_API_KEY", raising=False)
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    with zf.ZhipuClient() as client, pytest.raises(zf.MissingAPIKeyError) as info:
        client.stream(model="glm-4.7-flash", messages=[{"role": "user", "content": "x"}])
    assert "ZHIPUAI_API_KEY" in str(info.value)
