"""`UPDATE … RETURNING` through the ORM: a conditional update that also says what it changed.

Django 5.2's `QuerySet.update()` returns only a row count. A compare-and-set that must act on the
rows it changed (the receipt's statistics increment needs the notification's service, type and day)
would otherwise read them in a statement of its own. Here:
1. the UPDATE is compiled by the ORM from the queryset and the values, exactly as `update()` would;
2. on PostgreSQL and on SQLite ≥ 3.35 a `RETURNING` clause naming the requested fields' columns is
   appended and the rows come back, converted by each field's own database converters;
3. on any other backend (MongoDB's, later) the same result comes from a locked read of the matching
   rows, `update()` on them, and their values after it, inside one transaction, so callers see no
   difference but the number of statements.
This is the one place the project's SQL is not entirely written by the ORM (spec decision 2): the
clause is standard SQL, the statement is still the ORM's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections, transaction
from django.db.models import Model, QuerySet
from django.db.models.sql.subqueries import UpdateQuery

MIN_SQLITE_RETURNING = (3, 35, 0)


def supports_returning(alias: str) -> bool:
    vendor = connections[alias].vendor
    if vendor == "postgresql":
        return True
    return vendor == "sqlite" and sqlite3.sqlite_version_info >= MIN_SQLITE_RETURNING


def update_returning(queryset: QuerySet, fields: Sequence[str], **values: Any) -> list[dict[str, Any]]:
    """Apply `values` to the rows of `queryset` (like `queryset.update(**values)`) and return, for each
    row changed, its `fields` as they are after the update."""
    alias = queryset.db
    if not supports_returning(alias):
        return _update_then_read(queryset, fields, values)
    sql, params = compile_update(queryset, values)
    if not sql:
        return []
    connection = connections[alias]
    returning = Returning.of(queryset.model, fields, connection)
    return returning.execute(connection, f"{sql}{returning.clause}", params)


def compile_update(queryset: QuerySet, values: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    """The SQL and parameters `queryset.update(**values)` would send ("" when nothing can match)."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    sql, params = query.get_compiler(queryset.db).as_sql()
    return sql, tuple(params)


@dataclass(frozen=True)
class Returning:
    """A `RETURNING` clause for some fields of a model, and how to turn its rows into field values."""

    fields: tuple[str, ...]
    clause: str
    columns: tuple
    converters: tuple

    @classmethod
    def of(cls, model: type[Model], fields: Sequence[str], connection) -> Returning:
        columns = tuple(model._meta.get_field(name).get_col(model._meta.db_table) for name in fields)
        quoted = ", ".join(connection.ops.quote_name(column.target.column) for column in columns)
        converters = tuple(
            connection.ops.get_db_converters(column) + column.field.get_db_converters(connection) for column in columns
        )
        return cls(tuple(fields), f" RETURNING {quoted}", columns, converters)

    def execute(self, connection, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        """Run an UPDATE ending in this clause on `connection`; the rows it changed, as {field: value}."""
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return [dict(zip(self.fields, self._converted(row, connection), strict=True)) for row in rows]

    def _converted(self, row: Sequence[Any], connection) -> list[Any]:
        values = []
        for value, column, field_converters in zip(row, self.columns, self.converters, strict=True):
            for converter in field_converters:
                value = converter(value, column, connection)
            values.append(value)
        return values


def _update_then_read(queryset: QuerySet, fields: Sequence[str], values: dict[str, Any]) -> list[dict[str, Any]]:
    with transaction.atomic(using=queryset.db):
        keys = list(queryset.select_for_update().values_list("pk", flat=True))
        if not keys:
            return []
        queryset.model._default_manager.using(queryset.db).filter(pk__in=keys).update(**values)
        return list(queryset.model._default_manager.using(queryset.db).filter(pk__in=keys).values(*fields))
