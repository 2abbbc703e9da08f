"""The recording formats: files of recorded responses, and vcrpy cassettes.

A **recording file** holds one response body. ``*.sse`` (and ``*.txt``) is an event-stream
body, ``*.jsonl`` one chunk per line without SSE framing, ``*.json`` a JSON body. Lines that
start with ``# `` are provenance (``# SOURCE: ...``) and are not served; a ``# status: 429``
line gives an error body's HTTP status (without one, a JSON body holding ``"error"`` is
served with 400). A folder of such files is served one per request in name order.

A **cassette** (``*.yaml``, recorded by vcrpy with ``pytest --record-mode=once``) pairs each
response with its request, which is matched by method, path and JSON body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "RECORDING_SUFFIXES",
    "Recording",
    "builtin_recording",
    "cassette_recordings",
    "folder_recordings",
    "parsed_body",
    "recording_file",
]

#: The file names a folder of recordings is made of.
RECORDING_SUFFIXES = (".sse", ".json", ".jsonl", ".txt")
_STREAM_SUFFIXES = (".sse", ".txt", ".jsonl")


@dataclass(frozen=True)
class Recording:
    """One recorded response: status, content type and body bytes (provenance stripped)."""

    status: int
    body: bytes
    stream: bool
    source: str = ""
    #: For cassette entries: the request it answers (method, path, parsed JSON body).
    match: tuple[str, str, Any] | None = None

    @classmethod
    def from_file(cls, path: str | Path) -> Recording:
        file = Path(path)
        raw = file.read_bytes()
        status = None
        lines = raw.splitlines(keepends=True)
        for line in lines:
            if line.lower().startswith(b"# status:"):
                status = int(line.split(b":", 1)[1].strip())
        body = b"".join(line for line in lines if not line.startswith(b"# "))
        stream = file.suffix in _STREAM_SUFFIXES
        if file.suffix == ".jsonl":  # one chunk per line, without SSE framing
            body = b"".join(
                b"data: " + ln.strip() + b"\n\n" for ln in body.splitlines() if ln.strip()
            )
        if status is None:
            status = 400 if not stream and b'"error"' in body[:200] else 200
        return cls(
            status=status,
            body=body.strip() + b"\n" if not stream else body,
            stream=stream,
            source=str(file),
        )


def builtin_recording(name: str) -> Recording:
    """A recording shipped with the package (see ``zhipu_flash/testing/recordings``)."""
    ref = resources.files("zhipu_flash.testing.recordings").joinpath(name)
    with resources.as_file(ref) as path:
        return Recording.from_file(path)


def folder_recordings(folder: Path) -> list[Recording]:
    """The recording files of ``folder``, in name order."""
    files = sorted(f for f in folder.iterdir() if f.suffix in RECORDING_SUFFIXES)
    if not files:
        raise ValueError(f"No .sse/.json recordings in {folder}.")
    return [Recording.from_file(f) for f in files]


def cassette_recordings(path: str | Path) -> list[Recording]:
    """A vcrpy cassette's responses, each with the request it answers (needs PyYAML)."""
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Reading vcrpy cassettes needs PyYAML: pip install pyyaml") from exc
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    recordings = []
    for item in data.get("interactions", []):
        req, resp = item["request"], item["response"]
        headers = {k.lower(): v for k, v in (resp.get("headers") or {}).items()}
        content_type = " ".join(headers.get("content-type", [""]))
        body = resp["body"]["string"]
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        recordings.append(
            Recording(
                status=int(resp["status"]["code"]),
                body=raw,
                stream="event-stream" in content_type,
                source=f"{path}",
                match=(
                    req["method"].upper(),
                    urlsplit(req["uri"]).path,
                    parsed_body(req.get("body")),
                ),
            )
        )
    return recordings


def parsed_body(body: Any) -> Any:
    """A request body as JSON where it is JSON (how cassette requests are matched)."""
    if body is None or body == b"" or body == "":
        return None
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return body


def recording_file(status: int, body: bytes, origin: str) -> bytes:
    """A recording file's bytes: the provenance line saying where ``body`` came from, the
    status line for an error, then the body as it was served."""
    header = f"# SOURCE: recorded by zhipu_flash.testing.Recorder from {origin}\n"
    if status != 200:
        header += f"# status: {status}\n"
    return header.encode() + body
