"""The rule tables are well-formed data: every phrase can match, nothing is silently lost."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

import pytest

from agent.nlp import INTENTS, intents
from agent.nlp.normalize import fold, phrase_regex, token_text

ROOM_TYPES = {"standard", "superior", "deluxe", "suite"}


def test_every_cue_belongs_to_a_known_intent_and_every_intent_has_cues() -> None:
    assert set(intents.CUES) == set(INTENTS) - {"unknown"}
    assert all(0 < weight <= 2 for _, _, weight in intents.cue_table())


def test_no_weight_tier_is_written_twice_for_an_intent() -> None:
    # A repeated key in a dict literal silently drops the first list of phrases.
    tree = ast.parse(Path(intents.__file__).read_text(encoding="utf-8"))
    cues = next(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "CUES"
    )
    assert isinstance(cues, ast.Dict)
    for tiers in cues.values:
        assert isinstance(tiers, ast.Dict)
        names = [ast.unparse(key) for key in tiers.keys if key is not None]
        assert len(names) == len(set(names)), names


def test_phrases_are_folded_and_unique_per_intent() -> None:
    table = intents.cue_table()
    for _, phrase, _ in table:
        assert phrase == fold(phrase), phrase
    repeated = Counter((intent, phrase) for intent, phrase, _ in table)
    assert [key for key, n in repeated.items() if n > 1] == []


@pytest.mark.parametrize(("intent", "phrase", "weight"), intents.cue_table())
def test_each_cue_matches_its_own_text(intent: str, phrase: str, weight: float) -> None:
    sample = token_text(fold(phrase.replace("*", "")))
    assert re.search(phrase_regex(phrase), sample), (intent, phrase)


def test_room_type_table_maps_to_the_four_categories() -> None:
    assert {kind for _, kind in intents.ROOM_TYPES} == ROOM_TYPES


def test_entity_tables_name_known_intents() -> None:
    assert set(intents.ENTITY_BOOSTS) <= set(INTENTS)
    assert {intent for _, intent, _ in intents.ENTITY_ONLY} <= set(INTENTS)
    assert intents.SOCIAL.issubset(INTENTS)


def test_yes_and_no_vocabularies_do_not_overlap() -> None:
    assert set(intents.YES_PHRASES).isdisjoint(intents.NO_PHRASES)
    assert set(intents.ANSWER_FILLERS).isdisjoint(intents.YES_PHRASES + intents.NO_PHRASES)
