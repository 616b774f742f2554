"""Alertmanager's inhibition semantics, to tell which inhibit rule a test case exercises.

A rule mutes a target alert while a source alert fires when the source matches every
``source_matchers`` entry, the target every ``target_matchers`` entry, and both carry the
same value (a missing label counts as empty) for every ``equal`` label. Regular
expressions are anchored at both ends, as in Alertmanager. A real Alertmanager remains
the judge of the outcome; this only attributes cases to rules for the coverage check.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from chaos.dashboards import DashboardError

_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


def matcher(text: str) -> tuple[str, str, str]:
    """``alertname=~"A|B"`` as (label, operator, value)."""
    found = _MATCHER.match(text)
    if found is None:
        raise DashboardError(f"not an Alertmanager matcher: {text!r}")
    return found.group(1), found.group(2), found.group(3)


def matches(labels: Mapping[str, str], matchers: Sequence[str]) -> bool:
    """Do ``labels`` satisfy every matcher?"""
    for text in matchers:
        name, op, value = matcher(text)
        have = labels.get(name, "")
        if op in ("=~", "!~"):
            hit = re.fullmatch(value, have) is not None
            ok = hit if op == "=~" else not hit
        else:
            ok = (have == value) if op == "=" else (have != value)
        if not ok:
            return False
    return True


def applies(rule: Mapping[str, Any], source: Mapping[str, str], target: Mapping[str, str]) -> bool:
    """Would ``rule`` mute ``target`` while ``source`` fires?"""
    return (
        matches(source, rule.get("source_matchers", []))
        and matches(target, rule.get("target_matchers", []))
        and all(source.get(k, "") == target.get(k, "") for k in rule.get("equal", []))
    )
