"""Structured output on GLM: JSON mode where the model has it, the schema in the prompt, and a
check of the answer against the schema.

GLM's ``response_format`` takes ``json_object`` and ``text`` only: there is no ``json_schema``,
and the vision request schema has no ``response_format`` at all. LangChain asks for schemas
in two ways, and both end up on the same route:

- ``with_structured_output(schema, method="json_mode" | "json_schema")`` binds
  ``response_format={"type": "json_object"}`` plus the schema under :data:`SCHEMA_KWARG`; its
  own output parser reads and validates the answer.
- ``response_format={"type": "json_schema", "json_schema": {"schema": ...}}`` bound to the
  model (``create_agent``'s ``ProviderStrategy``, or a user's ``bind``), or a pydantic class
  given as ``response_format``: :func:`split_response_format` turns it into JSON mode plus the
  schema in the prompt, and :func:`parse_answer` checks the final answer against the schema
  (an answer that is not a JSON instance of it raises ``OutputParserException``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.utils.function_calling import convert_to_json_schema

__all__ = [
    "SCHEMA_KWARG",
    "parse_answer",
    "schema_errors",
    "split_response_format",
    "with_schema_prompt",
]

#: The bound kwarg with which ``with_structured_output`` hands its JSON schema to the model.
SCHEMA_KWARG = "structured_output_schema"

# Nested schemas deeper than this are not followed (recursive $refs exist).
_MAX_DEPTH = 32


def split_response_format(value: Any) -> tuple[Any, dict[str, Any] | None]:
    """``(what GLM gets as response_format, the JSON schema the answer must match or None)``.

    ``json_schema`` formats and pydantic classes (or TypedDicts) become JSON mode plus their
    schema; anything else passes through unchanged for the core to send or refuse.
    """
    if isinstance(value, type):
        return {"type": "json_object"}, convert_to_json_schema(value)
    if isinstance(value, Mapping) and value.get("type") == "json_schema":
        spec = value.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(schema, Mapping):
            raise ValueError(
                "response_format json_schema needs {'json_schema': {'schema': {...}}}: the JSON "
                "schema of the answer."
            )
        return {"type": "json_object"}, dict(schema)
    return value, None


def with_schema_prompt(
    messages: list[dict[str, Any]],
    schema: Mapping[str, Any],
    *,
    final_answer: bool = False,
    tools: bool = False,
) -> list[dict[str, Any]]:
    """Tell the model the fields: GLM's JSON mode takes no schema, so it goes in the system
    prompt (the first system message, or a new one in front).

    ``final_answer`` is the wording for a bound ``json_schema`` format, whose answer is parsed
    strictly: the whole reply must be the JSON object. ``tools`` says tool calls may come first
    (an agent's loop).
    """
    shown = json.dumps(schema, ensure_ascii=False, sort_keys=True)
    if not final_answer:
        instruction = (
            "Answer with one JSON object, and nothing else, that is valid against this JSON "
            "schema:\n" + shown
        )
    else:
        first = "Call the tools you need first. Then your" if tools else "Your"
        instruction = (
            f"{first} final answer must be one JSON object that is valid against this JSON "
            "schema, with nothing before or after it (no code fences):\n" + shown
        )
    if messages and messages[0]["role"] == "system" and isinstance(messages[0]["content"], str):
        head = dict(messages[0])
        head["content"] = f"{head['content']}\n\n{instruction}" if head["content"] else instruction
        return [head, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]


def parse_answer(text: str, schema: Mapping[str, Any], finish_reason: str | None) -> Any:
    """The JSON value of ``text`` if it is an instance of ``schema``; else
    ``OutputParserException`` carrying the text (nothing the model said is lost)."""
    cut = " (the answer was cut at max_tokens)" if finish_reason == "length" else ""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise OutputParserException(
            f"GLM was asked for a JSON object matching the response_format schema, but the "
            f"answer is not JSON{cut}: {exc}",
            llm_output=text,
        ) from exc
    problems = schema_errors(value, schema)
    if problems:
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise OutputParserException(
            f"GLM's answer does not match the response_format schema{cut}: {shown}",
            llm_output=text,
        )
    return value


def schema_errors(
    value: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None
) -> list[str]:
    """Where ``value`` breaks ``schema``: types, ``required``, ``properties``,
    ``additionalProperties``, ``items``, ``enum``, ``const``, ``anyOf``/``oneOf``/``allOf``
    and local ``$ref``s (what LangChain's schemas use). Value constraints such as patterns,
    lengths and ranges are not checked; unknown keywords are ignored."""
    return _errors(value, schema, root if root is not None else schema, "$", 0)


def _errors(value: Any, schema: Any, root: Mapping[str, Any], path: str, depth: int) -> list[str]:
    if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
        return []
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _resolve(ref, root)
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return _errors(value, target, root, path, depth + 1) + _errors(
            value, rest, root, path, depth + 1
        )
    if "const" in schema and value != schema["const"]:
        return [f"{path} must be {schema['const']!r}"]
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        return [f"{path} must be one of {enum!r}"]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            fits = [o for o in options if not _errors(value, o, root, path, depth + 1)]
            if not fits:
                return [f"{path} matches none of the {key} options"]
    problems: list[str] = []
    for option in schema.get("allOf") or []:
        problems += _errors(value, option, root, path, depth + 1)
    kinds = schema.get("type")
    if isinstance(kinds, str):
        kinds = [kinds]
    if isinstance(kinds, list) and kinds and not any(_is(value, k) for k in kinds):
        return [*problems, f"{path} must be of type {' or '.join(map(str, kinds))}"]
    if isinstance(value, dict):
        problems += _object_errors(value, schema, root, path, depth)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for i, item in enumerate(value):
                problems += _errors(item, items, root, f"{path}[{i}]", depth + 1)
    return problems


def _object_errors(
    value: dict[str, Any], schema: Mapping[str, Any], root: Mapping[str, Any], path: str, depth: int
) -> list[str]:
    problems = [
        f"{path} is missing required property {name!r}"
        for name in schema.get("required") or []
        if isinstance(name, str) and name not in value
    ]
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        where = f"{path}.{name}"
        if name in properties:
            problems += _errors(item, properties[name], root, where, depth + 1)
        elif extra is False:
            problems.append(f"{where} is not allowed (additionalProperties is false)")
        elif isinstance(extra, Mapping):
            problems += _errors(item, extra, root, where, depth + 1)
    return problems


def _is(value: Any, kind: str) -> bool:
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "null":
        return value is None
    if isinstance(value, bool):
        return False  # JSON true is not a number
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float))
    return True  # a type we do not know: not ours to refuse


def _resolve(ref: str, root: Mapping[str, Any]) -> Any:
    """A local reference (``#/$defs/Name``); anything else resolves to no constraint."""
    if not ref.startswith("#"):
        return {}
    node: Any = root
    for part in ref.lstrip("#").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, Sequence) and not isinstance(node, str) and part.isdigit():
            node = node[int(part)] if int(part) < len(node) else {}
        else:
            return {}
    return node
