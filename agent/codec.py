"""JSON on the message path with orjson, falling back to the standard library.

orjson refuses lone surrogates (a JSON body may carry them as ``\\ud800`` escapes); the
fallback writes them as ASCII escapes and reads them back, as the standard library does.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    """UTF-8 JSON bytes of ``value``."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode("ascii")


def loads(raw: bytes | str) -> Any:
    """The value of a JSON document."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
