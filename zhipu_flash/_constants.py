"""Numbers and names the whole core agrees on, each with the reason it has its value."""

from __future__ import annotations

import os

import httpx

#: The China platform (open.bigmodel.cn). The official ``ZhipuAiClient`` defaults here.
BIGMODEL_BASE_URL = "https://open.bigmodel.cn/api/paas/v4"
#: The international platform (api.z.ai). A separate account: keys are not shared.
ZAI_BASE_URL = "https://api.z.ai/api/paas/v4"
DEFAULT_BASE_URL = BIGMODEL_BASE_URL

#: Key variables in the order they are tried: the zhipuai SDK's name first (most apps set it),
#: then the zai SDK's name (docs.z.ai guides use it).
API_KEY_ENV_VARS = ("ZHIPUAI_API_KEY", "ZAI_API_KEY")
#: Must end in ``/api/paas/v4``. ``ZHIPUAI_API_BASE`` (langchain-community) holds a full
#: ``/chat/completions`` URL instead, so it is deliberately not read.
BASE_URL_ENV_VAR = "ZHIPUAI_BASE_URL"


def api_key_from_env() -> str | None:
    """The first non-blank key among :data:`API_KEY_ENV_VARS` (surrounding whitespace, such as
    the newline of ``$(cat key.txt)``, removed), or None. Every layer (clients, adapters, CLI,
    replay) resolves the key through this one function."""
    for name in API_KEY_ENV_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


CHAT_COMPLETIONS_PATH = "/chat/completions"
#: Counts a request's prompt tokens ({model, messages, tools} -> usage.prompt_tokens).
TOKENIZER_PATH = "/tokenizer"
#: Text embeddings ({model, input, dimensions} -> data[{index, embedding}]).
EMBEDDINGS_PATH = "/embeddings"
#: Reranking ({model, query, documents, top_n} -> results[{index, relevance_score}]).
RERANK_PATH = "/rerank"

#: Embedding batches an async call sends at once when the client has no ``max_concurrency``.
#: GLM answers 1302 to too many concurrent calls and publishes no embedding figure per
#: account tier, so the fan-out stays small: four requests in flight already hide most of the
#: latency of a large input, and a client's ``max_concurrency`` (lower or higher) wins.
DEFAULT_EMBED_CONCURRENCY = 4

#: Long reasoning streams can pause for minutes between chunks, so reads get 300 s (the zai
#: SDK's figure); a connect that takes more than 10 s is a dead route, not a slow model.
DEFAULT_TIMEOUT = httpx.Timeout(300.0, connect=10.0)
DEFAULT_MAX_RETRIES = 2
#: The zai SDK's pool figures; the free models' concurrency caps are far lower than this.
DEFAULT_LIMITS = httpx.Limits(max_connections=50, max_keepalive_connections=10)

#: Backoff for retryable failures: 0.5 s doubling to 8 s (docs/glm-api.md §9).
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
#: 1305 is platform overload: the docs ask for a longer interval than for the account's own cap.
OVERLOAD_INITIAL_RETRY_DELAY = 2.0
#: A Retry-After longer than this is not worth blocking a caller for: we give up and raise.
MAX_RETRY_AFTER = 60.0

#: SSE lines longer than this are an error, not a reason to buffer without bound. A whole
#: tool call (a file written by an agent) arrives in one line, so the limit is generous.
DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024

#: Where ``max_concurrency`` is shared between processes and machines (a ``redis://`` URL),
#: when a client is given no ``concurrency_url``. One variable configures a whole fleet.
CONCURRENCY_URL_ENV_VAR = "ZHIPU_FLASH_CONCURRENCY_URL"
#: A shared slot is a lease: renewed every third of this while its request is open, so a
#: worker killed with SIGKILL gives its slots back within this many seconds. Long enough that
#: a busy worker (a blocked event loop, a GC pause) never loses a lease it still uses.
DEFAULT_LEASE_SECONDS = 30.0
#: Redis must answer within this, or the shared limit falls back to the process's own:
#: an unreachable Redis never holds a request up for longer.
REDIS_SOCKET_TIMEOUT = 2.0
#: After Redis failed, requests use the process's own limit for this long before Redis is
#: tried again (so a dead Redis costs one timeout per interval, not one per request).
REDIS_RETRY_INTERVAL = 5.0
