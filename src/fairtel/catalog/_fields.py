"""Reading fields of a parsed TOML tree. Each reader records a problem at the field's dotted path and
returns ``None`` instead of raising, so that one bad value never hides the next."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from fairtel.catalog._locate import index, join, line_of
from fairtel.catalog._model import Name
from fairtel.catalog._units import QuantityError, Unit, parse_quantity
from fairtel.core.errors import Problem
from fairtel.core.money import MINOR_UNITS

T = TypeVar("T")

# ``fullmatch``, never ``match`` with ``$``: ``$`` also matches before a final newline, which would let "86\n" in
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/+-]*")


@dataclass
class Collector:
    """The problems found in one file; each gets its line from the field path."""

    file: str
    lines: dict[str, int]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    # problems that follow from another (a reference to an id declared under a misspelt table or lost to a
    # duplicate): listed after the problems that cause them
    dependent: set[int] = field(default_factory=set)

    def add(self, path: str, message: str, code: str) -> None:
        self.problems.append(Problem(self.file, line_of(self.lines, path), path or None, message, code))

    def warn(self, path: str, message: str, code: str) -> None:
        """Something that loads but is likely a mistake (``Catalog.warnings``)."""
        self.warnings.append(Problem(self.file, line_of(self.lines, path), path or None, message, code))


def type_name(v: object) -> str:
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "an integer"
    if isinstance(v, Decimal):
        return "a decimal number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, datetime | date | time):
        return "a date/time"
    return type(v).__name__


class FieldReader:
    """Typed readers for the values of one catalog file; ``currency`` is set once the operator is read."""

    def __init__(self, ctx: Collector) -> None:
        self.ctx = ctx
        self.currency = "CNY"
        self.amount_decimals: int | None = None  # [operator] amount_decimals, once read
        # what explains an unknown reference better than the nearest id: ``misplaced[what][id]``, where an id is
        # declared under a table that is not the catalog's; ``duplicated[what]``, ids of that table declared twice
        self.misplaced: dict[str, dict[str, str]] = {}
        self.duplicated: dict[str, list[tuple[str, str, str | None]]] = {}  # (id, lines, the rate's unit)

    def add(self, path: str, message: str, code: str) -> None:
        self.ctx.add(path, message, code)

    def warn(self, path: str, message: str, code: str) -> None:
        self.ctx.warn(path, message, code)

    def unknown_ref(self, path: str, what: str, value: str, known: Iterable[str], unit: str | None = None) -> None:
        """An ``unknown_reference`` to ``value``, a ``what`` id. When the id is declared under a misspelt table, or
        an id of that kind (of rates: counting ``unit``) is declared twice (one renamed by mistake), that is said
        instead of the nearest id (which may be a different price altogether), and the problem is listed after
        its cause."""
        hint = self.misplaced.get(what, {}).get(value)
        twice = [f"{what} id {ident!r} is declared {lines}" for ident, lines, u in self.duplicated.get(what, ())
                 if unit is None or u in (None, unit)]
        if hint is None and twice:
            hint = f"no {what} has this id; {'; '.join(twice)}: was one of them meant to be {value!r}?"
        if hint is None:
            self.add(path, unknown(what, value, known), "unknown_reference")
            return
        self.add(path, f"unknown {what} {value!r}: {hint}", "unknown_reference")
        self.ctx.dependent.add(id(self.ctx.problems[-1]))

    def table(self, raw: object, path: str, allowed: Iterable[str], required: Iterable[str] = ()) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            self.add(path, f"expected a table, got {type_name(raw)}", "wrong_type")
            return None
        allowed = tuple(allowed)
        for k in raw:
            if k not in allowed:
                near = difflib.get_close_matches(k, allowed, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else f" (allowed: {', '.join(allowed)})"
                self.add(join(path, k), f"unknown key {k!r}{hint}", "unknown_key")
        for k in required:
            if k not in raw:
                self.add(join(path, k), f"missing key {k!r}", "missing_key")
        return raw

    def typed(self, t: dict[str, Any], key: str, path: str, kind: type[T], what: str) -> T | None:
        if key not in t:
            return None
        v = t[key]
        if (isinstance(v, bool) and kind is not bool) or not isinstance(v, kind):
            self.add(join(path, key), f"expected {what}, got {type_name(v)}", "wrong_type")
            return None
        return v

    def string(self, t: dict[str, Any], key: str, path: str) -> str | None:
        v = self.typed(t, key, path, str, "a string")
        if v is not None and not v.strip():
            self.add(join(path, key), "must not be empty", "invalid_value")
            return None
        return v

    def ident(self, t: dict[str, Any], key: str, path: str) -> str | None:
        v = self.string(t, key, path)
        if v is not None and not _ID.fullmatch(v):
            self.add(join(path, key), f"{v!r} is not a valid id (letters, digits and . _ : / + -)", "bad_id")
            return None
        return v

    def boolean(self, t: dict[str, Any], key: str, path: str, default: bool = False) -> bool:
        v = self.typed(t, key, path, bool, "true or false")
        return default if v is None else v

    def integer(self, t: dict[str, Any], key: str, path: str, *, minimum: int = 0) -> int | None:
        v = self.typed(t, key, path, int, "an integer")
        if v is not None and v < minimum:
            self.add(join(path, key), f"must be ≥ {minimum}, got {v}", "invalid_value")
            return None
        return v

    def money(self, t: dict[str, Any], key: str, path: str, *, exact: bool = False, positive: bool = False) -> Decimal | None:
        """A price: a TOML number or a decimal string, in the catalog currency. Never negative."""
        if key not in t:
            return None
        v = t[key]
        p = join(path, key)
        if isinstance(v, bool) or not isinstance(v, int | Decimal | str):
            self.add(p, f"expected an amount (a number or a decimal string), got {type_name(v)}", "wrong_type")
            return None
        try:
            d = Decimal(v) if not isinstance(v, Decimal) else v
        except InvalidOperation:
            self.add(p, f"{v!r} is not a decimal amount", "wrong_type")
            return None
        if not d.is_finite():
            self.add(p, f"{v!r} is not a finite amount", "invalid_value")
            return None
        if d < 0:
            self.add(p, f"a price cannot be negative, got {v}", "negative_amount")
            return None
        if positive and d == 0:
            self.add(p, "must be greater than 0", "invalid_value")
            return None
        if exact and self.currency in MINOR_UNITS and d != round(d, MINOR_UNITS[self.currency]):
            self.add(p, f"{v} has more decimals than {self.currency} minor units ({MINOR_UNITS[self.currency]})",
                     "too_precise")
            return None
        return d

    def quantity(self, t: dict[str, Any], key: str, path: str, unit: Unit, *, positive: bool = False) -> int | None:
        if key not in t:
            return None
        try:
            q = parse_quantity(t[key], unit)
        except QuantityError as exc:
            self.add(join(path, key), str(exc), "bad_quantity")
            return None
        if positive and q <= 0:
            self.add(join(path, key), "must be greater than 0", "invalid_value")
            return None
        return q

    def strings(self, t: dict[str, Any], key: str, path: str, *, single_ok: bool = True) -> list[tuple[str, str]] | None:
        """A list of strings (or one string, read as a list of one) with the path of each element."""
        if key not in t:
            return None
        v = t[key]
        p = join(path, key)
        if single_ok and isinstance(v, str):
            return [(v, p)]
        if not isinstance(v, list):
            self.add(p, f"expected an array of strings, got {type_name(v)}", "wrong_type")
            return None
        out: list[tuple[str, str]] = []
        for i, item in enumerate(v):
            if isinstance(item, str):
                out.append((item, index(p, i)))
            else:
                self.add(index(p, i), f"expected a string, got {type_name(item)}", "wrong_type")
        return out

    def choice(self, t: dict[str, Any], key: str, path: str, options: dict[str, T]) -> T | None:
        v = self.string(t, key, path)
        if v is None:
            return None
        if v not in options:
            self.add(join(path, key), f"{v!r} is not one of {', '.join(options)}", "invalid_value")
            return None
        return options[v]

    def name(self, t: dict[str, Any], key: str, path: str) -> Name | None:
        if key not in t:
            return None
        p = join(path, key)
        n = self.table(t[key], p, ("zh", "en"), ("zh", "en"))
        if n is None:
            return None
        zh, en = self.string(n, "zh", p), self.string(n, "en", p)
        return Name(zh, en) if zh is not None and en is not None else None

    def array_of_tables(self, raw: dict[str, Any], key: str, path: str) -> list[tuple[dict[str, Any], str]]:
        if key not in raw:
            return []
        v = raw[key]
        p = join(path, key)
        if not isinstance(v, list):
            self.add(p, f"expected an array of tables ([[{key}]]), got {type_name(v)}", "wrong_type")
            return []
        out: list[tuple[dict[str, Any], str]] = []
        for i, item in enumerate(v):
            if isinstance(item, dict):
                out.append((item, index(p, i)))
            else:
                self.add(index(p, i), f"expected a table, got {type_name(item)}", "wrong_type")
        return out

    def unique(self, items: Iterable[tuple[str | None, str]], what: str) -> None:
        """Report an id used twice; ``items`` are (id, path of the item)."""
        seen: dict[str, str] = {}
        for ident, path in items:
            if ident is None:
                continue
            if ident in seen:
                self.add(join(path, "id"), f"duplicate {what} id {ident!r} (first at {seen[ident]})", "duplicate_id")
            else:
                seen[ident] = path

    def members(self, t: dict[str, Any], key: str, path: str, options: dict[str, T],
                what: str) -> tuple[bool, frozenset[T] | None]:
        """(read without problem, the set); the set is ``None`` when the key is absent, which matches any."""
        if key not in t:
            return True, None
        listed = self.strings(t, key, path)
        if listed is None:
            return False, None
        out: set[T] = set()
        ok = bool(listed)
        if not listed:
            self.add(join(path, key), "an empty list matches nothing: remove the key to match any", "invalid_value")
        for v, p in listed:
            if v in options:
                out.add(options[v])
            else:
                self.add(p, f"{v!r} is not a {what} ({', '.join(options)})", "invalid_value")
                ok = False
        return ok, frozenset(out)

    def refs(self, t: dict[str, Any], key: str, path: str, known: set[str],
             what: str) -> tuple[bool, frozenset[str] | None]:
        """Like ``members`` for ids that must exist elsewhere in the catalog."""
        if key not in t:
            return True, None
        listed = self.strings(t, key, path)
        if listed is None:
            return False, None
        ok = bool(listed)
        if not listed:
            self.add(join(path, key), "an empty list matches nothing: remove the key to match any", "invalid_value")
        for v, p in listed:
            if v not in known:
                self.unknown_ref(p, what, v, known)
                ok = False
        return ok, frozenset(v for v, _ in listed)


def declared_tables(raw: dict[str, Any], key: str) -> list[tuple[dict[str, Any], str]]:
    """The tables of an array of tables, without reporting anything (for collecting declared ids)."""
    v = raw.get(key)
    return [(item, "") for item in v if isinstance(item, dict)] if isinstance(v, list) else []


def declared(top: dict[str, Any], key: str) -> set[str]:
    items = top.get(key)
    if not isinstance(items, list):
        return set()
    return {t["id"] for t in items if isinstance(t, dict) and isinstance(t.get("id"), str)}


def unknown(what: str, value: str, known: Iterable[str]) -> str:
    near = difflib.get_close_matches(value, list(known), n=1)
    return f"unknown {what} {value!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
