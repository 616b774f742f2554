"""Local, deterministic, dependency-free NLP for guest messages (Spanish first, English).

``analyze`` returns language, intent, confidence and entities; ``parse_dates`` and
``detect_language`` are exposed for callers that need only one part.
"""

from __future__ import annotations

from agent.nlp.dates import parse_dates
from agent.nlp.engine import analyze
from agent.nlp.intents import INTENTS
from agent.nlp.language import detect_language, signalled_language
from agent.nlp.models import Analysis, Entities

__all__ = [
    "INTENTS",
    "Analysis",
    "Entities",
    "analyze",
    "detect_language",
    "parse_dates",
    "signalled_language",
]
