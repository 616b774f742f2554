"""Intent scoring and the ``analyze`` entry point.

Confidence: the winning intent's score ``s`` (sum of its distinct cue weights plus entity
boosts) maps to ``1 - exp(-1.6 s)``, so one STRONG cue gives about 0.80, one WEAK cue about
0.47 and several cues approach (never exceed) 0.98. A close runner-up lowers it by up to a
half: ``conf * (1 - 0.5 r^2)`` with ``r`` = runner-up / winner. No cue at all gives
``unknown`` at 0.1 (0.0 for empty text); a bare yes/no answer gives ``confirm`` at 0.92.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from datetime import date

from agent.nlp.dates import parse_dates
from agent.nlp.entities import (
    extract_booking_id,
    extract_guest_name,
    extract_guests,
    extract_room_type,
    extract_room_wish,
    is_urgent,
    read_answer,
    wants_to_cancel,
)
from agent.nlp.intents import (
    ENTITY_BOOSTS,
    ENTITY_ONLY,
    INTENTS,
    NEUTRAL_PHRASES,
    SOCIAL,
    cue_table,
)
from agent.nlp.language import SUPPORTED, detect_language
from agent.nlp.models import Analysis, Entities
from agent.nlp.normalize import fold, phrase_needle, phrase_regex, token_text

MIN_SCORE = 0.3  # below this an intent is noise (a lone BOOST cue)
MAX_CONFIDENCE = 0.98
BARE_ANSWER_CONFIDENCE = 0.92
MIXED_ANSWER_CONFIDENCE = 0.5  # "no... sí": an answer, but which one?
UNKNOWN_CONFIDENCE = 0.1
_STEEPNESS = 1.6
_RUNNER_UP_PENALTY = 0.5

# (intent, phrase, needle, pattern, weight); the needle is a cheap substring pre-check that
# skips most of the ~400 regexes for a typical message.
_COMPILED_CUES = tuple(
    (intent, phrase, phrase_needle(phrase), re.compile(phrase_regex(phrase)), weight)
    for intent, phrase, weight in cue_table()
)

_NEUTRAL = re.compile("|".join(phrase_regex(p) for p in NEUTRAL_PHRASES))


@dataclass(frozen=True)
class _Hit:
    intent: str
    cue: str
    start: int
    end: int
    weight: float


def _cue_hits(tokens: str) -> list[_Hit]:
    neutral = [m.span() for m in _NEUTRAL.finditer(tokens)]
    hits = [
        _Hit(intent, phrase, m.start(), m.end(), weight)
        for intent, phrase, needle, pattern, weight in _COMPILED_CUES
        if needle in tokens
        for m in pattern.finditer(tokens)
        if not any(s <= m.start() and m.end() <= e for s, e in neutral)
    ]
    # A cue inside a longer cue is part of that phrase, not evidence of its own.
    return [
        h
        for h in hits
        if not any(
            o.start <= h.start and h.end <= o.end and (o.end - o.start) > (h.end - h.start)
            for o in hits
        )
    ]


def score_intents(tokens: str, present: frozenset[str]) -> dict[str, float]:
    """Score of every intent with evidence in the token text and the entities present.

    Entities alone suggest an intent only when no cue but a greeting matched ("hi, 2 people
    on the 20th" asks for availability; "see you tomorrow, bye" does not).
    """
    scores: dict[str, float] = {}
    counted: set[tuple[str, str]] = set()
    for hit in _cue_hits(tokens):
        if (hit.intent, hit.cue) not in counted:
            counted.add((hit.intent, hit.cue))
            scores[hit.intent] = scores.get(hit.intent, 0.0) + hit.weight
    for intent, boosts in ENTITY_BOOSTS.items():
        if intent in scores:
            scores[intent] += sum(w for entity, w in boosts if entity in present)
    if not set(scores) - {"greeting"}:
        for entity, intent, weight in ENTITY_ONLY:
            if entity in present:
                scores[intent] = scores.get(intent, 0.0) + weight
    return {intent: s for intent, s in scores.items() if s >= MIN_SCORE}


def confidence_for(top: float, runner_up: float) -> float:
    """Map the winner's score and the runner-up's score to a 0..1 confidence."""
    base = 1.0 - math.exp(-_STEEPNESS * top)
    ratio = runner_up / top if top > 0 else 0.0
    return round(min(MAX_CONFIDENCE, base * (1.0 - _RUNNER_UP_PENALTY * ratio * ratio)), 3)


def _ranking(
    scores: dict[str, float], winner: str, confidence: float
) -> tuple[tuple[str, float], ...]:
    """Every scored intent with a confidence, the winner first. Another intent gets the
    confidence it would have with an equal runner-up (never above the winner's)."""
    others = sorted(
        ((i, confidence_for(s, s)) for i, s in scores.items() if i != winner),
        key=lambda kv: (-kv[1], INTENTS.index(kv[0])),
    )
    return ((winner, confidence), *others)


def _pick(scores: dict[str, float]) -> tuple[str, float]:
    task = {i: s for i, s in scores.items() if i not in SOCIAL}
    group = task or scores
    if not group:
        return "unknown", 0.0
    ranked = sorted(group.items(), key=lambda kv: (-kv[1], INTENTS.index(kv[0])))
    top = ranked[0][1]
    # Social intents do not contradict each other ("gracias, chau"): no runner-up penalty.
    runner_up = ranked[1][1] if len(ranked) > 1 and task else 0.0
    return ranked[0][0], confidence_for(top, runner_up)


def analyze(text: str, *, today: date, language: str | None = None) -> Analysis:
    """Detect language, intent, confidence and entities of one guest message."""
    folded = fold(text)
    tokens = token_text(folded)
    lang = language if language is not None and language in SUPPORTED else detect_language(text)
    check_in, check_out = parse_dates(text, today=today, language=lang)
    entities = Entities(
        check_in=check_in,
        check_out=check_out,
        guests=extract_guests(folded),
        room_type=extract_room_type(tokens),
        room_wish=extract_room_wish(tokens),
        booking_id=extract_booking_id(folded),
        guest_name=extract_guest_name(text),
        urgent=is_urgent(tokens),
        wants_cancel=wants_to_cancel(folded),
    )
    answer = read_answer(text, folded, tokens)
    scores: dict[str, float] = {}
    if answer.bare and answer.polarity is not None:
        intent = "confirm"
        confidence = MIXED_ANSWER_CONFIDENCE if answer.mixed else BARE_ANSWER_CONFIDENCE
    else:
        present = frozenset(
            name
            for name, value in (
                ("dates", check_in),
                ("guests", entities.guests),
                ("room_type", entities.room_type or entities.room_wish),
                ("booking_id", entities.booking_id),
                ("guest_name", entities.guest_name),
            )
            if value is not None
        )
        scores = score_intents(tokens, present)
        intent, confidence = _pick(scores)
        if intent == "unknown":
            confidence = UNKNOWN_CONFIDENCE if tokens else 0.0
    polarity = answer.polarity
    if intent == "confirm" and polarity is None:
        polarity = True  # every confirm cue ("confirmo", "acepto") is affirmative
    return Analysis(
        text=text,
        language=lang,
        intent=intent,
        confidence=confidence,
        entities=replace(entities, confirm=polarity),
        ranking=_ranking(scores, intent, confidence),
    )
