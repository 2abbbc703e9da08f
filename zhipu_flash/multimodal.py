"""Image and video inputs in the form the API accepts.

An image may be given as an http(s) URL, a ``data:`` URL, raw base64, a local file path or
``bytes``. URLs are passed through untouched (the API fetches them; we never download).
Everything else is sent as **bare base64 without the ``data:`` prefix**, the form both
official SDKs send and the GLM-4V models require (API.md section 3.2).

Limits checked locally, before any request, with an error that says what to do: JPEG or PNG
only, at most 5 MB, at most 6000 x 6000 pixels. Videos go as ``video_url`` parts and must be
URLs (the API takes no inline video).
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from pathlib import Path
from typing import Union

from ._exceptions import InvalidRequestInputError
from .types.request import ImagePart, VideoPart

__all__ = ["ImageInput", "image_part", "image_url_value", "video_part"]

ImageInput = Union[str, bytes, bytearray, "os.PathLike[str]"]

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_SIDE = 6000
_ALLOWED_MIME = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg"}


def image_part(image: ImageInput) -> ImagePart:
    """An ``image_url`` content part for any supported image input."""
    return {"type": "image_url", "image_url": {"url": image_url_value(image)}}


def video_part(url: str) -> VideoPart:
    """A ``video_url`` content part. Only http(s) URLs are accepted by the API."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidRequestInputError(
            "Videos must be given as an http(s) URL (mp4, mkv or mov, at most 200 MB); the API "
            "does not take inline or local video. Upload the file and pass its URL."
        )
    return {"type": "video_url", "video_url": {"url": url}}


def image_url_value(image: ImageInput) -> str:
    """The string that goes into ``image_url.url``: the URL itself, or bare base64."""
    if isinstance(image, (bytes, bytearray)):
        return _encode(bytes(image), "the given bytes")
    if isinstance(image, os.PathLike):
        return _from_path(Path(image))
    if not isinstance(image, str):
        raise InvalidRequestInputError(
            f"Unsupported image input of type {type(image).__name__}: pass an http(s) URL, a "
            "data URL, base64 text, a file path or bytes."
        )
    text = image.strip()
    if text.startswith(("http://", "https://")):
        return text
    if text.startswith("data:"):
        return _from_data_url(text)
    if text.startswith("file://"):
        return _from_path(Path(text[len("file://") :]))
    # A short string naming an existing file is a path; anything else must be base64.
    if len(text) < 4096 and os.path.isfile(text):
        return _from_path(Path(text))
    return _from_base64(text, "the base64 image")


def _from_path(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidRequestInputError(f"Cannot read image file {str(path)!r}: {exc}.") from exc
    if size > MAX_IMAGE_BYTES:
        raise InvalidRequestInputError(_too_big(f"Image file {str(path)!r}", size))
    return _encode(path.read_bytes(), f"image file {str(path)!r}")


def _from_data_url(url: str) -> str:
    header, sep, payload = url.partition(",")
    if not sep or ";base64" not in header:
        raise InvalidRequestInputError(
            "Only base64 data URLs are supported (data:image/png;base64,...)."
        )
    mime = header[len("data:") :].split(";", 1)[0].strip().lower()
    if mime not in _ALLOWED_MIME:
        raise InvalidRequestInputError(_bad_format(mime or "an unnamed type"))
    return _from_base64(payload, "the data URL")


def _from_base64(text: str, what: str) -> str:
    compact = "".join(text.split())
    # Decoding the whole image is the only sure check of format and size; 5 MB is cheap.
    if (len(compact) * 3) // 4 > MAX_IMAGE_BYTES + 3:
        raise InvalidRequestInputError(_too_big(what.capitalize(), (len(compact) * 3) // 4))
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestInputError(
            f"{what.capitalize()} is neither an http(s) URL, a data URL, an existing file path "
            "nor valid base64. Pass one of those (or bytes)."
        ) from exc
    _check(raw, what)
    return compact


def _encode(raw: bytes, what: str) -> str:
    _check(raw, what)
    return base64.b64encode(raw).decode("ascii")


def _check(raw: bytes, what: str) -> None:
    if len(raw) > MAX_IMAGE_BYTES:
        raise InvalidRequestInputError(_too_big(what.capitalize(), len(raw)))
    kind = _sniff(raw)
    if kind is None:
        raise InvalidRequestInputError(_bad_format(f"{what} (not a PNG or JPEG file)"))
    size = _dimensions(raw, kind)
    if size is not None and max(size) > MAX_IMAGE_SIDE:
        raise InvalidRequestInputError(
            f"{what.capitalize()} is {size[0]}x{size[1]} pixels; GLM accepts at most "
            f"{MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE}. Resize it first."
        )


def _sniff(raw: bytes) -> str | None:
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if raw.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def _dimensions(raw: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) read from the PNG IHDR or the JPEG SOF marker; None if not found."""
    if kind == "png":
        if len(raw) >= 24:
            width, height = struct.unpack(">II", raw[16:24])
            return int(width), int(height)
        return None
    pos = 2
    while pos + 9 < len(raw):
        if raw[pos] != 0xFF:
            return None
        marker = raw[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", raw[pos + 2 : pos + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", raw[pos + 5 : pos + 9])
            return int(width), int(height)
        pos += 2 + length
    return None


def _too_big(what: str, size: int) -> str:
    return (
        f"{what} is {size / 1024 / 1024:.1f} MB; GLM accepts images up to 5 MB. "
        "Compress or resize it, or pass a URL."
    )


def _bad_format(what: str) -> str:
    return f"GLM accepts JPEG and PNG images only, got {what}. Convert the image to PNG or JPEG."
