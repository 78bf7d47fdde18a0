"""The partner API's JSON parser: DRF's, plus the checks that keep a bad body from being stored.

- Nesting deeper than MAX_JSON_DEPTH is refused before `json.loads` runs (the decoder recurses,
  so a body of a few thousand brackets would otherwise end in a RecursionError, a 500).
- A string (key or value, at any depth) holding a NUL or a lone UTF-16 surrogate is refused:
  PostgreSQL cannot store a NUL, and a surrogate cannot be encoded as UTF-8, so a stored one
  would make every later response that contains it fail.
"""

from __future__ import annotations

import io
import re
from typing import Any

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32
# A whole JSON string (escapes included) or one bracket: brackets inside strings do not count.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENING = frozenset(b"[{")
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


INVALID_TEXT = "Strings may not contain NUL characters or lone UTF-16 surrogates"


def invalid_text_error(data: Any, path: str) -> ValidationError:
    """A 400 naming the top-level field (as every field error does) and the exact path."""
    field = next(iter(re.split(r"[.\[ ]", path, maxsplit=1)))
    if not isinstance(data, dict) or field not in map(str, data):
        field = "non_field_errors"
    return ValidationError({field: [f"{INVALID_TEXT} (at {path})."]})


class TooDeep(ParseError):
    default_code = "too_deep"
    default_detail = f"JSON nested deeper than {MAX_JSON_DEPTH} levels."


def json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text, without parsing it."""
    depth = deepest = 0
    for token in _TOKENS.finditer(raw):
        first = token.group()[0]
        if first in _OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif first != ord('"'):
            depth -= 1
    return deepest


def find_invalid_text(value: Any, path: str = "") -> str | None:
    """The path of the first string with a NUL or a lone surrogate, or None."""
    if isinstance(value, str):
        return path or "(body)" if _FORBIDDEN.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if _FORBIDDEN.search(str(key)):
                return (path or "(body)") + " (a key)"
            found = find_invalid_text(item, where)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = find_invalid_text(item, f"{path}[{index}]")
            if found:
                return found
    return None


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        raw = stream.read() if stream is not None else b""
        if json_depth(raw) > MAX_JSON_DEPTH:
            raise TooDeep()
        data = super().parse(io.BytesIO(raw), media_type, parser_context)
        where = find_invalid_text(data)
        if where:
            raise invalid_text_error(data, where)
        return data
