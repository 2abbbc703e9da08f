"""Every fault, on real sockets, through ``ZhipuClient`` and ``AsyncZhipuClient`` from the same
tests: the typed error and its code, how many requests the server saw, the partial output,
no hang, exact text, and the connection back in the pool (or closed)."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from typing import Any

import httpx
import pytest

import zhipu_flash as zf
from tests.faults._support import (
    API_KEY,
    DONE,
    FAST,
    MODEL,
    USAGE,
    USER,
    active_connections,
    chunk,
    completion_body,
    run,
    text_frames,
)
from tests.faults.server import (
    Drop,
    FaultServer,
    Respond,
    Stall,
    Stream,
    Write,
    drip,
    error,
    sse,
)
from tests.wire import wire_body

# Error bodies as GLM sends them (1113 and 1305 are recorded samples; 1302 and 1308 use the
# documented wording, docs/glm-api.md §8.2).
BODY_1113 = wire_body("error_1113_no_balance_http429_cowagent-issue-2910.json")
BODY_1305 = wire_body("error_1305_overloaded_en_http429_test-fixture.json")
BODY_1302 = json.dumps(
    {"error": {"code": "1302", "message": "您的账户已达到速率限制，请您控制请求频率"}},
    ensure_ascii=False,
).encode()
BODY_1308 = (
    b'{"error":{"code":"1308","message":"Usage limit reached for 5 hour. '
    b'Your limit will reset at 2026-11-24 08:00:00"}}'
)
BODIES = {"1302": BODY_1302, "1305": BODY_1305, "1113": BODY_1113, "1308": BODY_1308}
TEXTS = ["你好", "，世界", "！🌍"]
# The server gives up a stall after 5 s; a fault handled by a 0.3-1 s timeout ends far sooner.
NO_HANG = 3.0


@pytest.fixture(params=["stream", "create"])
def op(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ok(op: str, texts: list[str] = TEXTS) -> Respond | Stream:
    """A successful answer for ``op``."""
    if op == "create":
        return Respond(200, completion_body("".join(texts)))
    return sse(*text_frames(texts))


def assert_success(out: Any, texts: list[str] = TEXTS) -> None:
    assert out.error is None, out.error
    assert out.final is not None
    assert out.final.content == "".join(texts)
    assert out.final.finish_reason == "stop"
    assert out.active == 0


def assert_same_request(server: FaultServer, key: str) -> None:
    bodies = {r.body for r in server.received(key)}
    assert len(bodies) == 1, "a retry must send the very same request"


# --- 429: retried or not, by business code ------------------------------------------------


@pytest.mark.parametrize("retry_after", [None, "1"], ids=["no-retry-after", "retry-after"])
@pytest.mark.parametrize(
    ("code", "cls", "retried"),
    [
        ("1302", zf.RateLimitError, True),
        ("1305", zf.RateLimitError, True),
        ("1113", zf.QuotaExceededError, False),
        ("1308", zf.QuotaExceededError, False),
    ],
)
def test_429_by_code(
    server: FaultServer,
    mode: str,
    op: str,
    code: str,
    cls: type[zf.ZhipuError],
    retried: bool,
    retry_after: str | None,
) -> None:
    url = server.script("k", error(429, None, "", body=BODIES[code], retry_after=retry_after))
    out = run(mode, url, op=op, max_retries=2)
    assert type(out.error) is cls
    assert out.error.code == code and out.error.status_code == 429
    assert out.error.partial is None and out.chunks == []
    assert server.count("k") == (3 if retried else 1)
    assert_same_request(server, "k")
    assert out.active == 0
    if not retried:
        assert out.slept == []
    elif retry_after is not None:
        assert out.slept == [1.0, 1.0]  # the server's Retry-After wins over backoff
    elif code == "1305":  # platform overload: the longer base delay, with jitter
        assert 1.0 <= out.slept[0] <= 2.0 and 2.0 <= out.slept[1] <= 4.0
    else:
        assert 0.25 <= out.slept[0] <= 0.5 and 0.5 <= out.slept[1] <= 1.0


@pytest.mark.parametrize("code", ["1302", "1305"])
def test_429_then_success(server: FaultServer, mode: str, op: str, code: str) -> None:
    url = server.script("k", error(429, None, "", body=BODIES[code]), ok(op))
    out = run(mode, url, op=op)
    assert_success(out)
    assert server.count("k") == 2
    assert_same_request(server, "k")


def test_retry_after_longer_than_a_minute_gives_up_at_once(server: FaultServer, mode: str) -> None:
    url = server.script("k", error(429, None, "", body=BODY_1302, retry_after="3600"), ok("stream"))
    out = run(mode, url)
    assert isinstance(out.error, zf.RateLimitError)
    assert server.count("k") == 1 and out.slept == []


# --- 5xx ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_once_then_success(server: FaultServer, mode: str, op: str, status: int) -> None:
    url = server.script("k", error(status, None, "busy"), ok(op))
    out = run(mode, url, op=op)
    assert_success(out)
    assert server.count("k") == 2


@pytest.mark.parametrize(("max_retries", "requests"), [(0, 1), (2, 3)])
def test_5xx_until_attempts_run_out(
    server: FaultServer, mode: str, op: str, max_retries: int, requests: int
) -> None:
    gateway = Respond(502, b"<html>Bad gateway</html>", (("Content-Type", "text/html"),))
    url = server.script("k", gateway)
    out = run(mode, url, op=op, max_retries=max_retries)
    assert type(out.error) is zf.InternalServerError
    assert out.error.status_code == 502 and "Bad gateway" in str(out.error.body)
    assert server.count("k") == requests
    assert out.active == 0


# --- no response at all -------------------------------------------------------------------


@pytest.mark.parametrize("how", ["reset", "close"])
def test_dropped_before_headers_once_then_success(
    server: FaultServer, mode: str, op: str, how: str
) -> None:
    url = server.script("k", Drop(how), ok(op))  # type: ignore[arg-type]
    out = run(mode, url, op=op)
    assert_success(out)
    assert server.count("k") == 2
    assert server.connections_opened == 2  # the broken connection was not reused


@pytest.mark.parametrize("how", ["reset", "close"])
def test_dropped_before_headers_every_time(
    server: FaultServer, mode: str, op: str, how: str
) -> None:
    url = server.script("k", Drop(how))  # type: ignore[arg-type]
    out = run(mode, url, op=op)
    assert type(out.error) is zf.APIConnectionError
    assert out.error.is_retryable
    assert isinstance(out.error.__cause__, httpx.TransportError)
    assert server.count("k") == 3
    assert out.active == 0


def test_silence_before_headers_times_out_and_is_retried(
    server: FaultServer, mode: str, op: str
) -> None:
    url = server.script("k", Drop("stall"), ok(op))
    out = run(mode, url, op=op, timeout=httpx.Timeout(0.2, connect=1.0))
    assert_success(out)
    assert server.count("k") == 2
    assert server.wait_hangups("k", 1)  # the client closed the silent connection
    url = server.script("s", Drop("stall"))
    out = run(mode, url, op=op, max_retries=1, timeout=httpx.Timeout(0.2, connect=1.0))
    assert type(out.error) is zf.APITimeoutError
    assert server.count("s") == 2 and out.elapsed < NO_HANG
    assert server.wait_hangups("s", 2)


# --- broken after the headers: never retried ----------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 3])
@pytest.mark.parametrize(
    ("ending", "chunked"),
    [("cut", True), ("reset", True), ("complete", False)],
    ids=["fin-inside-chunked-body", "rst-inside-body", "clean-eof-without-done"],
)
def test_connection_lost_mid_stream(
    server: FaultServer, mode: str, k: int, ending: str, chunked: bool
) -> None:
    frames = [chunk(t) for t in TEXTS][:k]
    # The pause lets every byte reach the client before an RST (which may discard unread data).
    url = server.script("k", sse(*frames, Stall(0.05), ending=ending, chunked=chunked, pause=0.01))  # type: ignore[arg-type]
    out = run(mode, url)
    assert type(out.error) is zf.StreamInterruptedError
    assert out.error.is_retryable  # the caller may retry; the client never does mid-stream
    assert out.error.partial is not None
    assert out.error.partial.content == "".join(TEXTS[:k]) == out.text
    assert len(out.chunks) == k
    assert server.count("k") == 1
    assert out.active == 0


def test_stall_mid_stream_times_out_with_partial(server: FaultServer, mode: str) -> None:
    url = server.script("k", sse(chunk("半"), chunk("途"), Stall()))
    out = run(mode, url, timeout=httpx.Timeout(0.3, connect=1.0))
    assert type(out.error) is zf.APITimeoutError
    assert out.error.partial is not None and out.error.partial.content == "半途" == out.text
    assert 0.3 <= out.elapsed < NO_HANG
    assert server.count("k") == 1
    assert server.wait_hangups("k")  # the client hung up; the server was not left waiting
    assert out.active == 0


def test_slow_drip_is_not_a_timeout(server: FaultServer, mode: str) -> None:
    body = b"".join(text_frames(["慢", "慢来🐢"]))
    url = server.script("k", sse(*drip(body, size=2, pause=0.002)))
    # The read timeout bounds each gap, not the whole answer: ~0.5 s of 2 ms gaps is fine.
    out = run(mode, url, timeout=httpx.Timeout(0.25, connect=1.0))
    assert_success(out, ["慢", "慢来🐢"])
    assert out.elapsed > 0.25
    assert len(out.chunks) == 3


# --- in-band failures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "cls", "code"),
    [
        ('data: {"error":{"code":"1301","message":"敏感内容"}}\n\n', zf.ContentFilterError, "1301"),
        ('data: {"error":{"code":1305,"message":"overloaded"}}\n\n', zf.RateLimitError, "1305"),
        (
            'event: error\ndata: {"error":{"code":"1302","message":"cap"}}\n\n',
            zf.RateLimitError,
            "1302",
        ),
        ('data:{"error":{"code":"1113","message":"余额不足"}}\n\n', zf.QuotaExceededError, "1113"),
    ],
    ids=["1301", "1305", "event-error-1302", "1113-no-space"],
)
def test_error_frame_mid_stream(
    server: FaultServer, mode: str, frame: str, cls: type[zf.ZhipuError], code: str
) -> None:
    url = server.script("k", sse(chunk("so "), chunk("far"), frame.encode(), DONE))
    out = run(mode, url)
    assert type(out.error) is cls and out.error.code == code
    assert out.error.status_code is None  # in-band: the HTTP status was 200
    assert out.error.partial is not None and out.error.partial.content == "so far" == out.text
    assert server.count("k") == 1  # even retryable codes: text was already handed out
    assert out.active == 0


def test_network_error_finish_reason(server: FaultServer, mode: str) -> None:
    url = server.script(
        "k", sse(chunk("abc"), chunk("", finish="network_error", usage=USAGE), DONE)
    )
    out = run(mode, url)
    assert type(out.error) is zf.StreamInterruptedError
    assert "network_error" in str(out.error)
    partial = out.error.partial
    assert partial is not None and partial.content == "abc" and partial.usage is not None
    assert server.count("k") == 1 and out.active == 0


def test_sensitive_finish_reason_is_returned_and_logged(
    server: FaultServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "zhipu_flash")
    url = server.script("k", sse(chunk("abc"), chunk("", finish="sensitive", usage=USAGE), DONE))
    out = run(mode, url)
    assert out.error is None and out.final is not None
    assert out.final.finish_reason == "sensitive" and out.final.content == "abc"
    assert "sensitive" in caplog.text
    assert out.active == 0


BAD = b'data: {"id":"r","choices":[{"delta":{"content":"\\",}}]}\n\n'


def test_malformed_frame_is_skipped(
    server: FaultServer, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = server.script("k", sse(chunk("a"), BAD, *text_frames(["b"])))
    out = run(mode, url)
    assert out.error is None and out.final is not None
    assert out.final.content == "ab" and out.final.malformed_frames == 1
    assert "undecodable" in caplog.text
    assert out.active == 0


def test_malformed_frame_raises_when_asked(server: FaultServer, mode: str) -> None:
    url = server.script("k", sse(chunk("a"), BAD, *text_frames(["b"])))
    out = run(mode, url, on_malformed="raise")
    assert type(out.error) is zf.StreamDecodeError
    assert out.error.partial is not None and out.error.partial.content == "a" == out.text
    assert server.count("k") == 1 and out.active == 0


def test_endless_line_is_bounded(server: FaultServer, mode: str) -> None:
    # The public clients keep the decoder's 16 MiB line bound (no argument changes it), so the
    # server really sends 17 MiB without a newline; loopback makes that quick.
    endless = Write(b"data: " + b"x" * (17 * 1024 * 1024))
    url = server.script("k", sse(chunk("before"), endless, DONE))
    out = run(mode, url)
    assert type(out.error) is zf.StreamDecodeError
    assert "16777216" in str(out.error)
    assert out.error.partial is not None and out.error.partial.content == "before"
    assert server.count("k") == 1 and out.active == 0
    assert out.elapsed < 10.0


# --- framing: exact text whatever the bytes look like --------------------------------------


def _split_inside_characters(data: bytes) -> list[bytes]:
    """Cut ``data`` before every UTF-8 continuation byte: each multi-byte character is torn."""
    cuts = [i for i in range(1, len(data)) if 0x80 <= data[i] <= 0xBF]
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


UTF8_TEXTS = ["中文", "𝄞 é ü", "🌍🐢", "\u2028 and \u2029 stay"]


def test_utf8_split_across_tcp_writes(server: FaultServer, mode: str) -> None:
    pieces = _split_inside_characters(b"".join(text_frames(UTF8_TEXTS)))
    url = server.script("k", sse(*pieces, pause=0.003))
    out = run(mode, url)
    assert_success(out, UTF8_TEXTS)
    assert out.text == "".join(UTF8_TEXTS)


def test_split_characters_really_arrive_separately(server: FaultServer) -> None:
    """The rig itself: with TCP_NODELAY and pauses, the client reads the torn pieces one by
    one, so the test above really feeds the decoder half characters."""
    pieces = _split_inside_characters("data: 中文🌍\n\n".encode())
    url = server.script("k", sse(*pieces, pause=0.02))
    with (
        httpx.Client() as http,
        http.stream("POST", url + "/chat/completions", content=b"{}") as response,
    ):
        received = list(response.iter_raw())
    assert b"".join(received) == b"".join(pieces)
    # A loaded machine may coalesce a few writes; most still arrive as reads of their own.
    assert len(received) > len(pieces) // 2
    undecodable = 0
    for piece in received:
        try:
            piece.decode("utf-8")
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable >= 1  # at least one read held half a character


def test_crlf_comments_and_no_space(server: FaultServer, mode: str) -> None:
    def data(obj_frame: bytes) -> bytes:
        return obj_frame[len(b"data: ") :].rstrip(b"\n")

    a, b, c = (data(chunk(t)) for t in ["行一", "\r行二", "行三"])
    finish = data(chunk("", finish="stop", usage=USAGE))
    pieces = [
        b": keep-alive\r\n\r\n",
        b"data:" + a + b"\r",  # CRLF split across two writes
        b"\n\r\n",
        b":ping\n\n",
        b"data: " + b + b"\r\r",  # CR-only line ends
        b"retry: 100\r\nid: 7\r\n",
        b"data:" + c + b"\n\n",
        b"data:" + finish + b"\r\n\r\n",
        b"data:[DONE]\r\n\r\n",
    ]
    url = server.script("k", sse(*pieces, pause=0.003))
    out = run(mode, url)
    assert_success(out, ["行一", "\r行二", "行三"])
    assert len(out.chunks) == 4


# --- the connection goes back to the pool, or is closed -----------------------------------


def test_successive_calls_reuse_one_connection(server: FaultServer, mode: str) -> None:
    """A stream reads past ``[DONE]`` to the end of the body, so its connection goes back to
    the pool like ``create()``'s: three streams share one connection, three creates another
    (two clients), and closing a client closes its pooled connection."""
    url = server.script("k", ok("stream"))
    url_create = server.script("c", ok("create"))

    def sync() -> list[str]:
        texts = []
        with zf.ZhipuClient(api_key=API_KEY, base_url=url, timeout=FAST) as client:
            for _ in range(3):
                with client.stream(model=MODEL, messages=USER) as stream:
                    texts.append(stream.get_final_completion().content)
                assert active(client) == 0  # idle in the pool, not half-read
        with zf.ZhipuClient(api_key=API_KEY, base_url=url_create, timeout=FAST) as client:
            texts += [client.create(model=MODEL, messages=USER).content for _ in range(3)]
            assert active(client) == 0
        return texts

    async def aio() -> list[str]:
        texts = []
        async with zf.AsyncZhipuClient(api_key=API_KEY, base_url=url, timeout=FAST) as client:
            for _ in range(3):
                async with client.stream(model=MODEL, messages=USER) as stream:
                    texts.append((await stream.get_final_completion()).content)
                assert active(client) == 0
        async with zf.AsyncZhipuClient(api_key=API_KEY, base_url=url_create, timeout=FAST) as c:
            texts += [(await c.create(model=MODEL, messages=USER)).content for _ in range(3)]
            assert active(c) == 0
        return texts

    texts = sync() if mode == "sync" else asyncio.run(aio())
    assert texts == ["".join(TEXTS)] * 6
    assert server.count("k") == 3 and server.count("c") == 3
    assert server.connections_opened == 2  # one per client
    assert server.wait_no_connections()  # closing the clients closed the pooled ones


@pytest.mark.parametrize(
    ("after_done", "ending"),
    [
        # Then a stall: only the limit ends the drain before the read timeout.
        pytest.param((Write(b": " + b"x" * 70_000 + b"\n\n"), Stall()), "complete", id="junk"),
        pytest.param((), "cut", id="cut-before-the-terminator"),
    ],
)
def test_what_follows_done_never_costs_the_answer(
    server: FaultServer, mode: str, after_done: tuple[Write | Stall, ...], ending: str
) -> None:
    """After ``[DONE]`` the answer is complete: more bytes than the drain reads, or a
    connection cut before the chunked terminator, only mean the connection is not reused,
    at once (no wait for the read timeout) and without an error."""
    steps = (*sse(*text_frames(TEXTS)).steps, *after_done)
    url = server.script("k", Stream(steps, ending))  # type: ignore[arg-type]
    started = time.monotonic()
    out = run(mode, url)
    assert_success(out)
    assert FAST.read is not None and time.monotonic() - started < FAST.read
    assert server.wait_no_connections()  # closed, not pooled


def test_a_server_silent_after_done_delays_the_end_by_the_read_timeout(
    server: FaultServer, mode: str
) -> None:
    """The cost of reading to the end: a server that sends ``[DONE]`` and then holds the
    response open (GLM does not) delays the end of the iteration until the read timeout,
    and then the answer is still complete, never an error."""
    url = server.script("k", Stream((*sse(*text_frames(TEXTS)).steps, Stall())))
    read_timeout = 0.5
    started = time.monotonic()
    out = run(mode, url, timeout=httpx.Timeout(read_timeout, connect=1.0, pool=30.0))
    assert_success(out)
    assert read_timeout * 0.9 <= time.monotonic() - started < NO_HANG


def test_leaving_a_stream_early_closes_its_connection(server: FaultServer, mode: str) -> None:
    url = server.script("k", sse(chunk("one"), chunk("two"), Stall()))

    def sync() -> int:
        with zf.ZhipuClient(api_key=API_KEY, base_url=url, timeout=FAST) as client:
            with client.stream(model=MODEL, messages=USER) as stream:
                for _ in stream:
                    break
            assert server.wait_hangups("k")  # at once, not after the 5 s stall
            return active(client)

    async def aio() -> int:
        async with zf.AsyncZhipuClient(api_key=API_KEY, base_url=url, timeout=FAST) as client:
            async with client.stream(model=MODEL, messages=USER) as stream:
                async for _ in stream:
                    break
            assert server.wait_hangups("k")
            return active(client)

    assert (sync() if mode == "sync" else asyncio.run(aio())) == 0


def active(client: zf.ZhipuClient | zf.AsyncZhipuClient) -> int:
    return active_connections(client._http)


async def test_cancelling_a_stalled_stream_closes_its_connection(server: FaultServer) -> None:
    url = server.script("k", sse(chunk("one"), Stall()))
    started = asyncio.Event()
    async with zf.AsyncZhipuClient(api_key=API_KEY, base_url=url, timeout=FAST) as client:

        async def consume() -> None:
            async with client.stream(model=MODEL, messages=USER) as stream:
                async for _ in stream:
                    started.set()

        task = asyncio.create_task(consume())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await asyncio.to_thread(server.wait_hangups, "k")
        assert active(client) == 0


# --- a body that breaks after the status line ---------------------------------------------


@pytest.mark.parametrize("then", ["close", "stall"])
@pytest.mark.parametrize(("op", "status"), [("stream", 429), ("create", 429), ("create", 200)])
def test_body_broken_after_the_status_line(
    server: FaultServer, mode: str, op: str, status: int, then: str
) -> None:
    """The status and headers arrive, then the body breaks (a close, or silence past the read
    timeout). Nothing has reached the caller, so it is retried like any failure to open, and
    the user sees a typed error, never a bare httpx exception. (A 200 stream body is read
    chunk by chunk: that is the mid-stream tests.)"""
    body = BODY_1302 if status == 429 else completion_body("".join(TEXTS))
    broken = Respond(status, body, cut_at=10, then=then)  # type: ignore[arg-type]
    url = server.script("k", broken, ok(op))
    out = run(mode, url, op=op, timeout=httpx.Timeout(0.2, connect=1.0))
    assert_success(out)
    assert server.count("k") == 2
    url = server.script("always", broken)
    out = run(mode, url, op=op, max_retries=1, timeout=httpx.Timeout(0.2, connect=1.0))
    expected = zf.APITimeoutError if then == "stall" else zf.APIConnectionError
    assert type(out.error) is expected, repr(out.error)
    assert isinstance(out.error.__cause__, httpx.TransportError)
    assert server.count("always") == 2 and out.active == 0


def test_json_answer_to_a_stream_cut_short(server: FaultServer, mode: str) -> None:
    """A 200 ``application/json`` answer to a stream request whose body breaks: a typed
    error (the response had begun, so it is not retried)."""
    body = completion_body("".join(TEXTS))
    cut = Stream((Write(body[:10]),), ending="cut", content_type="application/json")
    url = server.script("k", cut)
    out = run(mode, url)
    assert type(out.error) is zf.StreamInterruptedError, repr(out.error)
    assert server.count("k") == 1 and out.active == 0
