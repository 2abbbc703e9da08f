"""A string in a message never makes the library read a local file or download anything.

Message text often carries what users typed (a chat app forwarding image URLs), so a path or a
``file://`` URL in an image part must be refused, with nothing opened, through the core and
both adapters. Local files come only from an explicit act in code: a ``pathlib.Path``, bytes,
``image_part(Path)``, LlamaIndex ``ImageBlock(path=...)``, or the opt-in
``inline_local_images(messages, root=...)``.

Reads are watched with an audit hook: every ``open()`` (``io.open``, ``os.open``,
``Path.read_bytes``) raises an ``open`` audit event naming the file, and every outbound
connection a ``socket.connect``/``socket.getaddrinfo`` event.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import HumanMessage
from llama_index.core.llms import ChatMessage, ImageBlock, TextBlock

import zhipu_flash as zf
from glm_emulator import frames
from langchain_zhipu_flash import ChatZhipuFlash
from llama_index_zhipu_flash import ZhipuFlash
from tests.conftest import PICTURE
from zhipu_flash.multimodal import image_url_value

PNG = PICTURE.read_bytes()
PNG_B64 = base64.b64encode(PNG).decode()
VISION = "glm-4.6v-flash"

_opened: list[str] = []
_connects: list[Any] = []
_watching: list[bool] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _watching:
        return
    if event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.append(os.fsdecode(args[0]))
    elif event in ("socket.connect", "socket.getaddrinfo"):
        _connects.append(args)


sys.addaudithook(_audit)  # hooks cannot be removed; this one is idle unless a test watches


class Watch:
    """What was opened and connected to while watching."""

    def opened(self, path: Path) -> list[str]:
        name = path.name
        return [p for p in _opened if os.path.basename(p) == name]

    @property
    def connects(self) -> list[Any]:
        return list(_connects)


@pytest.fixture
def watch() -> Iterator[Watch]:
    _opened.clear()
    _connects.clear()
    _watching.append(True)
    try:
        yield Watch()
    finally:
        _watching.clear()


@pytest.fixture
def secret_png(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real PNG on disk (it would pass every format check), with the working directory next
    to it so the relative spelling names it too."""
    path = tmp_path / "server_secret.png"
    shutil.copy(PICTURE, path)
    monkeypatch.chdir(tmp_path)
    return path


def spellings(path: Path) -> list[str]:
    return [str(path), f"file://{path}", f"FILE://{path}", path.name, f"./{path.name}"]


class Api:
    """A MockTransport chat endpoint that keeps every request body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.content))
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        body = frames.completion(content="A picture.", usage=usage, id="1", model=VISION)
        return httpx.Response(200, json=body)

    def sync(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))

    def image_urls(self) -> list[str]:
        return [
            part["image_url"]["url"]
            for message in self.bodies[-1]["messages"]
            if isinstance(message["content"], list)
            for part in message["content"]
            if part["type"] == "image_url"
        ]


def user(url: Any) -> list[dict[str, Any]]:
    return [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": url}}, "What is this?"],
        }
    ]


# --- core -----------------------------------------------------------------------------------


def test_core_refuses_a_path_string_and_reads_nothing(secret_png: Path, watch: Watch) -> None:
    api = Api()
    client = zf.ZhipuClient(api_key="k", http_client=api.sync(), max_retries=0)
    for url in spellings(secret_png):
        with pytest.raises(zf.InvalidRequestInputError) as info:
            client.create(model=VISION, messages=user(url))
        message = str(info.value)
        assert message.startswith("messages[0].content[0]: "), message
        assert "never read from disk" in message and "pathlib.Path" in message
        assert "inline_local_images" in message
    assert api.bodies == []
    assert watch.opened(secret_png) == []


@pytest.mark.parametrize(
    "text", ["photo.png", "C:\\Users\\me\\photo.jpg", "~/photo.jpeg", "../../etc/passwd"]
)
def test_path_shaped_strings_get_the_local_file_advice(text: str) -> None:
    with pytest.raises(zf.InvalidRequestInputError, match=r"image_part\(Path"):
        image_url_value(text)


def test_a_string_is_a_url_a_data_url_or_base64(secret_png: Path, watch: Watch) -> None:
    assert image_url_value("https://example.com/a.png") == "https://example.com/a.png"
    assert image_url_value(f"data:image/png;base64,{PNG_B64}") == PNG_B64
    assert image_url_value(PNG_B64) == PNG_B64
    with pytest.raises(zf.InvalidRequestInputError, match="never read as a local file"):
        image_url_value("not an image at all!")
    for url in spellings(secret_png):
        with pytest.raises(zf.InvalidRequestInputError, match="never read from disk"):
            zf.image_part(url)
    assert watch.opened(secret_png) == []


def test_core_reads_a_path_or_bytes_the_code_chose(secret_png: Path, watch: Watch) -> None:
    api = Api()
    client = zf.ZhipuClient(api_key="k", http_client=api.sync(), max_retries=0)
    for image in (secret_png, Path(secret_png.name), PNG):
        client.create(model=VISION, messages=user(image))
        assert api.image_urls() == [PNG_B64]
    messages = [{"role": "user", "content": [zf.image_part(secret_png), "What is this?"]}]
    client.create(model=VISION, messages=messages)
    assert api.image_urls() == [PNG_B64]
    assert watch.opened(secret_png)  # the reads happened, and the watcher sees them


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(zf.InvalidRequestInputError, match=r"'.*gone\.png' was not found"):
        zf.image_part(tmp_path / "gone.png")


# --- the opt-in -----------------------------------------------------------------------------


def test_inline_local_images_reads_strings_inside_its_root(secret_png: Path) -> None:
    root = secret_png.parent
    for url in (secret_png.name, str(secret_png), f"file://{secret_png}"):
        messages = user(url)
        inlined = zf.inline_local_images(messages, root=root)
        assert inlined[0]["content"][0] == {"type": "image_url", "image_url": {"url": PNG_B64}}
        assert messages[0]["content"][0]["image_url"]["url"] == url  # the input is untouched
    kept = [*user("https://example.com/a.png"), {"role": "assistant", "content": "ok"}]
    assert zf.inline_local_images(kept, root=root) == kept


def test_inline_local_images_refuses_paths_outside_its_root(
    secret_png: Path, tmp_path: Path, watch: Watch
) -> None:
    root = tmp_path / "uploads"
    root.mkdir()
    (root / "link.png").symlink_to(secret_png)
    for url in ("../server_secret.png", str(secret_png), f"file://{secret_png}", "link.png"):
        with pytest.raises(zf.InvalidRequestInputError, match="outside the folder"):
            zf.inline_local_images(user(url), root=root)
    assert watch.opened(secret_png) == []
    with pytest.raises(zf.InvalidRequestInputError, match="was not found"):
        zf.inline_local_images(user("missing.png"), root=root)
    with pytest.raises(zf.InvalidRequestInputError, match="existing folder"):
        zf.inline_local_images(user("a.png"), root=tmp_path / "nowhere")
    # Whatever the text, the error is one typed, short line.
    for text in ("a\x00b.png", "x" * 5000):
        with pytest.raises(zf.InvalidRequestInputError) as info:
            zf.inline_local_images(user(text), root=root)
        assert len(str(info.value)) < 300


# --- LangChain ------------------------------------------------------------------------------


def langchain_model(api: Api) -> ChatZhipuFlash:
    return ChatZhipuFlash(model=VISION, api_key="k", max_retries=0, http_client=api.sync())


def test_langchain_refuses_path_strings_and_reads_nothing(secret_png: Path, watch: Watch) -> None:
    api = Api()
    llm = langchain_model(api)
    blocks: list[dict[str, Any]] = []
    for url in spellings(secret_png):
        blocks += [
            {"type": "image_url", "image_url": {"url": url}},
            {"type": "image", "url": url},
            {"type": "image", "source_type": "url", "url": url},
            {"type": "image", "source": {"type": "url", "url": url}},
        ]
    for block in blocks:
        with pytest.raises(ValueError, match="never read from disk"):
            llm.invoke([HumanMessage(content=[block, {"type": "text", "text": "What is this?"}])])
    assert api.bodies == []
    assert watch.opened(secret_png) == []


def test_langchain_sends_a_file_the_code_chose(secret_png: Path) -> None:
    api = Api()
    content = [dict(zf.image_part(secret_png)), {"type": "text", "text": "What is this?"}]
    langchain_model(api).invoke([HumanMessage(content=content)])
    assert api.image_urls() == [PNG_B64]


# --- LlamaIndex -----------------------------------------------------------------------------


def llama_model(api: Api) -> ZhipuFlash:
    return ZhipuFlash(model=VISION, api_key="k", max_retries=0, http_client=api.sync())


def test_llama_index_refuses_file_urls_and_reads_nothing(secret_png: Path, watch: Watch) -> None:
    api = Api()
    for url in (f"file://{secret_png}", f"FILE://{secret_png}"):
        message = ChatMessage(role="user", blocks=[ImageBlock(url=url), TextBlock(text="What?")])
        with pytest.raises(ValueError, match=r"ImageBlock\(path=\.\.\.\)"):
            llama_model(api).chat([message])
    assert api.bodies == []
    assert watch.opened(secret_png) == []


def test_llama_index_image_path_is_read(secret_png: Path) -> None:
    api = Api()
    message = ChatMessage(role="user", blocks=[ImageBlock(path=secret_png), TextBlock(text="?")])
    llama_model(api).chat([message])
    assert api.image_urls() == [PNG_B64]


def test_llama_index_image_url_is_never_downloaded(
    watch: Watch, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_download(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("ImageBlock.resolve_image() downloads the URL")

    monkeypatch.setattr(ImageBlock, "resolve_image", no_download)
    api = Api()
    url = "https://example.com/cat.png"
    message = ChatMessage(role="user", blocks=[ImageBlock(url=url), TextBlock(text="What?")])
    llama_model(api).chat([message])
    assert api.image_urls() == [url]
    assert len(api.bodies) == 1
    assert watch.connects == []  # no socket was opened (the API call went to MockTransport)
