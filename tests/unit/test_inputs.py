"""Images, markers, the model catalog and the retry policy: the small pure pieces."""

from __future__ import annotations

import base64
import struct
import zlib
from pathlib import Path

import pytest

import zhipu_flash as zf
from tests.conftest import PICTURE
from zhipu_flash._markers import MarkerFilter, strip_markers
from zhipu_flash._retry import retry_after_seconds, retry_delay
from zhipu_flash.multimodal import image_url_value, video_part

PNG = PICTURE.read_bytes()
PNG_B64 = base64.b64encode(PNG).decode()


def _png(width: int, height: int) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _jpeg(width: int, height: int) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", 4) + b"JF" + sof + b"\xff\xd9" + b"\x00" * 8


@pytest.mark.parametrize(
    "source",
    [
        PNG,
        bytearray(PNG),
        PICTURE,
        PNG_B64,
        f"data:image/png;base64,{PNG_B64}",
        f"data:image/jpeg;base64,{PNG_B64}",
        f"  {PNG_B64}\n",
    ],
)
def test_every_image_form_becomes_bare_base64(source: object) -> None:
    assert image_url_value(source) == PNG_B64  # type: ignore[arg-type]


def test_urls_pass_through_untouched() -> None:
    url = "https://example.com/a.png?sig=1"
    assert zf.image_part(url) == {"type": "image_url", "image_url": {"url": url}}


def test_jpeg_dimensions_are_read() -> None:
    assert image_url_value(_jpeg(640, 480))
    with pytest.raises(zf.InvalidRequestInputError, match="7000x10 pixels"):
        image_url_value(_jpeg(7000, 10))


def test_too_many_pixels() -> None:
    with pytest.raises(zf.InvalidRequestInputError, match="6000x6000"):
        image_url_value(_png(6001, 20))


def test_too_big(tmp_path: Path) -> None:
    big = PNG + b"\x00" * (5 * 1024 * 1024)
    with pytest.raises(zf.InvalidRequestInputError, match="5 MB"):
        image_url_value(big)
    path = tmp_path / "big.png"
    path.write_bytes(big)
    with pytest.raises(zf.InvalidRequestInputError, match="5 MB"):
        image_url_value(path)
    with pytest.raises(zf.InvalidRequestInputError, match="5 MB"):
        image_url_value(base64.b64encode(big).decode())


@pytest.mark.parametrize(
    ("source", "match"),
    [
        (b"GIF89a" + b"\x00" * 20, "JPEG and PNG"),
        ("data:image/webp;base64,AAAA", "JPEG and PNG"),
        ("data:image/png,rawtext", "base64 data URLs"),
        ("not an image at all!", "neither"),
        (str(PICTURE), "never read from disk"),
        (f"file://{PICTURE}", "never read from disk"),
        (Path("/definitely/missing.png"), "was not found"),
        (12, "Unsupported image input"),
    ],
)
def test_bad_images_say_what_to_do(source: object, match: str) -> None:
    with pytest.raises(zf.InvalidRequestInputError, match=match):
        image_url_value(source)  # type: ignore[arg-type]


def test_video_part() -> None:
    assert video_part("https://x/y.mp4") == {
        "type": "video_url",
        "video_url": {"url": "https://x/y.mp4"},
    }
    with pytest.raises(zf.InvalidRequestInputError, match="URL"):
        video_part("/local/file.mp4")


# --- markers --------------------------------------------------------------------------------

TEXT = "<think>first, the sky</think>\n<|begin_of_box|>It is blue.<|end_of_box|>"


@pytest.mark.parametrize("size", [1, 2, 5, 16, 1000])
def test_marker_filter_at_every_split(size: int) -> None:
    f = MarkerFilter()
    content, reasoning = "", ""
    for i in range(0, len(TEXT), size):
        c, r = f.feed(TEXT[i : i + size])
        content, reasoning = content + c, reasoning + r
    c, r = f.flush()
    assert (content + c, reasoning + r) == ("\nIt is blue.", "first, the sky")


def test_marker_lookalikes_survive() -> None:
    f = MarkerFilter()
    out = f.feed("a < b and <thin")[0]
    out += f.feed("g> 1<|x")[0]
    out += f.flush()[0]
    assert out == "a < b and <thing> 1<|x"


def test_strip_markers_whole_text() -> None:
    assert strip_markers(TEXT) == ("It is blue.", "first, the sky")


# --- catalog --------------------------------------------------------------------------------


def test_flash_models_come_first_with_their_capabilities() -> None:
    assert list(zf.MODELS)[:5] == list(zf.FLASH_MODELS)
    m = zf.get_model_info
    assert (m("glm-4.7-flash").thinking, m("glm-4.7-flash").vision, m("glm-4.7-flash").tools) == (
        "toggle",
        False,
        True,
    )
    assert m("glm-4-flash-250414").thinking == "none"
    assert (m("glm-4.6v-flash").vision, m("glm-4.6v-flash").tools) == (True, True)
    assert (m("glm-4.1v-thinking-flash").thinking, m("glm-4.1v-thinking-flash").tools) == (
        "forced",
        False,
    )
    assert (m("glm-4v-flash").vision, m("glm-4v-flash").reasons) == (True, False)
    assert all(m(name).free for name in zf.FLASH_MODELS)
    assert m("glm-4.7-flash").context_window == 200_000


def test_unknown_models_get_defaults_never_an_error() -> None:
    info = zf.get_model_info("glm-9-ultra")
    assert not info.known and info.name == "glm-9-ultra" and info.context_window > 0
    assert zf.get_model_info("GLM-4.7-Flash").name == "glm-4.7-flash"


# --- retry policy ---------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    err = zf.RateLimitError("m", code="1302")
    assert [retry_delay(a, err, rand=1.0) for a in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert retry_delay(0, err, rand=0.0) == 0.25
    overloaded = zf.RateLimitError("m", code="1305")
    assert retry_delay(0, overloaded, rand=1.0) == 2.0  # the platform asks for longer waits


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "2"}) == 2.0
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert (
        retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0)
        == 10.0
    )
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None
