"""Text folding shared by every rule: accent- and case-insensitive, punctuation-aware."""

from __future__ import annotations

import re
import unicodedata

# Longer inputs are cut here: a chat message is at most a few thousand characters and the
# rules never need more context than that, so a huge paste cannot slow a reply down.
MAX_CHARS = 4096

_WORD_RE = re.compile(r"[^\W_]+")
_SPACE_RE = re.compile(r"\s+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Chat elongation ("holaaa", "siii", "graciasss"): no es/en word has a letter three times in
# a row, so any such run is one letter.
_ELONGATED_RE = re.compile(r"([a-z])\1{2,}")

# Multi-word spellings folded into one token so rule tables need a single entry.
_CANONICAL: tuple[tuple[str, str], ...] = (
    (r"\bcheck in\b", "checkin"),
    (r"\bcheck out\b", "checkout"),
    (r"\bwi fi\b", "wifi"),
    (r"\be mail\b", "email"),
)
# Letters-only stand-in for "*" so it survives tokenisation of a rule phrase.
_STAR = "qxstarqx"

_CANONICAL_RE = tuple((re.compile(pattern), repl) for pattern, repl in _CANONICAL)


def fold(text: str) -> str:
    """Lower-case, strip accents and control characters, undo elongation; keep punctuation."""
    text = text[:MAX_CHARS]
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("\u2019", "'").replace("\u2018", "'")
    stripped = _CONTROL_RE.sub(" ", stripped.casefold())
    stripped = _ELONGATED_RE.sub(r"\1", stripped)
    return _SPACE_RE.sub(" ", stripped).strip()


def token_text(folded: str) -> str:
    """Words of already folded text joined by single spaces, with canonical multi-word terms."""
    joined = " ".join(_WORD_RE.findall(folded))
    for pattern, repl in _CANONICAL_RE:
        joined = pattern.sub(repl, joined)
    return joined


def phrase_needle(phrase: str) -> str:
    """Longest literal piece of a rule phrase: text without it cannot match the phrase."""
    words = token_text(fold(phrase.replace("*", _STAR))).split(" ")
    return max((w.removesuffix(_STAR) for w in words), key=len)


def phrase_regex(phrase: str) -> str:
    """Regex source matching a rule phrase as whole words in token text.

    A trailing ``*`` on a word is a prefix wildcard (``reserv*`` matches ``reservar``).
    """
    parts = []
    for word in token_text(fold(phrase.replace("*", _STAR))).split(" "):
        if word.endswith(_STAR):
            parts.append(re.escape(word[: -len(_STAR)]) + r"\w*")
        else:
            parts.append(re.escape(word))
    return r"(?<!\S)" + " ".join(parts) + r"(?!\S)"
