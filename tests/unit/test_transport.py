"""The clients' own transports (zhipu_flash/_transport.py): no SSL context until an https
request needs one, and the async pool split into shards when many streams are open at once.

Against the loopback emulator; nothing here is timed."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import zhipu_flash as zf
from glm_emulator.server import running_emulator, serving_emulator
from zhipu_flash._transport import SHARD_CONNECTIONS, LazyTLSTransport, ShardedAsyncTransport

MODEL = "glm-4.7-flash"
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def ssl_contexts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every verifying SSL context built (httpx builds them with ssl.create_default_context)."""
    built: list[Any] = []
    real = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    return built


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_emulator() as url:
        yield url


def _connections(transport: Any) -> list[int]:
    """Open connections per httpx pool of one of our transports."""
    return [len(t._pool.connections) for t in transport.transports()]


# -- start-up: no SSL context before an https request --------------------------------------


def test_http_client_builds_no_ssl_context(ssl_contexts: list[Any], base_url: str) -> None:
    # Fails on the old code: httpx.Client() loads certifi's bundle at construction.
    with zf.ZhipuClient(api_key="k", base_url=base_url) as client:
        assert client.create(model=MODEL, messages=HELLO).choices[0].message.content
    assert ssl_contexts == []


async def test_async_http_client_builds_no_ssl_context(
    ssl_contexts: list[Any], base_url: str
) -> None:
    async with (
        zf.AsyncZhipuClient(api_key="k", base_url=base_url) as client,
        client.stream(model=MODEL, messages=HELLO) as stream,
    ):
        assert (await stream.get_final_completion()).choices[0].message.content
    assert ssl_contexts == []


def test_https_client_builds_its_verifying_context_on_first_request(
    ssl_contexts: list[Any],
) -> None:
    client = zf.ZhipuClient(api_key="k", base_url="https://127.0.0.1:9/api/paas/v4")
    assert ssl_contexts == []  # nothing at construction
    with pytest.raises(zf.APIConnectionError):  # nothing listens on port 9
        client.create(model=MODEL, messages=HELLO)
    # httpx's own verifying context (certifi's CAs, or SSL_CERT_FILE / SSL_CERT_DIR): what
    # verify=True always meant.
    assert len(ssl_contexts) == 1
    (pool,) = client._http._transport.transports()
    context = pool._pool._ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    client.close()


def test_plain_http_pool_cannot_carry_unverified_tls(base_url: str) -> None:
    transport = LazyTLSTransport()
    with httpx.Client(transport=transport) as http:
        http.get(base_url.replace("/api/paas/v4", "/"))
        (pool,) = transport.transports()
    context = pool._pool._ssl_context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0  # no CA loaded: nothing verifies


def test_import_skips_httpx_command_line() -> None:
    # Fails on the old code when click and rich are installed (they are in the test env):
    # `import httpx` imports httpx._main, which imports both.
    pytest.importorskip("click")
    pytest.importorskip("rich")
    code = (
        "import sys, zhipu_flash, httpx\n"
        "print('httpx._main' in sys.modules, 'rich' in sys.modules)\n"
        "import httpx._main\n"  # still importable on demand
        "print(callable(httpx.main))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False", "True"]


@pytest.mark.parametrize(
    ("adapter", "framework"),
    [("langchain_zhipu_flash", "langchain_core"), ("llama_index_zhipu_flash", "llama_index.core")],
)
def test_adapter_import_skips_httpx_command_line(adapter: str, framework: str) -> None:
    # llama_index_zhipu_flash imported httpx itself before zhipu_flash (its framework imports
    # none), so httpx brought its command line, rich and click (about 60 ms).
    pytest.importorskip("click")
    pytest.importorskip("rich")
    pytest.importorskip(framework)
    code = f"import sys, {adapter}\nprint('httpx._main' in sys.modules, 'rich' in sys.modules)\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]


def test_httpx_main_still_runs_the_command_line() -> None:
    pytest.importorskip("click")
    pytest.importorskip("rich")
    code = "import zhipu_flash, httpx, sys\nsys.argv = ['httpx', '--help']\nhttpx.main()\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0
    assert "Usage: httpx" in result.stdout


# -- many streams: the sharded async pool ------------------------------------------------------


async def _stream_text(client: zf.AsyncZhipuClient, prompt: str) -> str:
    parts = []
    async with client.stream(model=MODEL, messages=[{"role": "user", "content": prompt}]) as stream:
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                parts.append(chunk.delta.content)
        assert (await stream.get_final_completion()).choices[0].finish_reason == "stop"
    return "".join(parts)


async def test_many_streams_open_at_once_all_exact(base_url: str) -> None:
    streams = 3 * SHARD_CONNECTIONS
    # hold: the emulator answers no request until `streams` are open (or 10 s pass), so a
    # pool that caps connections below that shows up as a lower peak.
    with serving_emulator(hold=streams, hold_timeout=10) as server:
        async with zf.AsyncZhipuClient(
            api_key="k", base_url=server.base_url, max_concurrency=streams
        ) as client:
            texts = await asyncio.gather(*(_stream_text(client, "hello") for _ in range(streams)))
            transport = client._http._transport
            assert isinstance(transport, ShardedAsyncTransport)
            pools = _connections(transport)
        # Fails on the old code: 50 connections at most, whatever max_concurrency said.
        assert server.peak_in_flight == streams
    with zf.ZhipuClient(api_key="k", base_url=base_url) as alone:
        want = "".join(
            c.delta.content or "" for c in alone.stream(model=MODEL, messages=HELLO) if c.delta
        )
    assert texts == [want] * streams and want
    assert len(pools) == 3
    assert all(n <= SHARD_CONNECTIONS for n in pools)
    assert sum(pools) <= streams


async def test_without_max_concurrency_one_pool_of_the_default_size() -> None:
    streams = SHARD_CONNECTIONS + 20
    with serving_emulator() as server:
        async with zf.AsyncZhipuClient(api_key="k", base_url=server.base_url) as client:
            want = await _stream_text(client, "hello")
            texts = await asyncio.gather(*(_stream_text(client, "hello") for _ in range(streams)))
            pools = _connections(client._http._transport)
        assert server.peak_in_flight <= SHARD_CONNECTIONS  # the rest queued in the pool
    assert texts == [want] * streams
    assert len(pools) == 1 and pools[0] <= SHARD_CONNECTIONS


async def test_sequential_streams_reuse_one_connection(base_url: str) -> None:
    async with zf.AsyncZhipuClient(api_key="k", base_url=base_url, max_concurrency=500) as client:
        for _ in range(5):
            assert await _stream_text(client, "hello")
        assert _connections(client._http._transport) == [1]


async def test_aclose_closes_every_shard() -> None:
    streams = 2 * SHARD_CONNECTIONS
    with serving_emulator(hold=streams, hold_timeout=10) as server:
        client = zf.AsyncZhipuClient(api_key="k", base_url=server.base_url, max_concurrency=streams)
        await asyncio.gather(*(_stream_text(client, "hello") for _ in range(streams)))
        transport = client._http._transport
        pools = transport.transports()
        assert len(pools) == 2 and all(p._pool.connections for p in pools)
        await client.aclose()
    assert client._http.is_closed
    assert all(not p._pool.connections for p in pools)  # every keep-alive socket closed
    assert transport.transports() == []


async def test_a_failed_request_gives_its_slot_back() -> None:
    transport = ShardedAsyncTransport(httpx.Limits(max_connections=2 * SHARD_CONNECTIONS))
    async with httpx.AsyncClient(transport=transport) as http:
        for _ in range(SHARD_CONNECTIONS + 1):
            with pytest.raises(httpx.ConnectError):
                await http.get("http://127.0.0.1:9/")
        # Had the failures kept their slots, the last one would have opened a second pool.
        assert len(transport.transports()) == 1


def test_sync_client_keeps_one_pool_sized_by_max_concurrency(base_url: str) -> None:
    with zf.ZhipuClient(api_key="k", base_url=base_url, max_concurrency=200) as client:
        client.create(model=MODEL, messages=HELLO)
        transport = client._http._transport
        assert isinstance(transport, LazyTLSTransport)
        (pool,) = transport.transports()
        assert pool._pool._max_connections == 200
    with zf.ZhipuClient(api_key="k", base_url=base_url) as client:
        client.create(model=MODEL, messages=HELLO)
        (pool,) = client._http._transport.transports()
        assert pool._pool._max_connections == 50  # DEFAULT_LIMITS, as before
