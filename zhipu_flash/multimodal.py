"""Image and video inputs in the form the API accepts.

Where an image comes from decides how it is read:

- **A string is never read from disk**, wherever it appears: it is an http(s) URL (passed
  through untouched; the API fetches it, we never download), a ``data:`` URL or raw base64.
  Message text often carries what users typed, so a path or ``file://`` URL in it must not
  make a server upload its own files. A string that looks like a path is refused with an
  error that says how to send a local file on purpose.
- **A local file is read only when code says so**: a ``pathlib.Path`` (any ``os.PathLike``)
  or ``bytes``, given to :func:`image_part` or placed in a message part yourself (LlamaIndex:
  ``ImageBlock(path=...)``; the CLI: ``--image``).
- :func:`inline_local_images` is the opt-in for applications whose messages name image files
  as strings: it reads those from the one folder the caller names and refuses any other path.

Files, bytes and base64 are sent as **bare base64 without the ``data:`` prefix**, the form both
official SDKs send and the GLM-4V models require (docs/glm-api.md §4.3). Limits checked locally,
before any request, with an error that says what to do: JPEG or PNG only, at most 5 MB, at most
6000 x 6000 pixels. Videos go as ``video_url`` parts and must be URLs (the API takes no inline
video).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import struct
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Union
from urllib.parse import unquote, urlsplit

from ._exceptions import InvalidRequestInputError
from .types.request import ImagePart, VideoPart

__all__ = ["ImageInput", "image_part", "image_url_value", "inline_local_images", "video_part"]

ImageInput = Union[str, bytes, bytearray, "os.PathLike[str]"]

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGE_SIDE = 6000
_ALLOWED_MIME = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg"}
#: Shapes of a local path: a separator, a home or drive prefix, or a file extension. Real
#: base64 images are long and never end in ".png"; a short string like these is a path.
_PATH_SHAPE = re.compile(r"[/\\]|^~|^[A-Za-z]:|\.[A-Za-z0-9]{1,5}$")
_PATH_MAX = 1024


def image_part(image: ImageInput) -> ImagePart:
    """An ``image_url`` content part for an image.

    Args:
        image: an http(s) URL, a data URL or base64 text (a string is never read as a file),
            a ``pathlib.Path`` to read a local file, or the image's ``bytes``.

    Raises:
        InvalidRequestInputError: the image is not JPEG or PNG, too large, a missing file, or
            a string that is neither a URL nor base64 (a path must be a ``Path``).
    """
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
    """The string that goes into ``image_url.url``: the URL itself, or bare base64.

    A ``str`` is a URL, a data URL or base64 and is never read from disk; a ``Path`` (or any
    ``os.PathLike``) is read, as are ``bytes``.
    """
    if isinstance(image, (bytes, bytearray)):
        return _encode(bytes(image), "the given bytes")
    if isinstance(image, os.PathLike):
        return _from_path(Path(image))
    if not isinstance(image, str):
        raise InvalidRequestInputError(
            f"Unsupported image input of type {type(image).__name__}: pass an http(s) URL, a "
            "data URL or base64 text (str), a pathlib.Path to a local file, or bytes."
        )
    text = image.strip()
    if text.startswith(("http://", "https://")):
        return text
    if text.startswith("data:"):
        return _from_data_url(text)
    if text[:7].lower() == "file://" or _is_path_not_image(text):
        raise InvalidRequestInputError(_path_refused(text))
    return _from_base64(text, "the image string", _NOT_BASE64_STRING)


def inline_local_images(
    messages: Sequence[Mapping[str, Any]], *, root: str | os.PathLike[str]
) -> list[dict[str, Any]]:
    """Opt in to image paths written as strings, read from one folder.

    Strings in messages are never read from disk (see the module docstring). An application
    whose own messages name image files (``{"type": "image_url", "image_url": {"url":
    "scans/page1.png"}}``) can pass them through this function first: every ``image_url``
    string that is a path or a ``file://`` URL is replaced by the file's bare base64, provided
    the file lies inside ``root`` once symlinks and ``..`` are resolved. URLs, data URLs and
    base64 are left as they are. Relative paths are taken relative to ``root``.

    Only call it on messages whose image strings your code controls or that may name any
    image inside ``root``: it is the switch that lets message text choose files there.

    Args:
        messages: chat messages in the core's dict form; they are not modified.
        root: the folder images may be read from.

    Returns:
        A new list of messages (content lists copied; other values shared).

    Raises:
        InvalidRequestInputError: ``root`` is not a folder, a path points outside it, or a file
            is missing or is not an acceptable image.
    """
    base = Path(root).expanduser().resolve()
    if not base.is_dir():
        raise InvalidRequestInputError(f"root must be an existing folder, got {str(root)!r}.")
    out: list[dict[str, Any]] = []
    for message in messages:
        new = dict(message)
        content = message.get("content")
        if isinstance(content, Sequence) and not isinstance(content, str):
            new["content"] = [_inline_part(part, base) for part in content]
        out.append(new)
    return out


def _inline_part(part: Any, base: Path) -> Any:
    if not isinstance(part, Mapping) or part.get("type") != "image_url":
        return part
    value = part.get("image_url")
    url = value.get("url") if isinstance(value, Mapping) else value
    if not isinstance(url, str):
        return part
    text = url.strip()
    if text.startswith(("http://", "https://", "data:")):
        return part
    if text[:7].lower() == "file://":
        raw_path = unquote(urlsplit(text).path)
    elif _is_base64_image(text):
        return part
    else:
        raw_path = text
    path = Path(raw_path)
    try:
        resolved = (path if path.is_absolute() else base / path).resolve()
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise InvalidRequestInputError(
            f"Image path {_shown(text)!r} is not a usable file path: {_reason(exc)}."
        ) from exc
    if not resolved.is_relative_to(base):
        raise InvalidRequestInputError(
            f"Image path {_shown(text)!r} is outside the folder given to inline_local_images; "
            "move the file there, or pass it as a pathlib.Path yourself."
        )
    image_url = dict(value) if isinstance(value, Mapping) else {}
    image_url["url"] = _from_path(resolved, shown=raw_path)
    return {**part, "image_url": image_url}


def _is_path_not_image(text: str) -> bool:
    """True for a short string shaped like a path that is not base64 (a JPEG's base64 starts
    with ``/9j/``, so the shape alone cannot decide). Only the error message depends on it:
    nothing is read either way."""
    if len(text) > _PATH_MAX or any(c.isspace() for c in text):
        return False
    return bool(_PATH_SHAPE.search(text)) and _b64decode(text) is None


def _is_base64_image(text: str) -> bool:
    raw = _b64decode("".join(text.split()))
    return raw is not None and _sniff(raw) is not None


def _b64decode(compact: str) -> bytes | None:
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def _reason(exc: Exception) -> str:
    """Why a file could not be read, without the file name an OSError repeats in full."""
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)


def _shown(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


def _path_refused(text: str) -> str:
    return (
        f"Image {_shown(text)!r} looks like a local file (a path or file:// URL), and a "
        "string in a message is never read from disk (message text can come from users): it "
        "must be an http(s) URL, a data URL or base64. To send a local file, say so in code: "
        "pass a pathlib.Path or the file's bytes, e.g. zhipu_flash.image_part(Path(...)) "
        "(LlamaIndex: ImageBlock(path=...)); to let message strings name files in one folder, "
        "use zhipu_flash.inline_local_images(messages, root=...)."
    )


def _from_path(path: Path, shown: str | None = None) -> str:
    name = repr(_shown(shown if shown is not None else str(path)))
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise InvalidRequestInputError(f"Image file {name} was not found.") from exc
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise InvalidRequestInputError(f"Cannot read image file {name}: {_reason(exc)}.") from exc
    if not path.is_file():
        raise InvalidRequestInputError(f"Image file {name} is not a file.")
    if size > MAX_IMAGE_BYTES:
        raise InvalidRequestInputError(_too_big(f"Image file {name}", size))
    return _encode(path.read_bytes(), f"image file {name}")


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


_NOT_BASE64_STRING = (
    "The image string is neither an http(s) URL, a data URL nor valid base64. A string is "
    "never read as a local file: to send one, pass a pathlib.Path or bytes "
    "(zhipu_flash.image_part(Path(...)))."
)


def _from_base64(text: str, what: str, not_base64: str | None = None) -> str:
    compact = "".join(text.split())
    # Decoding the whole image is the only sure check of format and size; 5 MB is cheap.
    if (len(compact) * 3) // 4 > MAX_IMAGE_BYTES + 3:
        raise InvalidRequestInputError(_too_big(what.capitalize(), (len(compact) * 3) // 4))
    raw = _b64decode(compact)
    if raw is None:
        raise InvalidRequestInputError(not_base64 or f"{what.capitalize()} is not valid base64.")
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
