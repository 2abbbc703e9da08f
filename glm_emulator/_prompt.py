"""Reading a prompt: token pieces, values a user typed, and a few canned lines of text.

Everything here is a crude, deterministic heuristic. It only has to make the emulator's
answers plausible and stable, never clever.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

# One "token" of output: a run of ASCII letters, up to three digits, two CJK characters, or
# one other non-space character, each with the whitespace before it; or trailing whitespace.
# Joining the pieces gives back the text exactly (tested), so they can be streamed as deltas.
_PIECE = re.compile(
    r"\s*(?:[A-Za-z]+|\d{1,3}|[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]{1,2}|\S)|\s+"
)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
# A number standing on its own ("3", "-4", "2.5"), not part of a name such as glm-4 or f2.
_NUMBER = re.compile(r"(?<![\w.\-])-?\d+(?:\.\d+)?(?!\w)(?!\.\d)")  # "1999." ends a sentence
# Quoted text: '...' and "..." only when the quotes stand at word edges (so "what's" and
# "don't" are not quotes), plus the typographic and CJK quote pairs.
_QUOTED = re.compile(
    r"""(?:(?<=^)|(?<=[\s(\[:,]))(['"])([^'"\n]+?)\1(?=[\s).,!?:;\]]|$)"""
    r"|[“‘「『]([^”’」』\n]+)[”’」』]"
)
# "in San Francisco, CA?" / "for Paris": a capitalised place after a preposition.
_PLACE = re.compile(r"\b(?:in|at|for|near|from)\s+([A-Z][^?.!;\n]*)")
# "a joke about cats." -> "cats"
_ABOUT = re.compile(r"\babout\s+([^?.!,;\n]+)", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def pieces(text: str) -> list[str]:
    """Split ``text`` into small pieces whose concatenation is ``text``."""
    return _PIECE.findall(text)


def count_tokens(text: str) -> int:
    """A crude token count: the number of :func:`pieces`."""
    return len(pieces(text))


def has_cjk(text: str) -> bool:
    """True if ``text`` contains Chinese or Japanese characters."""
    return _CJK.search(text) is not None


def numbers(text: str) -> list[int | float]:
    """Stand-alone numbers in reading order, as ints where they have no fraction."""
    found: list[int | float] = []
    for match in _NUMBER.finditer(text):
        raw = match.group(0)
        found.append(float(raw) if "." in raw else int(raw))
    return found


def quoted(text: str) -> list[str]:
    """Quoted strings in reading order, without their quotes."""
    return [m.group(2) or m.group(3) for m in _QUOTED.finditer(text)]


def place(text: str) -> str | None:
    """A place named after "in"/"at"/"for"/..., e.g. ``San Francisco, CA``."""
    match = _PLACE.search(text)
    return match.group(1).strip() if match else None


def topic(text: str) -> str | None:
    """What the prompt is "about", e.g. ``cats``."""
    match = _ABOUT.search(text)
    return match.group(1).strip() if match else None


def proper_words(text: str) -> list[str]:
    """Capitalised words that do not start a sentence ("generate a Pirate greeting")."""
    found: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        before = text[: match.start()].rstrip()
        sentence_start = not before or before[-1] in ".!?:"
        if word[0].isupper() and not sentence_start and word != "I":
            found.append(word)
    return found


def after_dash(text: str) -> str | None:
    """The clause after " - " or " — ", often a description ("X - a Chinese company")."""
    for sep in (" - ", " — ", " – "):
        if sep in text:
            tail = text.split(sep, 1)[1].strip().rstrip(".")
            if tail:
                return tail
    return None


def call_sites(text: str, name: str) -> list[tuple[int, str]]:
    """Position and argument text of every ``name(...)`` written in the prompt."""
    pattern = re.compile(r"(?<![\w])" + re.escape(name) + r"\s*\(([^()]*)\)")
    return [(m.start(), m.group(1)) for m in pattern.finditer(text)]


def literal(raw: str) -> Any:
    """A call-site argument as a value: JSON if it parses, else the text without quotes."""
    raw = raw.strip()
    try:
        return json.loads(raw)
    except ValueError:
        return raw.strip("'\"")


def snippet(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


# Canned content. The emulator is no model: these lines are what it says when a prompt asks
# for a joke, a haiku or a story, so that such answers at least read naturally.

_JOKES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("cat", "kitten", "猫"),
        "Why did the cat sit on the computer?",
        "To keep an eye on the mouse!",
    ),
    (
        ("dog", "puppy", "狗"),
        "Why did the dog sit in the shade?",
        "Because it didn't want to be a hot dog!",
    ),
    (
        ("panda", "熊猫"),
        "Why do pandas like old movies?",
        "Because they're in black and white!",
    ),
    (
        ("tea", "茶"),
        "Why did the green tea stay so calm on a busy day?",
        "It had learned to let things steep.",
    ),
)
_DEFAULT_JOKE = ("Why don't scientists trust atoms?", "Because they make up everything!")


def joke(text: str) -> tuple[str, str]:
    """A (setup, punchline) pair matching the prompt's subject, if we know one."""
    lowered = text.lower()
    for keys, setup, punchline in _JOKES:
        if any(key in lowered for key in keys):
            return setup, punchline
    return _DEFAULT_JOKE


# Each haiku with the words of a prompt it suits; a prompt naming none gets them in order.
_HAIKUS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("cat", "kitten", "morning"),
        "Morning light spills in\nA cat stretches on the sill\nThe day begins slow",
    ),
    (
        ("yangtze", "长江"),
        "Yangtze, wide and brown\nBoats drift past misty gorges\nOn to the far sea",
    ),
    (
        ("river", "autumn", "leaves", "河"),
        "Autumn leaves drifting\nThe river carries them home\nQuiet evening falls",
    ),
    (
        ("snow", "mountain", "winter", "crow"),
        "Snow on the mountain\nA single crow calls and leaves\nSilence fills the pines",
    ),
)


def haikus(count: int, prompt: str = "") -> str:
    """``count`` haikus (1 to 4), separated by a blank line: those whose subject the prompt
    names first."""
    lowered = prompt.lower()
    ranked = sorted(_HAIKUS, key=lambda item: not any(key in lowered for key in item[0]))
    return "\n\n".join(text for _, text in ranked[: max(1, min(count, len(ranked)))])


@dataclass(frozen=True)
class KnownImage:
    """A picture the emulator has been told about: what a person sees in it."""

    description: str
    colours: str


# The emulator cannot see, so pictures it should describe are listed here by the SHA-256 of
# their bytes, with a description written by a person who looked at them.
_KNOWN_IMAGES = {
    # tests/fixtures/picture.png = cookbook/assets/picture.png, a 96 x 64 drawing.
    "ba3752431a9043d9bd756154ce870aa405bb0d70838a866d86632814a7c859b0": KnownImage(
        description="a simple drawing of a sunset: a yellow sun sinks behind a dark green "
        "field under a sky that fades from blue to pink",
        colours="a blue sky fading to pink at the horizon, a bright yellow sun and dark "
        "green ground",
    ),
}


def known_image(raw: bytes) -> KnownImage | None:
    """What a person saw in this picture, if the emulator was told."""
    return _KNOWN_IMAGES.get(hashlib.sha256(raw).hexdigest())


def story(subject: str) -> str:
    """A five-sentence story about ``subject``."""
    return (
        f"Once upon a time, there was a curious {subject} named Miso who lived in a small "
        "house by the sea. Every morning, Miso watched the fishing boats leave the harbour "
        "and wondered where they went. One day, Miso slipped aboard a boat and hid among "
        "the nets. The sailors found the stowaway at noon, laughed, and shared their lunch. "
        "From then on, Miso sailed with them every day and was never bored again."
    )
