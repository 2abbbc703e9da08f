"""The same faults through the framework adapters, on real sockets: ``ChatZhipuFlash``
(``invoke``, ``stream``, ``astream``) and ``ZhipuFlash`` (``chat``, ``stream_chat``,
``astream_chat``). The LangChain adapter raises classes that are both the core error and
langchain-core's; the LlamaIndex adapter raises the core's own."""

from __future__ import annotations

import asyncio
import itertools
import logging
import traceback
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
from langchain_core.exceptions import (
    ModelAuthenticationError,
    ModelConnectionError,
    ModelInvalidRequestError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)
from langchain_core.load import dumpd, dumps
from llama_index.core.llms import ChatMessage

import zhipu_flash as zf
from glm_emulator import frames
from langchain_zhipu_flash import ChatZhipuFlash
from llama_index_zhipu_flash import ZhipuFlash
from tests.faults._support import (
    API_KEY,
    DONE,
    MODEL,
    USAGE,
    active_connections,
    chunk,
    completion_body,
    text_frames,
)
from tests.faults.server import Drop, FaultServer, Reply, Respond, Stall, Stream, error, sse

TEXTS = ["你好", "，世界", "！🌍"]
ADAPTER_TIMEOUT = 0.3
ENTRIES = ["lc-invoke", "lc-stream", "lc-astream", "li-chat", "li-stream_chat", "li-astream_chat"]
STREAMING = [e for e in ENTRIES if e != "lc-invoke"]  # lc-invoke is a non-streamed create
# The langchain-core class each core error must also be (the LangChain adapter's contract).
LC_CLASSES: dict[type[zf.ZhipuError], type[Exception]] = {
    zf.QuotaExceededError: ModelPermissionDeniedError,
    zf.RateLimitError: ModelRateLimitError,
    zf.APIConnectionError: ModelConnectionError,
    zf.StreamInterruptedError: ModelConnectionError,
    zf.APITimeoutError: ModelTimeoutError,
    zf.ContentFilterError: ModelInvalidRequestError,
}


@dataclass
class Seen:
    """What the user of an adapter saw."""

    text: str
    error: BaseException | None
    active: int


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without waiting: the adapters build their core clients internally."""

    async def no_sleep(seconds: float) -> None:
        return None

    monkeypatch.setattr(zf.ZhipuClient, "_sleep", staticmethod(lambda seconds: None))
    monkeypatch.setattr(zf.AsyncZhipuClient, "_sleep", staticmethod(no_sleep))


def _lc(url: str, http: httpx.Client | None, ahttp: httpx.AsyncClient | None) -> ChatZhipuFlash:
    return ChatZhipuFlash(
        model=MODEL,
        api_key=API_KEY,
        base_url=url,
        timeout=httpx.Timeout(ADAPTER_TIMEOUT, connect=1.0),
        max_retries=2,
        http_client=http,
        async_http_client=ahttp,
    )


def _li(url: str, http: httpx.Client | None, ahttp: httpx.AsyncClient | None) -> ZhipuFlash:
    return ZhipuFlash(
        MODEL,
        api_key=API_KEY,
        base_url=url,
        timeout=ADAPTER_TIMEOUT,
        max_retries=2,
        http_client=http,
        async_http_client=ahttp,
    )


USER_LI = [ChatMessage(role="user", content="hi")]


def call(entry: str, url: str) -> Seen:
    """Run one adapter entry point to the end; the pools are the test's own, so they can be
    inspected and closed."""
    texts: list[str] = []
    err: BaseException | None = None
    if "astream" not in entry:
        with httpx.Client() as http:
            try:
                if entry == "lc-invoke":
                    texts.append(_lc(url, http, None).invoke("hi").text)
                elif entry == "lc-stream":
                    for c in _lc(url, http, None).stream("hi"):
                        texts.append(c.text)
                elif entry == "li-chat":
                    texts.append(_li(url, http, None).chat(USER_LI).message.content or "")
                else:
                    for r in _li(url, http, None).stream_chat(USER_LI):
                        texts.append(r.delta or "")
            except Exception as exc:
                err = exc
            return Seen("".join(texts), err, active_connections(http))

    async def go() -> Seen:
        nonlocal err
        async with httpx.AsyncClient() as ahttp:
            try:
                if entry == "lc-astream":
                    async for c in _lc(url, None, ahttp).astream("hi"):
                        texts.append(c.text)
                else:
                    async for r in await _li(url, None, ahttp).astream_chat(USER_LI):
                        texts.append(r.delta or "")
            except Exception as exc:
                err = exc
            return Seen("".join(texts), err, active_connections(ahttp))

    return asyncio.run(go())


def ok(entry: str, texts: list[str] = TEXTS) -> Respond | Stream:
    if entry == "lc-invoke":
        return Respond(200, completion_body("".join(texts)))
    return sse(*text_frames(texts))


def assert_typed(entry: str, err: BaseException | None, cls: type[zf.ZhipuError]) -> zf.ZhipuError:
    """The error is the core class (exactly, for LlamaIndex), and for LangChain also the
    matching langchain-core class."""
    assert isinstance(err, cls), repr(err)
    if entry.startswith("lc-"):
        assert type(err).__name__.startswith("ZhipuFlash")
        assert isinstance(err, LC_CLASSES[cls])
        assert type(err).__mro__[1] is cls  # the core class first: is_retryable comes from it
    else:
        assert type(err) is cls
    return err


# --- failures to open: the same retry rules through every entry point ---------------------

OpenFault = Callable[[str], tuple[Reply, ...]]
OPEN_FAULTS: dict[str, tuple[OpenFault, type[zf.ZhipuError] | None, int, str | None]] = {
    # name: (replies for the entry point, expected error or None, requests, code)
    "1302-then-ok": (lambda e: (error(429, "1302", "cap"), ok(e)), None, 2, None),
    "1305-always": (lambda e: (error(429, "1305", "overloaded"),), zf.RateLimitError, 3, "1305"),
    "1113": (lambda e: (error(429, "1113", "余额不足"), ok(e)), zf.QuotaExceededError, 1, "1113"),
    "1308": (lambda e: (error(429, "1308", "Usage limit"),), zf.QuotaExceededError, 1, "1308"),
    "503-then-ok": (lambda e: (error(503, None, "busy"), ok(e)), None, 2, None),
    "reset-then-ok": (lambda e: (Drop("reset"), ok(e)), None, 2, None),
    "reset-always": (lambda e: (Drop("reset"),), zf.APIConnectionError, 3, None),
}


@pytest.mark.parametrize("fault", list(OPEN_FAULTS))
@pytest.mark.parametrize("entry", ENTRIES)
def test_open_faults(server: FaultServer, entry: str, fault: str) -> None:
    replies, cls, requests, code = OPEN_FAULTS[fault]
    url = server.script("k", *replies(entry))
    seen = call(entry, url)
    assert server.count("k") == requests
    assert seen.active == 0
    if cls is None:
        assert seen.error is None, repr(seen.error)
        assert seen.text == "".join(TEXTS)
        return
    err = assert_typed(entry, seen.error, cls)
    assert err.code == code
    assert err.partial is None and seen.text == ""


# --- failures after the first chunk: never retried, partial output kept -------------------


def _frames(k: int) -> list[bytes]:
    return [chunk(t) for t in TEXTS[:k]]


STREAM_FAULTS: dict[str, tuple[Reply, type[zf.ZhipuError], str, str | None]] = {
    # name: (reply, expected error, partial text, code)
    "cut-after-2": (sse(*_frames(2), ending="cut"), zf.StreamInterruptedError, "你好，世界", None),
    "eof-without-done": (
        sse(*_frames(1), chunked=False),
        zf.StreamInterruptedError,
        "你好",
        None,
    ),
    "stall": (sse(*_frames(2), Stall()), zf.APITimeoutError, "你好，世界", None),
    "error-frame-1301": (
        sse(*_frames(1), frames.event(frames.error("1301", "sensitive")), DONE),
        zf.ContentFilterError,
        "你好",
        "1301",
    ),
    "error-frame-1305": (
        sse(*_frames(2), frames.event(frames.error("1305", "busy")), DONE),
        zf.RateLimitError,
        "你好，世界",
        "1305",
    ),
    "network_error": (
        sse(*_frames(3), chunk("", finish="network_error", usage=USAGE), DONE),
        zf.StreamInterruptedError,
        "你好，世界！🌍",
        None,
    ),
}


@pytest.mark.parametrize("fault", list(STREAM_FAULTS))
@pytest.mark.parametrize("entry", STREAMING)
def test_stream_faults(server: FaultServer, entry: str, fault: str) -> None:
    reply, cls, partial, code = STREAM_FAULTS[fault]
    url = server.script("k", reply, ok(entry))  # a retry would get a clean answer: none comes
    seen = call(entry, url)
    err = assert_typed(entry, seen.error, cls)
    assert err.code == code
    assert err.partial is not None and err.partial.content == partial
    if entry != "li-chat":  # chat() returns nothing when it fails; the streams yielded this
        assert seen.text == partial
    assert server.count("k") == 1
    assert seen.active == 0
    if fault == "stall":
        assert server.wait_hangups("k")


def test_lc_invoke_body_cut_after_status_is_retried(server: FaultServer) -> None:
    """``invoke`` is a non-streamed call: its mid-body fault is a JSON body cut short."""
    broken = Respond(200, completion_body("".join(TEXTS)), cut_at=12)
    url = server.script("k", broken, ok("lc-invoke"))
    seen = call("lc-invoke", url)
    assert seen.error is None and seen.text == "".join(TEXTS)
    assert server.count("k") == 2
    url = server.script("always", broken)
    seen = call("lc-invoke", url)
    assert_typed("lc-invoke", seen.error, zf.APIConnectionError)
    assert server.count("always") == 3


# --- exact text whatever the framing -------------------------------------------------------


@pytest.mark.parametrize("entry", STREAMING)
def test_torn_utf8_crlf_and_comments_give_exact_text(server: FaultServer, entry: str) -> None:
    texts = ["中文", "𝄞 é", "🌍\u2028🐢"]
    body = b": hello\r\n\r\n" + b"".join(text_frames(texts)).replace(b"\n\n", b"\r\n\r\n")
    cuts = [i for i in range(1, len(body)) if 0x80 <= body[i] <= 0xBF or body[i - 1] == 0x0D]
    bounds = [0, *cuts, len(body)]
    pieces = [body[a:b] for a, b in itertools.pairwise(bounds)]
    url = server.script("k", sse(*pieces, pause=0.002))
    seen = call(entry, url)
    assert seen.error is None, repr(seen.error)
    assert seen.text == "".join(texts)
    assert seen.active == 0


# --- leaving early releases the connection ------------------------------------------------


def test_lc_stream_break_closes_the_connection(server: FaultServer) -> None:
    url = server.script("k", sse(chunk("one"), chunk("two"), Stall()))
    with httpx.Client() as http:
        stream = cast("Generator[Any, None, None]", _lc(url, http, None).stream("hi"))
        for _ in stream:
            break
        stream.close()  # what a for loop's generator gets on garbage collection
        assert server.wait_hangups("k")
        assert active_connections(http) == 0


async def test_li_astream_chat_aclose_closes_the_connection(server: FaultServer) -> None:
    url = server.script("k", sse(chunk("one"), chunk("two"), Stall()))
    async with httpx.AsyncClient() as ahttp:
        gen = await _li(url, None, ahttp).astream_chat(USER_LI)
        async for _ in gen:
            break
        await gen.aclose()
        assert await asyncio.to_thread(server.wait_hangups, "k")
        assert active_connections(ahttp) == 0


# --- secrets -------------------------------------------------------------------------------


def test_adapters_carry_the_key_only_as_a_secret(server: FaultServer) -> None:
    """repr, str, model_dump, JSON and LangChain serialisation of both models hide the key."""
    lc = ChatZhipuFlash(
        model=MODEL, api_key=API_KEY, base_url=server.url("k"), timeout=httpx.Timeout(1.0)
    )
    li = _li(server.url("k"), None, None)
    texts: list[Any] = [
        repr(lc),
        str(lc),
        lc.model_dump(),
        lc.model_dump_json(),
        dumps(lc),
        dumpd(lc),
        repr(li),
        str(li),
        li.model_dump(),
        li.model_dump_json(),
        li.to_json(),
        li.to_dict(),
    ]
    for text in texts:
        assert API_KEY not in str(text)


@pytest.mark.parametrize("entry", ENTRIES)
def test_key_never_in_adapter_errors_or_logs(
    server: FaultServer, entry: str, caplog: pytest.LogCaptureFixture
) -> None:
    for logger in ("", "zhipu_flash", "langchain_zhipu_flash", "llama_index_zhipu_flash"):
        caplog.set_level(logging.DEBUG, logger=logger)
    for logger in ("httpx", "httpcore", "langchain_core", "llama_index"):
        caplog.set_level(logging.DEBUG, logger=logger)
    url = server.script("k", error(401, "1002", "Authorization Token非法"))
    seen = call(entry, url)
    err = assert_typed_auth(entry, seen.error)
    assert server.received("k")[0].headers["authorization"] == f"Bearer {API_KEY}"
    cause: BaseException | None = err
    while cause is not None:
        for text in (str(cause), repr(cause), str(vars(cause))):
            assert API_KEY not in text
        cause = cause.__cause__ or cause.__context__
    assert API_KEY not in "".join(traceback.format_exception(err))
    assert API_KEY not in caplog.text


def assert_typed_auth(entry: str, err: BaseException | None) -> zf.ZhipuError:
    assert isinstance(err, zf.AuthenticationError), repr(err)
    if entry.startswith("lc-"):
        assert isinstance(err, ModelAuthenticationError)
    assert err.code == "1002"
    return err
