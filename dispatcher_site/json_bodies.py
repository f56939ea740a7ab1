"""JSON from outside (request bodies, and JSON carried as text inside them), parsed with a depth limit.

1. The text is parsed by the standard library; what it refuses raises `ValueError`, as `json.loads` does.
2. A document nested deeper than MAX_JSON_DEPTH levels raises `JsonTooDeep` (a `ValueError` that says
   so), and so does one deep enough to exhaust the parser's recursion (100,000 levels).
Every API view parses bodies with `parse_json`: the code that walks a parsed document (`repr`,
`json.dumps`, the ORM's JSON fields) recurses too, so without a limit a hostile body becomes a 500
(issue 14). No legitimate document here is more than a dozen levels deep.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 64


class JsonTooDeep(ValueError):
    def __init__(self) -> None:
        super().__init__(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")


def parse_json(text: str | bytes) -> Any:
    """The document `text` holds; ValueError (JsonTooDeep for nesting) when it is not acceptable JSON."""
    try:
        document = json.loads(text)
    except RecursionError:
        raise JsonTooDeep() from None
    if nesting_exceeds(document, MAX_JSON_DEPTH):
        raise JsonTooDeep()
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
