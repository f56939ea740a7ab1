"""Strict JSON decoding and reference-compatible encoding of the event data classes.

Every data class of `transactions.events.data` is a frozen, keyword-only dataclass whose fields are
declared with `wire()`. The type hints drive decoding (str, int, bool, enums, lists, nested data
classes, `X | None` for nullable fields, and `Variant` families chosen by their `"type"` property);
the declaration order is the reference's JSON property order, which `encode()` reproduces.

Three presence rules exist, because the reference (Jackson) writes nulls by default but omits them
on a few classes:
- a required field must be present (it may be null only when its type allows None);
- an `optional` field may be absent; when it was absent on input it is omitted again on output, so
  events written by older producers round-trip unchanged; new objects write it as null;
- an `omit_if_null` field is never written when null (refundTrigger, the user-receipt data fields).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar

from receivers.handlers import EventParsingError

ABSENT_FIELDS = "absent_fields"


def wire(
    json_name: str | None = None,
    *,
    optional: bool = False,
    omit_if_null: bool = False,
    default: Any = dataclasses.MISSING,
) -> Any:
    """Declare one JSON property of a data class (its name defaults to the camelCase attribute name)."""
    if (optional or omit_if_null) and default is dataclasses.MISSING:
        default = None
    return dataclasses.field(
        default=default, metadata={"json": json_name, "optional": optional, "omit_if_null": omit_if_null}
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class WireObject:
    """Base of every payload class: remembers which optional properties were absent on input."""

    absent_fields: frozenset[str] = dataclasses.field(
        default=frozenset(), compare=False, repr=False, metadata={"hidden": True}
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Variant(WireObject):
    """Base of a polymorphic family: subclasses set `TYPE`, the value of their `"type"` property."""

    TYPE: ClassVar[str] = ""
    VARIANTS: ClassVar[dict[str, type]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "VARIANTS" in cls.__dict__:
            return  # a family root declares its own registry
        if cls.TYPE:
            cls.VARIANTS[cls.TYPE] = cls


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@dataclasses.dataclass(frozen=True)
class WireField:
    """One JSON property of a data class, as decoding and encoding need it."""

    attribute: str
    json: str
    annotation: Any
    may_be_absent: bool
    omit_if_null: bool


@dataclasses.dataclass(frozen=True)
class Schema:
    fields: tuple[WireField, ...]
    known: frozenset[str]  # every property name the class accepts on input


@functools.cache
def schema(cls: type) -> Schema:
    """The wire fields of a data class, derived once per class (names, type hints, presence rules)."""
    hints = typing.get_type_hints(cls)
    fields = tuple(
        WireField(
            attribute=field.name,
            json=field.metadata.get("json") or camel_case(field.name),
            annotation=hints[field.name],
            may_be_absent=field.metadata["optional"] or field.metadata["omit_if_null"],
            omit_if_null=field.metadata["omit_if_null"],
        )
        for field in dataclasses.fields(cls)
        if not field.metadata.get("hidden")
    )
    known = {field.json for field in fields} | ({"type"} if issubclass(cls, Variant) else set())
    return Schema(fields, frozenset(known))


def fail(path: str, problem: str) -> typing.NoReturn:
    raise EventParsingError(f"{path}: {problem}")


def decode(annotation: Any, value: Any, path: str) -> Any:
    """Decode `value` as `annotation`, raising EventParsingError naming `path` when it does not fit."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None:
            return None
        return decode(options[0], value, path)
    if value is None:
        fail(path, "must not be null")
    if origin is list:
        if not isinstance(value, list):
            fail(path, "expected an array")
        (item_type,) = typing.get_args(annotation)
        return [decode(item_type, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if annotation is bool:
        if not isinstance(value, bool):
            fail(path, "expected true or false")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail(path, "expected an integer")
        return value
    if annotation is str:
        if not isinstance(value, str):
            fail(path, "expected a string")
        return value
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        try:
            return annotation(value)
        except ValueError:
            allowed = ", ".join(str(member.value) for member in annotation)
            fail(path, f"{value!r} is not one of {allowed}")
    if isinstance(annotation, type) and issubclass(annotation, Variant) and not annotation.TYPE:
        if not isinstance(value, Mapping):
            fail(path, "expected an object")
        type_name = value.get("type")
        variant = annotation.VARIANTS.get(type_name) if isinstance(type_name, str) else None
        if variant is None:
            fail(f"{path}.type", f"{type_name!r} is not one of {', '.join(annotation.VARIANTS)}")
        return decode_object(variant, value, path)
    if dataclasses.is_dataclass(annotation):
        return decode_object(annotation, value, path)
    raise TypeError(f"cannot decode {annotation!r}")  # a programming error in the data classes


def decode_object(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        fail(path, "expected an object")
    shape = schema(cls)
    for key in value:
        if key not in shape.known:
            fail(f"{path}.{key}", "unknown field")
    values: dict[str, Any] = {}
    absent = set()
    for field in shape.fields:
        if field.json not in value:
            if field.may_be_absent:
                absent.add(field.attribute)
                continue
            fail(f"{path}.{field.json}", "required field missing")
        values[field.attribute] = decode(field.annotation, value[field.json], f"{path}.{field.json}")
    return cls(**values, **{ABSENT_FIELDS: frozenset(absent)})


def encode(value: Any) -> Any:
    """The JSON-ready form of a data object, in the reference's property order."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list):
        return [encode(item) for item in value]
    if not dataclasses.is_dataclass(value):
        return value
    result: dict[str, Any] = {}
    if isinstance(value, Variant):
        result["type"] = value.TYPE
    absent = getattr(value, ABSENT_FIELDS, frozenset())
    for field in schema(type(value)).fields:
        item = getattr(value, field.attribute)
        if item is None and (field.attribute in absent or field.omit_if_null):
            continue
        result[field.json] = encode(item)
    return result
