"""JSON-schema instances: tool arguments and JSON-mode answers filled from the prompt.

A :class:`Filler` walks a schema and produces a value that validates against it. Where the
prompt names a value (a number, a quoted string, a place, a name), that value is used and
the property is recorded in :attr:`Filler.from_prompt`; elsewhere a typed default stands in.
Every property is filled, optional ones included.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from . import _prompt

__all__ = ["Filler", "find_schema", "named_keys"]

# Capitalised words that start requests rather than name anyone.
_NOT_NAMES = frozenset(
    # A word list reads better as one string than as a 41-line literal.
    "A An And Are Can Could Create Describe Do Does Extract Find Generate Get Give Hello Hey "  # noqa: SIM905
    "Hi How I Is List Make My Please Return Show Summarize Tell The Use Using What When Where "
    "Which Who Why Would Write Your".split()
)
_NAME_KEYS = ("name", "person", "author", "user")
_PLACE_KEYS = ("location", "city", "place", "address", "country", "region", "destination")
_STYLE_KEYS = ("style", "tone", "manner", "mood", "voice")
_TEXT_KEYS = ("description", "summary", "details", "content", "text", "message", "comment", "note")
# How deep $ref chains and nested objects may go before we stop (recursive schemas exist).
_MAX_DEPTH = 8


class Filler:
    """Builds instances of JSON schemas, taking values from one prompt where it can."""

    def __init__(
        self, prompt: str, root: dict[str, Any] | None = None, ignore: Iterable[str] = ()
    ) -> None:
        """``root`` resolves ``$ref``; quoted words in ``ignore`` are never used as values."""
        self.prompt = prompt
        self.root: dict[str, Any] = root or {}
        #: Names of the properties whose value came from the prompt.
        self.from_prompt: set[str] = set()
        self._numbers = _prompt.numbers(prompt)
        skip = set(ignore)
        self._quoted = [q for q in _prompt.quoted(prompt) if q not in skip]

    def fill(self, schema: dict[str, Any], key: str = "", depth: int = 0) -> Any:
        """A value for ``schema``; ``key`` is the property name it will sit under."""
        schema = self._resolve(schema, depth)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        for combinator in ("anyOf", "oneOf", "allOf"):
            options = schema.get(combinator)
            if isinstance(options, list) and options:
                chosen = _first_non_null(options)
                merged = {k: v for k, v in schema.items() if k != combinator}
                return self.fill({**merged, **self._resolve(chosen, depth)}, key, depth + 1)
        kind = _type_of(schema)
        if kind == "object":
            properties = schema.get("properties")
            if not isinstance(properties, dict) or depth > _MAX_DEPTH:
                return {}
            return {
                name: self.fill(sub if isinstance(sub, dict) else {}, name, depth + 1)
                for name, sub in properties.items()
            }
        if kind == "array":
            items = schema.get("items")
            item_schema = items if isinstance(items, dict) else {"type": "string"}
            count = max(1, int(schema.get("minItems", 1)))
            if depth > _MAX_DEPTH:
                return []
            return [self.fill(item_schema, _singular(key), depth + 1) for _ in range(count)]
        if kind in ("integer", "number"):
            return self._number(key, schema, integer=kind == "integer")
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(key, schema)

    def take_value(self, key: str, value: Any) -> None:
        """Record that ``key`` got a value written in the prompt (a call-site argument)."""
        self.from_prompt.add(key)
        if isinstance(value, (int, float)) and value in self._numbers:
            self._numbers.remove(value)
        if isinstance(value, str) and value in self._quoted:
            self._quoted.remove(value)

    def _resolve(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/") or depth > _MAX_DEPTH:
            return schema
        target: Any = self.root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            return {k: v for k, v in schema.items() if k != "$ref"}
        return self._resolve(target, depth + 1)

    def _number(self, key: str, schema: dict[str, Any], *, integer: bool) -> int | float:
        value: int | float
        if self._numbers:
            value = self._numbers.pop(0)
            self.from_prompt.add(key)
        else:
            value = _default_number(key)
        value = _clamp(value, schema, integer=integer)
        return int(value) if integer else float(value)

    def _string(self, key: str, schema: dict[str, Any]) -> str:
        words = f"{_split_name(key)} {schema.get('description', '')}".lower()
        found = self._string_from_prompt(key, words)
        if found is not None:
            self.from_prompt.add(key)
            text = found
        else:
            text = self._string_default(key, words, schema.get("format"))
        max_length = schema.get("maxLength")
        if isinstance(max_length, int) and len(text) > max_length:
            text = text[:max_length]
        min_length = schema.get("minLength")
        if isinstance(min_length, int) and len(text) < min_length:
            text = text.ljust(min_length, ".")
        return text

    def _string_from_prompt(self, key: str, words: str) -> str | None:
        """A value the prompt itself names for this property, if any."""
        prompt = self.prompt
        if _mentions(words, _NAME_KEYS):
            if self._quoted:
                return self._quoted.pop(0)
            names = [w for w in _capitalised(prompt) if w not in _NOT_NAMES]
            return names[0] if names else None
        if _mentions(words, _PLACE_KEYS):
            return _prompt.place(prompt) or (self._quoted.pop(0) if self._quoted else None)
        if _mentions(words, _STYLE_KEYS):
            styles = _prompt.proper_words(prompt)
            return styles[0] if styles else None
        if _mentions(words, _TEXT_KEYS):
            return _prompt.after_dash(prompt)
        if "setup" in words or "punchline" in words or "joke" in words:
            return None  # jokes are written, not quoted
        if self._quoted:
            return self._quoted.pop(0)
        return None

    def _string_default(self, key: str, words: str, fmt: Any) -> str:
        """A typed stand-in when the prompt names nothing for this property."""
        setup, punchline = _prompt.joke(self.prompt)
        if "setup" in words or "set up" in words:
            return setup
        if "punchline" in words or "resolve the joke" in words:
            return punchline
        if fmt == "email" or "email" in words:
            return "alice@example.com"
        if fmt == "date-time":
            return "2024-01-01T12:00:00Z"
        if fmt == "date" or "date" in words:
            return "2024-01-01"
        if fmt in ("uri", "url") or "url" in words:
            return "https://example.com"
        if _mentions(words, _NAME_KEYS):
            return "Alice"
        if _mentions(words, _PLACE_KEYS):
            return "Paris"
        if _mentions(words, _STYLE_KEYS):
            return "friendly"
        if "joke" in words:
            return f"{setup} {punchline}"
        subject = _prompt.topic(self.prompt)
        if _mentions(words, _TEXT_KEYS):
            return f"A short text about {subject}." if subject else _prompt.snippet(self.prompt)
        return subject or f"example {_split_name(key) or 'text'}"


def find_schema(texts: Iterable[str]) -> dict[str, Any] | None:
    """The last JSON schema (an object with ``properties``) written in any of ``texts``."""
    found: dict[str, Any] | None = None
    for text in texts:
        if "{{" in text:
            # A template's escaped braces left in the prompt (LlamaIndex's output parsers
            # send them so to chat models); a model reads through them.
            text = text.replace("{{", "{").replace("}}", "}")
        for obj in _json_objects(text):
            schema = _schema_in(obj)
            if schema is not None:
                found = schema
    return found


def named_keys(text: str) -> list[str]:
    """Keys a prompt asks for by name: "a JSON with 'setup' and 'punchline' keys"."""
    if not re.search(r"\b(?:keys?|fields?|properties)\b", text, re.IGNORECASE):
        return []
    return [q for q in _prompt.quoted(text) if re.fullmatch(r"[A-Za-z_]\w*", q)]


def _json_objects(text: str) -> list[Any]:
    """Every JSON object embedded in ``text`` (outermost ones only)."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    index = text.find("{")
    while index != -1:
        try:
            obj, end = decoder.raw_decode(text, index)
        except ValueError:
            index = text.find("{", index + 1)
            continue
        found.append(obj)
        index = text.find("{", end)
    return found


def _schema_in(obj: Any) -> dict[str, Any] | None:
    """The first (outermost) dict with a ``properties`` object inside ``obj``."""
    if isinstance(obj, dict):
        if isinstance(obj.get("properties"), dict):
            return obj
        for value in obj.values():
            found = _schema_in(value)
            if found is not None:
                return found
    elif isinstance(obj, list):
        for value in obj:
            found = _schema_in(value)
            if found is not None:
                return found
    return None


def _first_non_null(options: list[Any]) -> dict[str, Any]:
    for option in options:
        if isinstance(option, dict) and option.get("type") != "null":
            return option
    return {"type": "null"}


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _default_number(key: str) -> int:
    lowered = key.lower()
    if "age" in lowered:
        return 30
    if "year" in lowered:
        return 2024
    if any(word in lowered for word in ("rating", "score", "stars")):
        return 4
    if any(word in lowered for word in ("count", "number", "quantity", "amount")):
        return 2
    return 1


def _clamp(value: float, schema: dict[str, Any], *, integer: bool) -> float:
    step = 1 if integer else 0.5
    low, high = schema.get("minimum"), schema.get("maximum")
    low_x, high_x = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(low, (int, float)) and value < low:
        value = low
    if isinstance(low_x, (int, float)) and not isinstance(low_x, bool) and value <= low_x:
        value = low_x + step
    if isinstance(high, (int, float)) and value > high:
        value = high
    if isinstance(high_x, (int, float)) and not isinstance(high_x, bool) and value >= high_x:
        value = high_x - step
    return value


def _split_name(name: str) -> str:
    """``customerName`` / ``customer_name`` -> ``customer name``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return " ".join(re.split(r"[_\-\s]+", spaced)).strip()


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and len(name) > 3 else name


def _mentions(words: str, keys: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{key}s?\b", words) for key in keys)


def _capitalised(text: str) -> list[str]:
    return re.findall(r"\b[A-Z][a-z]+\b", text)
