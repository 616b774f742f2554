"""JSON decoding and encoding that behave like Go's encoding/json, as the Toxiproxy API does.

Decoding: only the first JSON value of a body is read, object keys match struct fields
case-insensitively (an exact match wins), ``null`` leaves a field unchanged, integer
fields reject ``100.0``, ``1e2`` and ``"100"``, and type errors read like Go's. Encoding:
compact output, HTML characters escaped, ``float32`` printed at float32 precision.
The error texts approximate Go's wording; the status codes and prefixes are exact.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
FLOAT32_MAX = 3.4028234663852886e38


class DecodeError(ValueError):
    """A body that Go's decoder would refuse; ``str()`` is the decoder's message."""


@dataclass(frozen=True)
class FloatLiteral:
    """A JSON number written with a fraction or exponent, kept verbatim."""

    text: str


@dataclass(frozen=True)
class Pairs:
    """A JSON object as its key/value pairs in document order (duplicates kept)."""

    items: list[tuple[str, Any]]


@dataclass(frozen=True)
class RawNumber:
    """An already formatted JSON number for the encoder to emit as is."""

    text: str


def _reject_constant(name: str) -> Any:
    raise DecodeError(f"invalid character '{name[0]}' looking for beginning of value")


_DECODER = json.JSONDecoder(
    object_pairs_hook=Pairs,
    parse_float=FloatLiteral,
    parse_constant=_reject_constant,
)

# Python's decoder messages mapped to the context words Go uses.
_CONTEXTS = (
    ("Expecting value", "looking for beginning of value"),
    (
        "Expecting property name enclosed in double quotes",
        "looking for beginning of object key string",
    ),
    ("Expecting ':' delimiter", "after object key"),
    ("Expecting ',' delimiter", "after object key:value pair"),
    ("Invalid control character", "in string literal"),
    ("Invalid \\escape", "in string escape code"),
    ("Extra data", "after top-level value"),
)


def decode_body(body: bytes) -> Any:
    """Parse the first JSON value of ``body`` (Go ignores anything after it)."""
    text = body.decode("utf-8", errors="replace")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        raise DecodeError("EOF")
    try:
        value, _ = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise DecodeError(_go_syntax_message(exc, text)) from None
    return value


def _go_syntax_message(exc: json.JSONDecodeError, text: str) -> str:
    if exc.pos >= len(text) or exc.msg.startswith("Unterminated string"):
        return "unexpected EOF"
    char = text[exc.pos]
    shown = json.dumps(char)[1:-1] if char in "\n\r\t" else char
    for prefix, context in _CONTEXTS:
        if exc.msg.startswith(prefix):
            if prefix == "Expecting ',' delimiter" and _innermost_is_array(text, exc.pos):
                context = "after array element"
            return f"invalid character '{shown}' {context}"
    return f"invalid character '{shown}' looking for beginning of value"


def _innermost_is_array(text: str, pos: int) -> bool:
    """Whether the unclosed bracket nearest ``pos`` is '[' (strings ignored)."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
    return bool(stack) and stack[-1] == "["


def json_kind(value: Any) -> str:
    """The word Go's type errors use for a decoded JSON value."""
    if isinstance(value, Pairs):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "number"


def type_error(value: Any, struct_name: str, field: str, go_type: str) -> DecodeError:
    """Go's UnmarshalTypeError text for one struct field."""
    kind = json_kind(value)
    numeric_target = go_type in ("int64", "int", "float32")
    if numeric_target and isinstance(value, FloatLiteral):
        kind = f"number {value.text}"
    elif numeric_target and isinstance(value, int) and not isinstance(value, bool):
        kind = f"number {value}"
    return DecodeError(
        f"json: cannot unmarshal {kind} into Go struct field "
        f"{struct_name}.{field} of type {go_type}"
    )


def value_error(value: Any, go_type: str) -> DecodeError:
    """Go's UnmarshalTypeError text for a top-level value."""
    return DecodeError(f"json: cannot unmarshal {json_kind(value)} into Go value of type {go_type}")


def bind_fields(
    obj: Any, fields: Mapping[str, str], struct_name: str, go_name: str
) -> dict[str, Any]:
    """Pick the struct ``fields`` (json name -> Go type) out of a decoded object.

    Returns only the fields present and not null, converted to Python values.
    Go types understood: string, bool, int64, int, float32, raw (any JSON, unconverted).
    """
    if obj is None:
        return {}
    if not isinstance(obj, Pairs):
        raise value_error(obj, go_name)
    lowered = {name.lower(): name for name in fields}
    found: dict[str, Any] = {}
    for key, value in obj.items:
        name = key if key in fields else lowered.get(key.lower())
        if name is None or value is None:
            continue
        found[name] = convert(value, fields[name], struct_name, name)
    return found


def convert(value: Any, go_type: str, struct_name: str, field: str) -> Any:
    """Convert one decoded JSON value to the Go type, or raise a Go-worded DecodeError."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if go_type == "raw":
        return value
    if go_type == "string" and isinstance(value, str):
        return value
    if go_type == "bool" and isinstance(value, bool):
        return value
    if go_type in ("int64", "int") and is_int and INT64_MIN <= value <= INT64_MAX:
        return value
    if go_type == "float32" and (is_int or isinstance(value, FloatLiteral)):
        number = float(value.text) if isinstance(value, FloatLiteral) else float(value)
        if abs(number) <= FLOAT32_MAX:
            return to_float32(number)
        raise DecodeError(
            f"json: cannot unmarshal number {_literal(value)} into Go struct field "
            f"{struct_name}.{field} of type float32"
        )
    raise type_error(value, struct_name, field, go_type)


def _literal(value: int | FloatLiteral) -> str:
    return value.text if isinstance(value, FloatLiteral) else str(value)


def to_float32(number: float) -> float:
    """Round a float to the nearest IEEE-754 single, as Go's float32 holds it."""
    return float(struct.unpack("<f", struct.pack("<f", number))[0])


def format_float32(number: float) -> str:
    """Shortest decimal text that reads back as the same float32, in Go's style."""
    if number == 0:
        return "0"
    target = to_float32(number)
    text = repr(target)
    for digits in range(1, 10):
        candidate = f"{target:.{digits}g}"
        if to_float32(float(candidate)) == target:
            text = candidate
            break
    decimal = Decimal(text)
    if 1e-6 <= abs(target) < 1e21:
        plain = format(decimal, "f")
        return plain.rstrip("0").rstrip(".") if "." in plain else plain
    mantissa, _, exponent = f"{decimal:e}".partition("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    sign = exponent[0] if exponent[0] in "+-" else "+"
    digits_only = exponent.lstrip("+-").lstrip("0") or "0"
    return f"{mantissa}e{sign}{digits_only.zfill(2)}"


_HTML_ESCAPES = re.compile("[<>&\u2028\u2029]")


def _escape_string(text: str) -> str:
    encoded = json.dumps(text, ensure_ascii=False)
    return _HTML_ESCAPES.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded)


def marshal(value: Any) -> str:
    """Encode like Go's json.Marshal: compact, keys in the given order, HTML escaped."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, RawNumber):
        return value.text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float32(value)
    if isinstance(value, str):
        return _escape_string(value)
    if isinstance(value, Mapping):
        inner = ",".join(f"{_escape_string(str(k))}:{marshal(v)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(marshal(item) for item in value) + "]"
    raise TypeError(f"cannot marshal {type(value).__name__}")
