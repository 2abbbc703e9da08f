"""One worker process of the shared-limit tests: ``python -m tests.shared_limit._worker JSON``.

It builds its client (core, LangChain or LlamaIndex), prints ``ready``, waits for a line on
stdin (so every worker starts sending at once), sends its requests and prints one JSON line:
the answers, the errors (type and code), the :class:`~zhipu_flash.SharedLimitWarning`\\ s and
the shared-limit events logged. Mode ``hold`` prints ``streaming`` after the first chunk and
then keeps the stream open until it is killed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import zhipu_flash as zf
from zhipu_flash.model_clients import SharedLimitEvent

MODEL = "glm-4-flash-250414"
PROMPT = "Hi"


class _Events(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.kinds: list[str] = []
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "zhipu_flash_event", None)
        if isinstance(event, SharedLimitEvent):
            self.kinds.append(event.kind)
            self.messages.append(record.getMessage())


def _error(exc: BaseException) -> dict[str, Any]:
    return {"type": type(exc).__name__, "code": getattr(exc, "code", None), "text": str(exc)}


async def _core_async(cfg: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    client = zf.AsyncZhipuClient(**cfg["client"])
    messages = [{"role": "user", "content": PROMPT}]

    async def one() -> str:
        async with client.stream(model=MODEL, messages=messages) as stream:
            async for _ in stream:
                pass
            return (await stream.get_final_completion()).content or ""

    results = await asyncio.gather(*(one() for _ in range(cfg["n"])), return_exceptions=True)
    await client.aclose()
    return _split(results)


def _core_sync(cfg: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    client = zf.ZhipuClient(**cfg["client"])
    messages = [{"role": "user", "content": PROMPT}]

    def one(_: int) -> str | BaseException:
        try:
            with client.stream(model=MODEL, messages=messages) as stream:
                return stream.get_final_completion().content or ""
        except zf.ZhipuError as exc:
            return exc

    with ThreadPoolExecutor(cfg["n"]) as pool:
        results = list(pool.map(one, range(cfg["n"])))
    client.close()
    return _split(results)


async def _langchain(cfg: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    from langchain_zhipu_flash import ChatZhipuFlash

    llm = ChatZhipuFlash(model=MODEL, streaming=True, **cfg["client"])
    messages = await llm.abatch([PROMPT] * cfg["n"], return_exceptions=True)
    await llm.aclose()
    return _split([m if isinstance(m, BaseException) else str(m.content) for m in messages])


async def _llama_index(cfg: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    from llama_index.core import Document, MockEmbedding, VectorStoreIndex

    from llama_index_zhipu_flash import ZhipuFlash

    docs = [
        Document(text="The Yangtze is the longest river in China."),
        Document(text="Paris is the capital of France."),
    ]
    index = VectorStoreIndex.from_documents(docs, embed_model=MockEmbedding(embed_dim=8))
    llm = ZhipuFlash(model=MODEL, **cfg["client"])
    engine = index.as_query_engine(llm=llm)
    questions = ["What is the capital of France?"] * cfg["n"]
    results = await asyncio.gather(*(engine.aquery(q) for q in questions), return_exceptions=True)
    await llm.aclose()
    return _split([r if isinstance(r, BaseException) else str(r).strip() for r in results])


def _hold(cfg: dict[str, Any]) -> None:
    client = zf.ZhipuClient(**cfg["client"])
    messages = [{"role": "user", "content": PROMPT}]
    with client.stream(model=MODEL, messages=messages) as stream:
        next(iter(stream))
        print("streaming", flush=True)
        threading.Event().wait()  # until SIGKILL


def _split(results: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    answers = [r for r in results if isinstance(r, str)]
    errors = [_error(r) for r in results if isinstance(r, BaseException)]
    return answers, errors


def main() -> None:
    cfg = json.loads(sys.argv[1])
    # The frameworks load before "ready": the start barrier is for requests, not imports.
    if cfg["mode"] == "langchain":
        import langchain_zhipu_flash  # noqa: F401
    elif cfg["mode"] == "llama-index":
        import llama_index.core  # noqa: F401

        import llama_index_zhipu_flash  # noqa: F401
    events = _Events()
    logging.getLogger("zhipu_flash").addHandler(events)
    logging.getLogger("zhipu_flash").setLevel(logging.INFO)
    print("ready", flush=True)
    sys.stdin.readline()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mode = cfg["mode"]
        if mode == "hold":
            _hold(cfg)
            return
        if mode == "core-sync":
            answers, errors = _core_sync(cfg)
        else:
            run = {"core-async": _core_async, "langchain": _langchain, "llama-index": _llama_index}
            answers, errors = asyncio.run(run[mode](cfg))
    shared = [str(w.message) for w in caught if issubclass(w.category, zf.SharedLimitWarning)]
    report = {
        "answers": answers,
        "errors": errors,
        "warnings": shared,
        "events": events.kinds,
        "event_messages": events.messages,
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
