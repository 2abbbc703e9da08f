"""What the emulated model says: text, a JSON object, or tool calls, plus its reasoning.

:func:`decide` looks at a validated request and picks one of four kinds of turn:

1. The conversation ends with tool results: a text answer that reports them, or in JSON mode
   an instance of the schema filled from the question and the results.
2. Tools are offered and the last user message asks for one: tool calls
   (see :func:`_select_calls` for how a tool and its arguments are chosen). When none is
   asked for but the only tool offered is a schema (named like a class, as LlamaIndex's
   programs and LangChain's ``with_structured_output`` name it), it is called: the answer,
   in that schema (see :func:`_schema_call`).
3. JSON mode: one JSON object, an instance of a schema found in the messages, or with the
   keys the prompt names.
4. Otherwise a short text answer chosen by simple rules on the last user message.

The rules are general (nothing here knows any test by name) and deterministic.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from . import _prompt
from ._schema import Filler, find_schema, named_keys

__all__ = ["ToolCall", "Turn", "decide", "message_text"]

# Words in a tool name that say nothing about what it does, so never select it on their own.
_FILLER_WORDS = frozenset(
    # A word list reads better as one string than as a 23-line literal.
    "get set the tool tools my run use call make create fetch do new function func fn "  # noqa: SIM905
    "args arg no with and for".split()
)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3}
_ARITHMETIC = re.compile(r"(-?\d+(?:\.\d+)?)\s*([-+*/×])\s*(-?\d+(?:\.\d+)?)")
_QUESTION_LINE = re.compile(r"^(?:Query|Question):[ \t]*(\S.*)$", re.MULTILINE)
_METADATA_LINE = re.compile(r"^\s*[a-z_]+: \S")
_NOT_IN_CONTEXT = "The context does not say."
# A request to rewrite a follow-up as a standalone question (LlamaIndex's condense prompts).
_STANDALONE = re.compile(
    r"<Follow Up Message>\s*\n(.+?)\n\s*<Standalone question>"
    r"|Follow Up Input:[ \t]*(.+?)\s*\n\s*Standalone question:",
    re.DOTALL | re.IGNORECASE,
)
# The answer a refine prompt asks to improve, after its question line.
_EARLIER_ANSWER = re.compile(r"^Original Answer:[ \t]*(\S.*)$", re.MULTILINE)
# A template's label before a passage ("New Context: ...", "Original Answer: ..." in
# LlamaIndex's refine prompt): not part of the passage.
_PASSAGE_LABEL = re.compile(r"^(?:[A-Z][a-z]+ ){0,2}[A-Z][a-z]+: (?=\S)")
# Words too common to say which sentence of a context answers a question.
_COMMON_WORDS = frozenset(
    "what when where which who whom whose why how does have with that this there their they "  # noqa: SIM905
    "from into about your yours many much some than then them were will would could should "
    "given context information answer query question".split()
)
# Schema fields that hold the answer itself.
_ANSWER_KEYS = frozenset({"answer", "response", "result"})
_GREETING = re.compile(r"^\W*(?:hello|hi|hey|greetings|good (?:morning|afternoon|evening))\b")


@dataclass(frozen=True)
class ToolCall:
    """One function call the model makes."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """The model's output before it is cut by ``stop``/``max_tokens`` and framed."""

    reasoning: str
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = field(default=())


def decide(messages: list[dict[str, Any]], tools: list[dict[str, Any]], *, json_mode: bool) -> Turn:
    """Choose the answer to a request whose ``messages`` and ``tools`` are already valid."""
    # Validation guarantees a user or tool message; a history ending in assistant turns is
    # answered from the last user message.
    last_user: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    prompt = message_text(last_user.get("content"))
    if messages[-1].get("role") == "tool":
        if json_mode:
            # An agent asked for structured output: after its tools ran, the final answer is
            # the JSON object, with values taken from the question and the tool results.
            results = [message_text(m.get("content")) for m in _trailing_tool_results(messages)]
            return _answer_json(messages, "\n".join([prompt, *results]))
        return _answer_tool_results(messages)
    images = _image_urls(last_user.get("content"))
    functions = [t["function"] for t in tools if t.get("type") == "function"]
    calls = _select_calls(prompt, functions) if functions else []
    if not calls and len(functions) == 1 and _is_schema_tool(functions[0]):
        calls = [_schema_call(functions[0], prompt)]
    if calls:
        shown = "; ".join(
            f"{c.name} with {json.dumps(c.arguments, ensure_ascii=False)}" for c in calls
        )
        return Turn(
            reasoning=f"{_said(prompt)} A tool can answer this, so I will call {shown}.",
            tool_calls=tuple(calls),
        )
    if json_mode:
        return _answer_json(messages, prompt)
    if images:
        return Turn(
            reasoning=f"The user sent {_count(len(images), 'image')}. {_said(prompt)} I will "
            "describe what I see in a sentence or two.",
            content=_describe_images(images, prompt),
        )
    # A user prompt with its own context or task goes first (_answer_text).
    if not _QUESTION_LINE.search(prompt) and not _STANDALONE.search(prompt):
        from_system = _answer_from_system_context(messages, prompt)
        if from_system is not None:
            return from_system
    return _answer_text(prompt)


def message_text(content: Any) -> str:
    """The text of a message's ``content``: a string, or its text parts joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(t for t in texts if isinstance(t, str))
    return ""


# --- tool selection ------------------------------------------------------------------------


def _select_calls(prompt: str, functions: list[dict[str, Any]]) -> list[ToolCall]:
    """The calls a prompt asks for, tried in this order (first rule that finds any wins).

    1. Call syntax written out, ``name(3)``: one call per occurrence, arguments from inside
       the parentheses (positional in property order, or ``key=value``).
    2. Tool names written out in full: one call per tool, in order of mention.
    3. A significant word of a tool name in the prompt (``weather`` for ``get_weather``,
       ``joke`` for ``Joke``): the tool with the most such words.
    4. The first tool whose required parameters (at least one) can all be filled with
       values written in the prompt (numbers, quoted strings, places, names).

    Arguments are filled from the parameter schema (see :class:`Filler`).
    """
    sites = sorted(
        (pos, index, args)
        for index, fn in enumerate(functions)
        for pos, args in _prompt.call_sites(prompt, fn["name"])
    )
    if sites:
        return [_call_from_site(functions[i], prompt, args) for _, i, args in sites]

    lowered = prompt.lower()
    named = sorted(
        (match.start(), index)
        for index, fn in enumerate(functions)
        if (match := re.search(rf"(?<!\w){re.escape(fn['name'].lower())}(?!\w)", lowered))
    )
    if named:
        return [call for _, i in named for call in _calls_for(functions[i], prompt)]

    prompt_words = set(re.findall(r"[a-z0-9]+", lowered))
    scores = [(_word_score(fn["name"], prompt_words), -index) for index, fn in enumerate(functions)]
    best_score, best_index = max(scores)
    if best_score > 0:
        return _calls_for(functions[-best_index], prompt)

    for fn in functions:
        params = _parameters(fn)
        required = params.get("required")
        required = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
        filler = Filler(prompt, params)
        arguments = filler.fill(params)
        if required and set(required) <= filler.from_prompt:
            return [ToolCall(fn["name"], arguments)]
    return []


def _is_schema_tool(fn: dict[str, Any]) -> bool:
    """A tool named like a class (``StructuredRefineResponse``, ``Song``): a schema the
    framework turned into a tool to get structured output, not an action to take."""
    return bool(re.fullmatch(r"[A-Z][A-Za-z0-9]*", str(fn.get("name", ""))))


def _schema_call(fn: dict[str, Any], prompt: str) -> ToolCall:
    """The answer in the schema's shape: top-level string fields meant for the answer
    (``answer``, ``response``, ``result``) get the text answer to the prompt (from given
    context when there is some); the rest is filled from the prompt as for any tool, and
    booleans are true (the answer is given)."""
    params = _parameters(fn)
    arguments = Filler(prompt, params).fill(params)
    if not isinstance(arguments, dict):
        arguments = {}
    text = _answer_text(prompt).content
    for key, schema in _properties(params).items():
        if key in _ANSWER_KEYS and isinstance(schema, dict) and schema.get("type") == "string":
            arguments[key] = text
    return ToolCall(fn["name"], arguments)


def _calls_for(fn: dict[str, Any], prompt: str) -> list[ToolCall]:
    """Calls of one chosen tool: one per quoted value when it takes a single string and the
    prompt quotes several ("the weather in 'Paris' and 'Rome'"), else one."""
    params = _parameters(fn)
    properties = _properties(params)
    values = _prompt.quoted(prompt)
    if len(properties) == 1 and len(values) > 1:
        ((key, schema),) = properties.items()
        if isinstance(schema, dict) and schema.get("type") == "string":
            return [ToolCall(fn["name"], {key: value}) for value in values]
    return [ToolCall(fn["name"], Filler(prompt, params).fill(params))]


def _call_from_site(fn: dict[str, Any], prompt: str, arg_text: str) -> ToolCall:
    """A call written as ``name(a, b)`` or ``name(x=1)`` in the prompt."""
    params = _parameters(fn)
    properties = _properties(params)
    given: dict[str, Any] = {}
    positional = [p for p in _split_args(arg_text) if p]
    names = list(properties)
    for part in positional:
        keyed = re.match(r"^\s*([A-Za-z_]\w*)\s*[=:]\s*(.+)$", part)
        if keyed and keyed.group(1) in properties:
            given[keyed.group(1)] = _prompt.literal(keyed.group(2))
        elif len(given) < len(names):
            free = [n for n in names if n not in given]
            given[free[0]] = _prompt.literal(part)
    filler = Filler(prompt, params)
    for key, value in given.items():
        filler.take_value(key, value)
    arguments = filler.fill(params)
    for key, value in given.items():
        arguments[key] = _coerce(value, properties.get(key))
    return ToolCall(fn["name"], arguments)


def _split_args(text: str) -> list[str]:
    """Split call-site arguments on commas outside quotes."""
    parts: list[str] = []
    current = ""
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            parts.append(current.strip())
            current = ""
            continue
        current += char
    parts.append(current.strip())
    return parts


def _coerce(value: Any, schema: Any) -> Any:
    """A call-site value converted to the parameter's declared type where that is lossless."""
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind == "integer" and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    if kind == "number" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "string" and not isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return value


def _parameters(fn: dict[str, Any]) -> dict[str, Any]:
    params = fn.get("parameters")
    return params if isinstance(params, dict) else {"type": "object", "properties": {}}


def _properties(params: dict[str, Any]) -> dict[str, Any]:
    properties = params.get("properties")
    return properties if isinstance(properties, dict) else {}


def _word_score(name: str, prompt_words: set[str]) -> int:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower()
    words = {w for w in re.split(r"[^a-z0-9]+", spaced) if len(w) >= 3} - _FILLER_WORDS
    return sum(1 for w in words if {w, w + "s", w + "es"} & prompt_words)


# --- answers -------------------------------------------------------------------------------


def _trailing_tool_results(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        results.insert(0, message)
    return results


def _answer_tool_results(messages: list[dict[str, Any]]) -> Turn:
    """Report the tool results that end the conversation, one sentence per result."""
    results = _trailing_tool_results(messages)
    names = _call_names(messages)
    sentences: list[str] = []
    for result in results:
        name = names.get(str(result.get("tool_call_id")), "tool")
        sentences.append(_describe_result(name, message_text(result.get("content"))))
    summary = " ".join(sentences)
    return Turn(
        reasoning=f"The tool returned {_prompt.snippet(summary)}. I can now answer the user "
        "with this result.",
        content=summary,
    )


def _call_names(messages: list[dict[str, Any]]) -> dict[str, str]:
    """Tool-call id -> function name, from the assistant messages of the history."""
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                names[str(call.get("id"))] = str(call["function"].get("name", "tool"))
    return names


def _describe_result(name: str, content: str) -> str:
    text = content.strip()
    if text.lower().startswith("error") or "error:" in text.lower():
        return (
            f"The {name} tool reported an error: {text} "
            "Please give me the missing information and I will try again."
        )
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict) and len(value) == 1:
        ((key, item),) = value.items()
        return f"The {key} is {json.dumps(item, ensure_ascii=False)}."
    return f"The {name} tool returned: {text}"


def _answer_json(messages: list[dict[str, Any]], prompt: str) -> Turn:
    """A JSON object: an instance of a schema in the messages, or the keys the prompt names."""
    schema = find_schema(message_text(m.get("content")) for m in messages)
    keys = named_keys(prompt)
    if schema is not None:
        answer = Filler(prompt, schema).fill(schema)
        if not isinstance(answer, dict):
            answer = {"result": answer}
    elif keys:
        filler = Filler(prompt, ignore=keys)
        answer = {key: filler.fill({"type": "string"}, key) for key in keys}
    else:
        answer = {"answer": _answer_text(prompt).content}
    shown = ", ".join(answer) or "none"
    return Turn(
        reasoning=f"The user wants a JSON object (keys: {shown}). I will reply with the JSON "
        "object only, without any other text.",
        content=json.dumps(answer, ensure_ascii=False),
    )


def _answer_text(prompt: str) -> Turn:
    """A short text answer chosen by the first rule that matches the prompt."""
    standalone = _STANDALONE.search(prompt)
    if standalone is not None:
        question = (standalone.group(1) or standalone.group(2)).strip()
        return Turn(
            f'The user wants the follow-up "{_prompt.snippet(question)}" as a standalone '
            "question. It already stands alone, so I will repeat it.",
            question,
        )
    grounded = _answer_from_context(prompt)
    if grounded is not None:
        return grounded
    lowered = prompt.lower().strip()
    cjk = _prompt.has_cjk(prompt)
    said = _said(prompt)
    arithmetic = _ARITHMETIC.search(prompt)
    if arithmetic and (result := _calculate(*arithmetic.groups())) is not None:
        left, op, right = arithmetic.groups()
        return Turn(
            f"{said} This is simple arithmetic: {left} {op} {right}.",
            f"{left} {op} {right} = {result}.",
        )
    if "haiku" in lowered:
        count = _requested_count(lowered)
        return Turn(
            f"{said} I need to write {_count(count, 'haiku')}, each with three lines of "
            "five, seven and five syllables, and nothing else.",
            _prompt.haikus(count, prompt),
        )
    if "joke" in lowered:
        setup, punchline = _prompt.joke(prompt)
        return Turn(f"{said} A short, friendly joke fits here.", f"{setup} {punchline}")
    if "story" in lowered:
        subject = _story_subject(prompt)
        return Turn(
            f"{said} I will write a short, gentle story about a {subject}.",
            _prompt.story(subject),
        )
    if "how are you" in lowered or "你好吗" in prompt:
        return Turn(
            f"{said} The user asks how I am. I should answer politely and offer help.",
            "我很好，谢谢！有什么可以帮你的吗？"
            if cjk
            else "I'm doing well, thank you for asking! How can I help you today?",
        )
    if _GREETING.search(lowered) or lowered.startswith(("你好", "こんにちは")):
        return Turn(
            f"{said} This is a simple greeting. I should respond warmly and briefly, and "
            "offer help.",
            "你好！有什么可以帮你的吗？" if cjk else "Hello! How can I help you today?",
        )
    if lowered.startswith(("thanks", "thank you", "well, thanks")) or "谢谢" in prompt:
        return Turn(
            f"{said} The user is thanking me. A short, friendly reply is enough.",
            "不客气！" if cjk else "You're welcome! Let me know if there is anything else.",
        )
    if "your name" in lowered or "who are you" in lowered or "名字" in prompt:
        return Turn(
            f"{said} The user asks who I am.",
            "我是GLM，一个人工智能助手。" if cjk else "I'm GLM, an AI assistant.",
        )
    return Turn(
        f"{said} I should give a short, direct answer.",
        f"关于“{_prompt.snippet(prompt)}”：这是本地模拟器的简短回答。"
        if cjk
        else f'Here is a short answer about "{_prompt.snippet(prompt)}": I understand the '
        "request and have noted it.",
    )


def _answer_from_context(prompt: str) -> Turn | None:
    """A question asked over given context (a retrieval prompt: context first, then a line
    ``Query: ...`` or ``Question: ...``): the context sentence sharing most words with it. A
    refine prompt's earlier answer (``Original Answer: ...`` after the question) competes
    with the new context and wins a tie ("when in doubt, repeat the original answer")."""
    found = list(_QUESTION_LINE.finditer(prompt))
    if not found:
        return None
    question = found[-1].group(1).strip()
    # Metadata lines ("file_path: ...") and rules ("-----") are not part of the documents.
    lines = [
        "" if _METADATA_LINE.match(line) or not line.strip("-=* ") else _unlabelled(line)
        for line in prompt[: found[-1].start()].splitlines()
    ]
    earlier = _EARLIER_ANSWER.search(prompt, found[-1].end())
    if earlier is not None:
        lines = [earlier.group(1).strip(), "", *lines]
    paragraphs = " ".join(line or "\n" for line in lines).split("\n")  # a title stands alone
    sentences = [s.strip() for p in paragraphs for s in re.split(r"(?<=[.!?])\s+", p) if s.strip()]
    wanted = _significant_words(question)
    if not sentences or not wanted:
        return None
    score, best = max((len(wanted & _significant_words(s)), -i) for i, s in enumerate(sentences))
    if score == 0:
        return Turn(
            f'The user asks "{_prompt.snippet(question)}". The context does not mention it.',
            _NOT_IN_CONTEXT,
        )
    sentence = sentences[-best]
    return Turn(
        f'The user asks "{_prompt.snippet(question)}". The context says: '
        f'"{_prompt.snippet(sentence)}" I will answer from it.',
        sentence,
    )


def _answer_from_system_context(messages: list[dict[str, Any]], prompt: str) -> Turn | None:
    """A question whose context came in a system message (LlamaIndex's context chat engines
    put the retrieved documents there): answered from that context when a sentence of it
    shares a word with the question, else None (the usual rules apply)."""
    system = "\n".join(
        message_text(m.get("content")) for m in messages if m.get("role") == "system"
    )
    if not re.search(r"\b(?:context|documents?)\b", system, re.IGNORECASE) or not prompt.strip():
        return None
    question = " ".join(prompt.split())
    turn = _answer_from_context(f"{system}\nQuestion: {question}")
    return None if turn is None or turn.content == _NOT_IN_CONTEXT else turn


def _unlabelled(line: str) -> str:
    return _PASSAGE_LABEL.sub("", line.strip())


def _significant_words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    return {w.rstrip("s") for w in words if len(w) > 3 and w not in _COMMON_WORDS}


def _said(prompt: str) -> str:
    """``The user wrote "Hello."``: the prompt quoted, ending as a sentence."""
    quote = _prompt.snippet(prompt)
    return f'The user wrote "{quote}"' + ("" if quote.endswith((".", "!", "?")) else ".")


def _calculate(left: str, op: str, right: str) -> str | None:
    a, b = float(left), float(right)
    if op == "+":
        value = a + b
    elif op == "-":
        value = a - b
    elif op in "*×":
        value = a * b
    elif b == 0:
        return None
    else:
        value = a / b
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _requested_count(lowered: str) -> int:
    numbers = [n for n in _prompt.numbers(lowered) if isinstance(n, int)]
    if numbers:
        return numbers[0]
    for word in re.findall(r"[a-z]+", lowered):
        if word in _NUMBER_WORDS:
            return _NUMBER_WORDS[word]
    return 1


def _story_subject(prompt: str) -> str:
    subject = _prompt.topic(prompt) or "cat"
    words = [w for w in subject.split() if w.lower() not in ("a", "an", "the")]
    noun = words[-1] if words else "cat"
    return noun[:-1] if noun.endswith("s") and len(noun) > 3 else noun


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


# --- images --------------------------------------------------------------------------------


def _image_urls(content: Any) -> list[str]:
    if not isinstance(content, list):
        return []
    return [
        p["image_url"]["url"]
        for p in content
        if isinstance(p, dict) and p.get("type") == "image_url"
    ]


def _describe_images(urls: list[str], prompt: str) -> str:
    """One sentence per image. The emulator cannot see pictures: it describes the ones it was
    told about (``_prompt.known_image``), names what a URL's file name says, and otherwise
    reports what the bytes say (format and size)."""
    colours = any(word in prompt.lower() for word in ("colour", "color")) or "颜色" in prompt
    sentences = []
    for n, url in enumerate(urls, 1):
        subject = "The image" if len(urls) == 1 else f"Image {n}"
        known = _known_image(url)
        if known is not None and colours:
            sentences.append(f"{subject} shows {known.colours}.")
        elif known is not None:
            sentences.append(f"{subject} is {known.description}.")
        else:
            sentences.append(f"{subject} shows {_what_image(url)}.")
    return " ".join(sentences)


def _known_image(url: str) -> _prompt.KnownImage | None:
    if url.startswith(("http://", "https://")):
        return None
    try:
        raw = base64.b64decode(url, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _prompt.known_image(raw)


def _what_image(url: str) -> str:
    if url.startswith(("http://", "https://")):
        name = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] or url
        # "Camponotus_flavomarginatus_ant.jpg": a file name made of words says what it shows.
        words = [w for w in re.split(r"[-_+.\s]+|%20", name.rsplit(".", 1)[0]) if w]
        if words and all(w.isalpha() for w in words):
            return "a " + " ".join(words)
        return f"the picture {name}"
    try:
        head = base64.b64decode(url[:64] + "=" * (-len(url[:64]) % 4), validate=False)
    except (binascii.Error, ValueError):
        return "a picture"
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return f"a PNG picture of {width} by {height} pixels"
    if head.startswith(b"\xff\xd8"):
        return "a JPEG photo"
    return "a picture"
