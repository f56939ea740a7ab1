"""JSON from outside (request bodies, and JSON carried as text inside them), parsed with a depth limit.

1. The text is parsed by the standard library; what it refuses raises `ValueError`, as `json.loads` does.
2. A document nested deeper than MAX_JSON_DEPTH levels raises `JsonTooDeep` (a `ValueError` that says
   so), and so does one deep enough to exhaust the parser's recursion (100,000 levels).
3. A string or key holding the NUL character (written `\\u0000`) raises `JsonHoldsNul`: PostgreSQL
   stores it in neither text nor jsonb, so accepting it would be a 500 on one database only.
Both are `UnacceptableJson`, whose message says what was wrong, for the caller's 400.
Every API view parses bodies with `parse_json`: the code that walks a parsed document (`repr`,
`json.dumps`, the ORM's JSON fields) recurses too, so without a limit a hostile body becomes a 500
(issue 14). No legitimate document here is more than a dozen levels deep.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 64
_NUL_ESCAPE = "\\u0000"


class UnacceptableJson(ValueError):
    """Valid JSON this service refuses; the message is fit for the caller."""


class JsonTooDeep(UnacceptableJson):
    def __init__(self) -> None:
        super().__init__(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")


class JsonHoldsNul(UnacceptableJson):
    def __init__(self) -> None:
        super().__init__("JSON strings must not contain the NUL character (\\u0000)")


def parse_json(text: str | bytes) -> Any:
    """The document `text` holds; ValueError (UnacceptableJson when it parses) when it is not acceptable."""
    if isinstance(text, bytes):
        text = text.decode(json.detect_encoding(text), "surrogatepass")  # what json.loads does with bytes
    try:
        document = json.loads(text)
    except RecursionError:
        raise JsonTooDeep() from None
    if nesting_exceeds(document, MAX_JSON_DEPTH):
        raise JsonTooDeep()
    # Only the escape can put a NUL in a string (a raw one is invalid JSON): walk only when it is there.
    if _NUL_ESCAPE in text and holds_nul(document):
        raise JsonHoldsNul()
    return document


def nesting_exceeds(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` levels (a scalar is 0, `[]` is 1)."""
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def holds_nul(document: Any) -> bool:
    """Whether any string or object key in the document contains the NUL character."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False
