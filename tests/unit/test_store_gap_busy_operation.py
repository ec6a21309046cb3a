"""A lock not had in time (``database_busy``) names the operation that waited, its verb and table, never a value:
``_operation`` reads them from the statement's text."""

from __future__ import annotations

import pytest

from fairtel.store._engine import _operation


@pytest.mark.parametrize(("statement", "operation"), [
    ("UPDATE subscribers SET region=? WHERE subscribers.msisdn = ?", "UPDATE subscribers"),
    ('insert into "users" (username) values (%(username)s)', "INSERT INTO users"),
    ("DELETE FROM fairtel_x.api_keys WHERE key_id = 'k-8613800000001'", "DELETE FROM fairtel_x.api_keys"),
    ("SELECT subscribers.msisdn \nFROM subscribers \nWHERE subscribers.msisdn = %(m)s FOR UPDATE", "SELECT ... FOR UPDATE from subscribers"),
    ("SELECT count(*) FROM bills WHERE msisdn = '8613800000001'", "SELECT ... from bills"),
    ("SELECT pg_advisory_xact_lock(%(key)s)", "SELECT pg_advisory_xact_lock"),
    ("BEGIN IMMEDIATE", "BEGIN IMMEDIATE"),
    ("ALTER TABLE users ADD COLUMN x INTEGER", "ALTER TABLE users"),
    ("", None),
    (None, None),
])
def test_the_operation_of_a_statement(statement: str | None, operation: str | None) -> None:
    assert _operation(statement) == operation
