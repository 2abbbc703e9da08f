"""``recorded()``: replay offline without a key, go live with one, record on request."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from zhipu_flash._constants import api_key_from_env

from ._recorder import Recorder
from ._replay import Replay

__all__ = ["RecordedSession", "recorded"]


@dataclass
class RecordedSession:
    """HTTP clients for one recorded scenario: pass them to any zhipu-flash client.

    ``mode`` is ``"replay"``, ``"live"`` or ``"record"``; ``http_client`` and
    ``async_http_client`` are None in live mode (the clients then make their own).
    """

    mode: str
    path: Path
    http_client: httpx.Client | None
    async_http_client: httpx.AsyncClient | None

    @property
    def banner(self) -> str:
        if self.mode == "replay":
            return (
                f"OFFLINE REPLAY: no ZHIPUAI_API_KEY set, so answers come from recordings in "
                f"{self.path.name}/ (see their # SOURCE lines), not the live API."
            )
        if self.mode == "record":
            return f"RECORDING: live answers are being saved to {self.path.name}/."
        return "LIVE: answers come from the Zhipu API."

    def close(self) -> None:
        """Close the HTTP clients (and, when recording, the connections to the API)."""
        if self.http_client is not None:
            self.http_client.close()

    async def aclose(self) -> None:
        if self.async_http_client is not None:
            await self.async_http_client.aclose()
        self.close()

    def __enter__(self) -> RecordedSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def client_kwargs(self) -> dict[str, Any]:
        """``{"http_client": ..., "async_http_client": ...}``, the names both adapters take (and
        the core's ``ClientSettings``), or empty in live mode."""
        if self.http_client is None:
            return {}
        return {"http_client": self.http_client, "async_http_client": self.async_http_client}


def recorded(path: str | Path, *, mode: str | None = None) -> RecordedSession:
    """Replay ``path`` offline when no key is set; go live with a key; record with
    ``ZHIPU_FLASH_RECORD=1`` (or ``mode="record"``). The recordings are a folder of files
    that :class:`~zhipu_flash.testing.Replay` reads; recording replaces what the folder held."""
    folder = Path(path)
    if mode is None:
        if os.environ.get("ZHIPU_FLASH_RECORD") == "1":
            mode = "record"
        elif api_key_from_env() is not None:
            mode = "live"
        else:
            mode = "replay"
    if mode == "replay":
        replay = Replay.from_path(folder, repeat=False)
        return RecordedSession(mode, folder, replay.http_client(), replay.async_http_client())
    if mode == "record":
        recorder = Recorder(folder)
        return RecordedSession(
            mode, folder, httpx.Client(transport=recorder), httpx.AsyncClient(transport=recorder)
        )
    if mode == "live":
        return RecordedSession(mode, folder, None, None)
    raise ValueError("mode must be 'replay', 'live' or 'record'.")
