"""Entity extractors other than dates: guests, room type, booking id, name, yes/no, urgency."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from agent.nlp.intents import (
    ANSWER_FILLERS,
    NO_PHRASES,
    NO_SYMBOLS,
    ROOM_TYPE_EXCLUSIONS,
    ROOM_TYPES,
    ROOM_WISHES,
    URGENT_CUES,
    YES_PHRASES,
    YES_SYMBOLS,
)
from agent.nlp.normalize import fold, phrase_regex, token_text
from agent.nlp.numbers import MONTH_RE, NUM_RE, NUMBER_WORDS, alternation, parse_count

MAX_GUESTS = 30

# --- guests --------------------------------------------------------------------------------

_TOTAL_NOUNS = (
    r"personas?|huespedes|huesped|pax|pasajeros?|people|persons?|guests?|travell?ers?|ppl"
)
_ADULT_NOUNS = r"adultos?|adults?|mayores|grown\s*ups?"
_CHILD_NOUNS = (
    r"ninos?|ninas?|chicos?|chicas?|hijos?|hijas?|menores|nenes?|nenas?|bebes?|children|"
    r"childs?|kids?|babies|baby|infants?|toddlers?|teens?|teenagers?"
)
# "a guest" / "an adult" is too often generic ("is a guest allowed..."); "una persona" is not.
_NUM_NO_EN_ARTICLE = r"\d{1,3}|" + alternation(
    tuple(w for w in NUMBER_WORDS if w not in ("a", "an"))
)
_COUNT_NOUN = re.compile(
    rf"\b(?P<n>{_NUM_NO_EN_ARTICLE})\s+(?:(?P<total>{_TOTAL_NOUNS})|(?P<adult>{_ADULT_NOUNS})"
    rf"|(?P<child>{_CHILD_NOUNS}))\b"
    rf"|\b(?P<art>a|an)\s+(?P<child2>{_CHILD_NOUNS})\b"
)
_NOT_GUESTS_AFTER = (
    rf"(?!\s*(?:[/.:-]\s*\d|%|de\s+(?:{MONTH_RE})\b|(?:noches?|nights?|dias?|days?|semanas?|"
    r"weeks?|meses|months?|hs|hrs?|horas?|hours?|pm|am|pesos|dolares|dollars|usd|"
    r"habitacion(?:es)?|rooms?|camas?|beds?|minutos?|minutes?|anos|years?|cuadras|blocks)\b))"
)
# "hablar con una persona" asks for staff; it does not count guests.
_TALK_TO = re.compile(r"\b(?:hablar|hable|comunicarme|talk|speak)\s+(?:con|to|with)\s+$")
# "para una" / "for a" are too vague to count on their own.
_COUNT_WORDS = alternation(tuple(w for w, n in NUMBER_WORDS.items() if n > 1))
_TOTAL_PATTERNS = (
    re.compile(
        r"\b(?:somos|seremos|vamos\s+a\s+ser|vamos|viajamos|we\s+are|we'?re|we\s+will\s+be|"
        r"there\s+are|there\s+will\s+be|party\s+of|grupo\s+de|group\s+of)\s+"
        rf"(?:un\s+total\s+de\s+|a\s+total\s+of\s+)?(?P<n>\d{{1,2}}|{_COUNT_WORDS})\b"
        + _NOT_GUESTS_AFTER
    ),
    re.compile(rf"\b(?P<n>{NUM_RE})\s+of\s+us\b"),
    re.compile(rf"\b(?:familia|family)\s+(?:de|of)\s+(?P<n>\d{{1,2}}|{_COUNT_WORDS})\b"),
    re.compile(rf"\b(?:para|for)\s+(?P<n>\d{{1,2}}|{_COUNT_WORDS})\b" + _NOT_GUESTS_AFTER),
)
_FIXED_GROUPS = (
    (
        re.compile(
            r"\b(?:una\s+pareja|en\s+pareja|a\s+couple(?!\s+of)|matrimonio|"
            r"mi\s+(?:esposa|esposo|mujer|marido|novia|novio|pareja)\s+y\s+yo|"
            r"(?:con|yo\s+y)\s+mi\s+(?:esposa|esposo|mujer|marido|novia|novio|pareja)|"
            r"my\s+(?:wife|husband|partner|girlfriend|boyfriend)\s+and\s+(?:i|me)|"
            r"(?:me\s+and|with)\s+my\s+(?:wife|husband|partner|girlfriend|boyfriend)|"
            r"(?:me\s+and|with)\s+a\s+(?:friend|colleague|coworker)|"
            r"(?:con|yo\s+y)\s+(?:un|una)\s+(?:amig[oa]|colega|companer[oa]))\b"
        ),
        2,
    ),
    (
        re.compile(
            r"\b(?:solo\s+yo|solo\s+para\s+mi|just\s+me|only\s+me|viajo\s+sol[oa]|"
            r"travell?ing\s+alone|by\s+myself)\b"
        ),
        1,
    ),
)


def extract_guests(folded: str) -> int | None:
    """Number of guests: a stated total, or adults plus children, whichever is larger."""
    totals: list[int] = []
    parts = 0
    for m in _COUNT_NOUN.finditer(folded):
        count = parse_count(m["n"] or m["art"])
        if count is None or _TALK_TO.search(folded, 0, m.start()):
            continue
        if m["total"]:
            totals.append(count)
        else:
            parts += count
    for pattern in _TOTAL_PATTERNS:
        totals.extend(n for m in pattern.finditer(folded) if (n := parse_count(m["n"])))
    totals.extend(size for pattern, size in _FIXED_GROUPS if pattern.search(folded))
    guests = max([*totals, parts])
    return guests if 1 <= guests <= MAX_GUESTS else None


# --- room type, booking id, urgency ----------------------------------------------------------

_ROOM_TYPE_RES = tuple((re.compile(phrase_regex(p)), kind) for p, kind in ROOM_TYPES)
_ROOM_TYPE_EXCLUDED = tuple(re.compile(phrase_regex(p)) for p in ROOM_TYPE_EXCLUSIONS)
_URGENT_RE = re.compile("|".join(phrase_regex(p) for p in URGENT_CUES))


def extract_room_type(tokens: str) -> str | None:
    """Room category named first in the message, if any."""
    blocked = [m.span() for r in _ROOM_TYPE_EXCLUDED for m in r.finditer(tokens)]
    found = [
        (m.start(), kind)
        for pattern, kind in _ROOM_TYPE_RES
        for m in pattern.finditer(tokens)
        if not any(s <= m.start() < e for s, e in blocked)
    ]
    return min(found)[1] if found else None


_ROOM_WISH_RES = tuple((re.compile(phrase_regex(p)), wish) for p, wish in ROOM_WISHES)


def extract_room_wish(tokens: str) -> str | None:
    """What the guest calls the room ("doble", "twin", "con vista"), named first."""
    found = [
        (m.start(), -len(m[0]), wish) for r, wish in _ROOM_WISH_RES for m in r.finditer(tokens)
    ]
    return min(found)[2] if found else None


# "quiero cancelar mi reserva" asks for it; "¿se puede cancelar?" asks about the policy.
_CANCEL_REQUEST = re.compile(
    r"\b(?:quiero|quisiera|queria|necesito|tengo que|tenemos que|debo|hay que|vamos a|"
    r"want to|need to|have to|would like to|i'd like to|id like to|please)\s+cancel\w*"
    r"|\bcancel(?:ar|en|en|a|e|o)?(?:me|la|lo)?\s+(?:mi|la|nuestra|my|our|the)\s+"
    r"(?:reserva|reservacion|booking|reservation)\b(?!.*\?)"
)


def wants_to_cancel(folded: str) -> bool:
    """Whether the guest asks to cancel a booking (not how cancelling works)."""
    return _CANCEL_REQUEST.search(folded) is not None and "?" not in folded


def is_urgent(tokens: str) -> bool:
    """Whether the guest flags the message as urgent or an emergency."""
    return _URGENT_RE.search(tokens) is not None


_BK_ID = re.compile(r"\bbk\s*[-#]?\s*(?P<n>\d{1,10})\b")
_CUED_ID = re.compile(
    r"\b(?:reserva|reservacion|booking|reservation|confirmacion|confirmation|localizador|"
    r"codigo|code|nro|numero|number)\b[^\d\n]{0,30}?(?P<n>\d{4,10})\b(?![/.:-]\d)"
)
_ONLY_ID = re.compile(r"^\W*(?P<n>\d{4,10})\W*$")


def extract_booking_id(folded: str) -> str | None:
    """A "BK-000123" style id (zero-padded to six digits), or digits the guest calls a booking."""
    if m := _BK_ID.search(folded):
        return "BK-" + m["n"].zfill(6)
    if m := _CUED_ID.search(folded) or _ONLY_ID.match(folded):
        return m["n"]
    return None


# --- guest name ----------------------------------------------------------------------------

_NAME_WORDS = r"(?P<name>[^\W\d_]+(?:[ '\-][^\W\d_]+){0,5})"
_STRONG_NAME = re.compile(
    r"(?i:\b(?:me\s+llamo|mi\s+nombre\s+es|my\s+name\s+is|my\s+name's|a\s+nombre\s+de|"
    r"under\s+the\s+name(?:\s+of)?|name\s+is)\b|\b(?:nombre|name)\s*:)\s*[:,-]?\s*" + _NAME_WORDS
)
_WEAK_NAME = re.compile(
    r"(?i:\b(?:soy|i\s+am|i'm|this\s+is|les\s+habla|te\s+habla)\b)\s+" + _NAME_WORDS
)
_NAME_JOINERS = frozenset({"de", "del", "la", "las", "los", "van", "von", "da", "di", "le"})
_NAME_STOPS = frozenset(
    str.split(
        """
    y e o and or but pero quiero quisiera queria necesito necesitamos para por con en desde
    i want would like need tengo tenemos the a an el un una from with in at on of for to
    hola hello hi gracias thanks please porfa yo me mi my soy am is es que and wanted
    """
    )
)
_MAX_NAME_WORDS = 4


def _clean_name(raw: str, need_capitals: bool) -> str | None:
    words: list[str] = []
    for word in raw.split(" "):
        folded = fold(word)
        if folded in _NAME_JOINERS:
            if not words:
                break
            words.append(word)
            continue
        if folded in _NAME_STOPS or (need_capitals and not word[:1].isupper()):
            break
        words.append(word)
        if len([w for w in words if fold(w) not in _NAME_JOINERS]) >= _MAX_NAME_WORDS:
            break
    while words and fold(words[-1]) in _NAME_JOINERS:
        words.pop()
    if not words:
        return None
    if all(w.islower() for w in words):
        words = [w if fold(w) in _NAME_JOINERS else w[:1].upper() + w[1:] for w in words]
    return " ".join(words)


def extract_guest_name(text: str) -> str | None:
    """Name after "me llamo" / "my name is" (any case) or "soy" / "I'm" (capitalised only)."""
    text = unicodedata.normalize("NFC", text[:4096]).replace("\u2019", "'")
    for pattern, need_capitals in ((_STRONG_NAME, False), (_WEAK_NAME, True)):
        for m in pattern.finditer(text):
            name = _clean_name(m["name"], need_capitals)
            if name:
                return name
    return None


# --- yes / no answers ----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """Polarity of a leading yes/no word and whether the message is nothing but an answer."""

    polarity: bool | None
    bare: bool
    mixed: bool


def _phrase_table() -> dict[tuple[str, ...], bool | None]:
    table: dict[tuple[str, ...], bool | None] = {}
    for phrases, value in ((ANSWER_FILLERS, None), (NO_PHRASES, False), (YES_PHRASES, True)):
        for phrase in phrases:
            table[tuple(token_text(fold(phrase)).split())] = value
    return table


_ANSWER_TABLE = _phrase_table()
_LONGEST_ANSWER = max(len(k) for k in _ANSWER_TABLE)
# "si" and "no" also open ordinary sentences ("si llego tarde...", "no tengo reserva"), so
# inside a longer message they only count when punctuation marks them off as an answer.
_AMBIGUOUS_LEADS = frozenset({("si",), ("no",), ("bueno",), ("va",), ("ya",), ("right",)})
_MAX_ANSWER_TOKENS = 8


def read_answer(text: str, folded: str, tokens: str) -> Answer:
    """Classify the message as a yes/no answer (see ``Answer``)."""
    words = tokens.split()
    seen: list[bool] = []
    first_phrase: tuple[str, ...] | None = None
    i = 0
    while i < len(words):
        for size in range(min(_LONGEST_ANSWER, len(words) - i), 0, -1):
            key = tuple(words[i : i + size])
            if key in _ANSWER_TABLE:
                value = _ANSWER_TABLE[key]
                if value is not None:
                    seen.append(value)
                    first_phrase = first_phrase or key
                i += size
                break
        else:
            break
    bare = i == len(words) and len(words) <= _MAX_ANSWER_TOKENS
    symbols = [True for s in YES_SYMBOLS if s in text] + [False for s in NO_SYMBOLS if s in text]
    polarities = seen or symbols
    if not polarities:
        return Answer(None, bare=False, mixed=False)
    mixed = len(set(polarities)) > 1
    if bare or not seen:
        return Answer(polarities[0], bare=bare, mixed=mixed)
    if first_phrase in _AMBIGUOUS_LEADS:
        marked = re.match(rf"^\W*{' '.join(first_phrase)}\s*[,.!;:]", folded)
        accented = first_phrase == ("si",) and re.match(
            r"(?i)^\W*sí\b", unicodedata.normalize("NFC", text).strip()
        )
        if not (marked or accented):
            return Answer(None, bare=False, mixed=False)
    return Answer(seen[0], bare=False, mixed=mixed)
