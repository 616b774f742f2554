"""The intent engine's answer in the Rasa NLU HTTP API shape (``POST /model/parse``), and
back: ``intent {name, confidence}``, ``entities`` and ``intent_ranking``.

Rasa leaves language and the reference date to the model; this service takes both as
extensions of the request (``language``, ``reference_date``) so that relative dates
resolve in the hotel's time zone, and answers ``language`` beside Rasa's fields.
Entities carry ``entity``, ``value``, ``confidence_entity`` and ``extractor``.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from typing import Any

from agent.nlp.intents import INTENTS
from agent.nlp.models import Analysis, Entities

EXTRACTOR = "hotel_rules"
_KINDS = {f.name: f.type for f in fields(Entities)}


class NLUShapeError(ValueError):
    """An answer that does not have the Rasa shape the agent needs."""


def to_rasa(analysis: Analysis) -> dict[str, Any]:
    """An analysis as Rasa's ``/model/parse`` answer."""
    entities = []
    for f in fields(Entities):
        value = getattr(analysis.entities, f.name)
        if value is None or value is False:
            continue
        if isinstance(value, date):
            value = value.isoformat()
        entities.append(
            {"entity": f.name, "value": value, "confidence_entity": 1.0, "extractor": EXTRACTOR}
        )
    ranking = analysis.ranking or ((analysis.intent, analysis.confidence),)
    return {
        "text": analysis.text,
        "intent": {"name": analysis.intent, "confidence": analysis.confidence},
        "entities": entities,
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking],
        "language": analysis.language,
    }


def _entity(name: str, value: Any) -> Any:
    kind = str(_KINDS[name])
    if "date" in kind:
        return date.fromisoformat(str(value))
    if "bool" in kind:
        if not isinstance(value, bool):
            raise NLUShapeError(f"entity {name} must be true or false")
        return value
    if "int" in kind:
        if isinstance(value, bool) or not isinstance(value, int):
            raise NLUShapeError(f"entity {name} must be an integer")
        return value
    if not isinstance(value, str):
        raise NLUShapeError(f"entity {name} must be a string")
    return value


def from_rasa(data: Any, text: str, language: str) -> Analysis:
    """A Rasa answer as an analysis; raises ``NLUShapeError`` when it is not one."""
    try:
        intent = data["intent"]
        name, confidence = str(intent["name"]), float(intent["confidence"])
        found: dict[str, Any] = {}
        for e in data.get("entities") or []:
            if e.get("entity") in _KINDS:
                found[e["entity"]] = _entity(e["entity"], e.get("value"))
        ranking = tuple(
            (str(r["name"]), float(r["confidence"])) for r in data.get("intent_ranking") or []
        )
        lang = str(data.get("language") or language)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise NLUShapeError(f"not a Rasa parse answer: {exc}") from exc
    if name not in INTENTS or not 0.0 <= confidence <= 1.0:
        raise NLUShapeError(f"unknown intent {name!r} or confidence {confidence!r}")
    return Analysis(
        text=text,
        language=lang,
        intent=name,
        confidence=confidence,
        entities=Entities(**found),
        ranking=ranking,
    )
