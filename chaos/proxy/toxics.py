"""Toxic types, their attributes, and the create/update validation of the Toxiproxy API.

Checks run in Toxiproxy's order: body, stream, default name, type, duplicate name,
attributes. Attributes are integers as in Go (``100.0``, ``1e2`` and ``"100"`` are 400s).
One deliberate difference: negative attribute values are refused with 400 too (Toxiproxy
accepts them and treats them as 0 or "unlimited"), because a negative latency or byte
budget in a chaos experiment is always a bug in the experiment. The HTTP toxics (an
extension) also bound ``status`` to 200-599.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaos.proxy import gojson
from chaos.proxy.exceptions import BadRequest, Conflict

STREAMS = ("upstream", "downstream")


@dataclass(frozen=True)
class ToxicType:
    """A registered toxic type: its Go struct name and integer attributes in Go field order."""

    name: str
    struct: str
    attributes: tuple[tuple[str, str], ...]
    # Inclusive bounds for attributes that have them beyond "not negative".
    bounds: tuple[tuple[str, int, int, str], ...] = ()


TOXIC_TYPES: dict[str, ToxicType] = {
    t.name: t
    for t in (
        ToxicType("noop", "NoopToxic", ()),
        ToxicType("latency", "LatencyToxic", (("latency", "int64"), ("jitter", "int64"))),
        ToxicType("bandwidth", "BandwidthToxic", (("rate", "int64"),)),
        ToxicType("slow_close", "SlowCloseToxic", (("delay", "int64"),)),
        ToxicType("timeout", "TimeoutToxic", (("timeout", "int64"),)),
        ToxicType("reset_peer", "ResetToxic", (("timeout", "int64"),)),
        ToxicType(
            "slicer",
            "SlicerToxic",
            (("average_size", "int"), ("size_variation", "int"), ("delay", "int")),
        ),
        ToxicType("limit_data", "LimitDataToxic", (("bytes", "int64"),)),
        # Extensions (chaos.proxy.httptoxics): HTTP/1.x faults, per request.
        ToxicType(
            "http_status",
            "HTTPStatusToxic",
            (("status", "int"), ("retry_after", "int")),
            (("status", 200, 599, "an HTTP status from 200 to 599"),),
        ),
        ToxicType("http_delay", "HTTPDelayToxic", (("delay", "int64"),)),
    )
}

_WRAPPER_FIELDS = {
    "name": "string",
    "type": "string",
    "stream": "string",
    "toxicity": "float32",
    "attributes": "raw",
    # Extension: remove the toxic on its own after this long (Toxiproxy ignores the field).
    "ttl_ms": "int64",
}
_UPDATE_FIELDS = {"attributes": "raw", "toxicity": "float32"}


@dataclass
class Toxic:
    """A toxic as configured through the API (shared by every link it runs on)."""

    name: str
    type: str
    stream: str  # as the client sent it, e.g. "UPSTREAM"
    direction: str  # "upstream" or "downstream"
    toxicity: float
    attributes: dict[str, int] = field(default_factory=dict)
    ttl_ms: int = 0  # 0: until removed
    # The experiment run that added it (header X-Chaoslab-Run); never in the API's JSON.
    run_id: str = field(default="", compare=False)

    def attr(self, name: str) -> int:
        """One attribute value (0 when the type has no such attribute)."""
        return self.attributes.get(name, 0)

    def to_json(self) -> dict[str, Any]:
        """The toxic as Toxiproxy serialises it (field order included)."""
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }


def bad_body(exc: gojson.DecodeError) -> BadRequest:
    """The 400 Toxiproxy returns for an undecodable body."""
    return BadRequest(f"bad request body: {exc}")


def parse_direction(stream: str) -> str:
    """Map a stream name (case-insensitive) to a direction, or raise Toxiproxy's 400."""
    direction = stream.lower()
    if direction not in STREAMS:
        raise BadRequest("stream was invalid, can be either upstream or downstream")
    return direction


def parse_new_toxic(body: bytes, existing_names: Iterable[str]) -> Toxic:
    """Validate a ``POST /proxies/{p}/toxics`` body into a Toxic."""
    try:
        value = gojson.decode_body(body)
        fields = gojson.bind_fields(value, _WRAPPER_FIELDS, "ToxicWrapper", "toxics.ToxicWrapper")
        raw_attributes = fields.get("attributes")
        if raw_attributes is not None and not isinstance(raw_attributes, gojson.Pairs):
            raise gojson.type_error(raw_attributes, "ToxicWrapper", "attributes", "toxics.Toxic")
    except gojson.DecodeError as exc:
        raise bad_body(exc) from None
    stream = fields.get("stream", "downstream")
    direction = parse_direction(stream)
    type_name = fields.get("type", "")
    name = fields.get("name") or f"{type_name}_{stream}"
    toxic_type = TOXIC_TYPES.get(type_name)
    if toxic_type is None:
        raise BadRequest("invalid toxic type")
    if name in set(existing_names):
        raise Conflict("toxic already exists")
    attributes = parse_attributes(toxic_type, raw_attributes, base={})
    ttl_ms = fields.get("ttl_ms", 0)
    if ttl_ms < 0:
        raise BadRequest("ttl_ms must be 0 (no expiry) or positive")
    return Toxic(
        name=name,
        type=type_name,
        stream=stream,
        direction=direction,
        toxicity=fields.get("toxicity", 1.0),
        attributes=attributes,
        ttl_ms=ttl_ms,
    )


def parse_update(body: bytes, toxic: Toxic) -> tuple[dict[str, int], float]:
    """Validate a toxic update body; returns merged attributes and the toxicity."""
    try:
        value = gojson.decode_body(body)
        fields = gojson.bind_fields(value, _UPDATE_FIELDS, "ToxicWrapper", "toxics.ToxicWrapper")
    except gojson.DecodeError as exc:
        raise bad_body(exc) from None
    toxic_type = TOXIC_TYPES[toxic.type]
    attributes = parse_attributes(toxic_type, fields.get("attributes"), base=toxic.attributes)
    return attributes, fields.get("toxicity", toxic.toxicity)


def parse_attributes(toxic_type: ToxicType, raw: Any, base: Mapping[str, int]) -> dict[str, int]:
    """Decode ``attributes`` over ``base``: unknown keys ignored, missing keys kept or 0."""
    result = {name: base.get(name, 0) for name, _ in toxic_type.attributes}
    try:
        given = gojson.bind_fields(
            raw, dict(toxic_type.attributes), toxic_type.struct, f"toxics.{toxic_type.struct}"
        )
    except gojson.DecodeError as exc:
        raise bad_body(exc) from None
    for name, number in given.items():
        if number < 0:
            raise BadRequest(
                f"bad request body: invalid value {number} for attribute {name} "
                f"of {toxic_type.name}: must be a non-negative integer"
            )
        result[name] = number
    for name, low, high, meaning in toxic_type.bounds:
        if not low <= result[name] <= high:
            raise BadRequest(
                f"bad request body: invalid value {result[name]} for attribute {name} "
                f"of {toxic_type.name}: must be {meaning}"
            )
    return result
