"""The Redis key families the agent writes, and a TTL survey of a keyspace by family.

The families are the ones the agent's code really writes (tests check them against the
key builders in agent/pms/cache.py, agent/pms/nights.py, agent/sessions.py and
agent/dedupe.py), unlike the
original system's analysis script, whose pattern list named prefixes the app never wrote.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from agent.pms.cache import ROOM_TYPES_KEY
from agent.pms.warmer import CLAIM_KEY
from agent.sessions import INDEX_KEY as SESSION_INDEX_KEY


@dataclass(frozen=True)
class KeyFamily:
    """Keys sharing a prefix (or one exact key) and whether the agent gives them a TTL."""

    match: str
    exact: bool
    expires: bool
    written_by: str

    def matches(self, key: str) -> bool:
        return key == self.match if self.exact else key.startswith(self.match)


# Most specific first: the first family that matches a key owns it.
KEY_FAMILIES: tuple[KeyFamily, ...] = (
    KeyFamily("pms:availability:", False, True, "fresh PMS availability (agent/pms/cache.py)"),
    KeyFamily("pms:stale:", False, True, "long-lived stale PMS copies (agent/pms/cache.py)"),
    KeyFamily(
        "pms:index:availability:", False, True, "per-night availability index (agent/pms/cache.py)"
    ),
    KeyFamily(ROOM_TYPES_KEY, True, True, "PMS room types (agent/pms/cache.py)"),
    KeyFamily("pms:night:", False, True, "per-night PMS availability (agent/pms/nights.py)"),
    KeyFamily(CLAIM_KEY, True, True, "which process warms the PMS cache (agent/pms/warmer.py)"),
    KeyFamily("session:", False, True, "guest sessions (agent/sessions.py)"),
    KeyFamily(
        SESSION_INDEX_KEY,
        True,
        False,
        "session index sorted set, no TTL by design: trimmed by the cleanup task",
    ),
    KeyFamily("dedupe:", False, True, "stored replies by message id (agent/dedupe.py)"),
)
OTHER = "other"

# Upper bounds (seconds, inclusive) of the TTL buckets, and their names.
TTL_BUCKETS: tuple[tuple[float, str], ...] = (
    (60, "<=1m"),
    (300, "<=5m"),
    (1800, "<=30m"),
    (3600, "<=1h"),
    (86_400, "<=1d"),
    (float("inf"), ">1d"),
)
NO_TTL = "none"


def family_of(key: str) -> str:
    """The name (``match``) of the family that owns ``key``, or ``"other"``."""
    for family in KEY_FAMILIES:
        if family.matches(key):
            return family.match
    return OTHER


def ttl_bucket(ttl_s: float | None) -> str:
    if ttl_s is None:
        return NO_TTL
    return next(name for bound, name in TTL_BUCKETS if ttl_s <= bound)


@dataclass
class FamilyStats:
    """Key count and TTL distribution of one family."""

    family: str
    expires: bool | None
    written_by: str
    keys: int = 0
    no_ttl: int = 0
    ttls: list[float] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def add(self, key: str, ttl_s: float | None) -> None:
        self.keys += 1
        if ttl_s is None:
            self.no_ttl += 1
        else:
            self.ttls.append(ttl_s)
        if len(self.examples) < 3:
            self.examples.append(key[:80])

    def to_dict(self, with_examples: bool) -> dict[str, Any]:
        buckets = {name: 0 for _, name in TTL_BUCKETS}
        buckets[NO_TTL] = self.no_ttl
        for ttl in self.ttls:
            buckets[ttl_bucket(ttl)] += 1
        doc: dict[str, Any] = {
            "family": self.family,
            "expires": self.expires,
            "written_by": self.written_by,
            "keys": self.keys,
            "no_ttl": self.no_ttl,
            "ttl_min_s": round(min(self.ttls), 3) if self.ttls else None,
            "ttl_median_s": round(statistics.median(self.ttls), 3) if self.ttls else None,
            "ttl_max_s": round(max(self.ttls), 3) if self.ttls else None,
            "ttl_buckets": buckets,
        }
        if with_examples:
            doc["examples"] = self.examples
        return doc


@dataclass
class KeySurvey:
    """Every family's stats after scanning (up to ``max_keys``) the database."""

    families: dict[str, FamilyStats]
    scanned: int
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "truncated": self.truncated,
            # Only keys the agent does not write are shown: agent keys carry guest ids.
            "families": [
                s.to_dict(with_examples=s.family == OTHER) for s in self.families.values()
            ],
        }


def _batches(client: redis.Redis, max_keys: int, batch: int) -> Iterator[list[bytes]]:
    chunk: list[bytes] = []
    for seen, key in enumerate(client.scan_iter(count=batch), start=1):
        chunk.append(key)
        if len(chunk) == batch:
            yield chunk
            chunk = []
        if seen >= max_keys:
            break
    if chunk:
        yield chunk


def survey_keys(client: redis.Redis, *, max_keys: int, batch: int = 1000) -> KeySurvey:
    """SCAN the current database (never KEYS) and PTTL each key, in pipelined batches."""
    stats = {f.match: FamilyStats(f.match, f.expires, f.written_by) for f in KEY_FAMILIES}
    stats[OTHER] = FamilyStats(OTHER, None, "not written by the agent")
    scanned = 0
    for chunk in _batches(client, max_keys, batch):
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.pttl(key)
        for raw, pttl in zip(chunk, pipe.execute(), strict=True):
            if pttl == -2:  # expired between SCAN and PTTL
                continue
            name = raw.decode("utf-8", "replace")
            stats[family_of(name)].add(name, None if pttl < 0 else pttl / 1000)
            scanned += 1
    total = int(client.dbsize())
    return KeySurvey(stats, scanned, truncated=scanned >= max_keys and total > scanned)
