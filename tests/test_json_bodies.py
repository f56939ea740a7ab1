"""JSON bodies are parsed with a depth limit: deep enough for every real document, never a RecursionError."""

import pytest

from dispatcher_site.json_bodies import MAX_JSON_DEPTH, JsonHoldsNul, JsonTooDeep, parse_json


def nested(levels: int, opener: str = "[", closer: str = "]") -> str:
    return opener * levels + closer * levels


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("[]", []),
        ('{"a": {"b": [1, {"c": null}]}}', {"a": {"b": [1, {"c": None}]}}),
        (nested(MAX_JSON_DEPTH), eval(nested(MAX_JSON_DEPTH))),  # noqa: S307 - a literal made of brackets
    ],
)
def test_documents_within_the_limit_are_parsed(text, expected):
    assert parse_json(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        nested(MAX_JSON_DEPTH + 1),
        '{"a":' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1),
        nested(100_000),
        '{"a":' * 100_000 + "1" + "}" * 100_000,
    ],
    ids=["65-arrays", "65-objects", "100000-arrays", "100000-objects"],
)
def test_deeper_documents_are_refused_saying_so(text):
    with pytest.raises(JsonTooDeep, match=f"nested deeper than {MAX_JSON_DEPTH} levels"):
        parse_json(text)


@pytest.mark.parametrize("text", ["", "{nope", b"\xff\xfe", "[1,]"])
def test_what_is_not_json_is_a_value_error(text):
    with pytest.raises(ValueError):  # noqa: PT011 - json's own errors, whose messages vary
        parse_json(text)


@pytest.mark.parametrize(
    "text",
    ['"\\u0000"', '{"a": ["x\\u0000y"]}', '{"k\\u0000": 1}', '{"a": "\\u0000"}'.encode("utf-16")],
    ids=["string", "nested", "key", "utf-16-bytes"],
)
def test_the_nul_character_is_refused_saying_so(text):
    with pytest.raises(JsonHoldsNul, match="NUL character"):
        parse_json(text)


def test_a_backslash_followed_by_u0000_is_only_text():
    assert parse_json('["\\\\u0000"]') == ["\\u0000"]
