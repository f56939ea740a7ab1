"""UPDATE statements the ORM compiles once per database, then runs with new values (issue 15).

On the receipt path, building two UPDATEs through the ORM (filters, expressions, compilation) cost
about as much Python as everything else a receipt does. The statements never change shape, only
their values, so:
1. `PreparedUpdate(build, fields, returning)` holds a function `build(**parameters) -> (queryset,
   values)` that says, with the ORM, which rows to update and how (`queryset.update(**values)`);
2. the first run on a database alias calls `build` with sentinel parameters (unique values of each
   parameter's field type), compiles the UPDATE (with `RETURNING` when asked,
   `dispatcher_site.update_returning`) and finds where each sentinel landed among its parameters;
3. every run then sends that statement with the caller's values in those places, each prepared for
   the database by the model field named for it in `fields`, as the ORM prepares it;
4. if a sentinel is not found exactly once among the compiled parameters, or the backend has no
   `RETURNING`, every run goes through the ORM instead: slower, never different.
The SQL is still the ORM's own, for the backend in use (spec decision 2).
"""

from __future__ import annotations

import datetime
import itertools
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, QuerySet

from dispatcher_site.update_returning import Returning, compile_update, supports_returning, update_returning

Build = Callable[..., tuple[QuerySet, dict[str, Any]]]


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: tuple[Any, ...]
    positions: Mapping[str, int]  # parameter name → where its value goes in `params`
    returning: Returning | None  # the statement's RETURNING clause, when asked for


@dataclass
class PreparedUpdate:
    """See the module docstring."""

    build: Build
    fields: Mapping[str, Field]
    returning: Sequence[str] = ()
    _compiled: dict[str, Compiled | None] = field(default_factory=dict)

    def run(self, using: str = DEFAULT_DB_ALIAS, **parameters: Any) -> int | list[dict[str, Any]]:
        """Update; the number of rows changed, or with `returning` the rows changed (`update_returning`)."""
        if using not in self._compiled:
            self._compiled[using] = self._compile(using)
        compiled = self._compiled[using]
        if compiled is None:
            return self._run_through_the_orm(using, parameters)
        connection = connections[using]
        params = list(compiled.params)
        for name, position in compiled.positions.items():
            params[position] = self.fields[name].get_db_prep_value(parameters[name], connection, prepared=False)
        if compiled.returning:
            return compiled.returning.execute(connection, compiled.sql, params)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            return cursor.rowcount

    def is_compiled(self, using: str = DEFAULT_DB_ALIAS) -> bool:
        """Whether runs on `using` send the compiled statement (False before the first run, or on fallback)."""
        return self._compiled.get(using) is not None

    def _run_through_the_orm(self, using: str, parameters: Mapping[str, Any]) -> int | list[dict[str, Any]]:
        queryset, values = self.build(**parameters)
        queryset = queryset.using(using)
        return update_returning(queryset, self.returning, **values) if self.returning else queryset.update(**values)

    def _compile(self, using: str) -> Compiled | None:
        if self.returning and not supports_returning(using):
            return None
        sentinels = {name: _sentinel(model_field) for name, model_field in self.fields.items()}
        queryset, values = self.build(**sentinels)
        sql, params = compile_update(queryset.using(using), values)
        connection = connections[using]
        positions = {}
        for name, value in sentinels.items():
            prepared = self.fields[name].get_db_prep_value(value, connection, prepared=False)
            found = [i for i, param in enumerate(params) if param == prepared]
            if len(found) != 1:
                return None
            positions[name] = found[0]
        if not sql:
            return None
        if not self.returning:
            return Compiled(sql, params, positions, returning=None)
        returning = Returning.of(queryset.model, self.returning, connection)
        return Compiled(sql + returning.clause, params, positions, returning)


_SENTINEL_NUMBERS = itertools.count(10**9)


def _sentinel(model_field: Field) -> Any:
    """A value of the field's type that nothing else in a statement is likely to equal."""
    internal = model_field.get_internal_type()
    number = next(_SENTINEL_NUMBERS)
    if internal == "UUIDField":
        return uuid.uuid4()
    if internal == "DateTimeField":
        return datetime.datetime(1901, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=number % 10**9)
    if internal == "DateField":
        return datetime.date(1901, 1, 1) + datetime.timedelta(days=number % 700_000)
    if "Integer" in internal or internal == "AutoField":
        return number % 30_000  # fits every integer field, small ones included
    return f"sentinel-{uuid.uuid4().hex}"
