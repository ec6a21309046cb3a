"""Rating subjects mapped to plans (``[[subjects]]``), as CGRateS rating profiles map them, with ``*any`` as the
fallback for subjects that have no entry of their own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fairtel.catalog._fields import FieldReader, type_name
from fairtel.catalog._locate import join
from fairtel.catalog._model import ANY_SUBJECT, Catalog, SubjectPlan
from fairtel.catalog._units import UNIT_OF_KIND
from fairtel.core.contracts import UsageKind
from fairtel.core.errors import NotFoundError
from fairtel.core.time import require_aware, utc_now


def read_subjects(reader: FieldReader, top: dict[str, Any], plans: set[str]) -> list[SubjectPlan]:
    """The ``[[subjects]]`` of a catalog; every problem is recorded on ``reader``."""
    out: list[SubjectPlan] = []
    seen: dict[tuple[str, datetime | None], list[tuple[frozenset[UsageKind] | None, str]]] = {}
    kinds = {k.value: k for k in UNIT_OF_KIND}
    for raw, path in reader.array_of_tables(top, "subjects", ""):
        t = reader.table(raw, path, ("subject", "plan", "kinds", "from"), ("subject", "plan"))
        if t is None:
            continue
        subject = reader.string(t, "subject", path)
        plan = reader.string(t, "plan", path)
        if plan is not None and plan not in plans:
            reader.unknown_ref(join(path, "plan"), "plan", plan, plans)
            plan = None
        ok_kinds, kind_set = reader.members(t, "kinds", path, kinds, "usage kind")
        active_from = read_instant(reader, t, "from", path) if "from" in t else None
        if subject is None or plan is None or not ok_kinds or ("from" in t and active_from is None):
            continue
        # two entries of one subject from the same time that share a kind (no kinds: every kind) would leave
        # the plan of that kind to the order of the file
        earlier = seen.setdefault((subject, active_from), [])
        clash = next((p for k, p in earlier if k is None or kind_set is None or k & kind_set), None)
        if clash is not None:
            reader.add(join(path, "subject"), f"subject {subject!r} is mapped twice for the same kinds and time "
                       f"(first at {clash})", "duplicate_id")
            continue
        earlier.append((kind_set, path))
        out.append(SubjectPlan(subject, plan, kind_set, active_from))
    return out


def read_instant(reader: FieldReader, t: dict[str, Any], key: str, path: str) -> datetime | None:
    v = t[key]
    if isinstance(v, str):
        try:
            v = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            reader.add(join(path, key), f"{t[key]!r} is not an RFC 3339 date-time", "invalid_value")
            return None
    if not isinstance(v, datetime):
        reader.add(join(path, key), f"expected a date-time with an offset, got {type_name(v)}", "wrong_type")
        return None
    if v.tzinfo is None or v.utcoffset() is None:
        reader.add(join(path, key), "a date-time needs an offset (e.g. 2014-01-14T00:00:00Z)", "invalid_value")
        return None
    return v


def _entry(catalog: Catalog, subject: str, kind: UsageKind | None, at: datetime) -> SubjectPlan | None:
    best: SubjectPlan | None = None
    for e in catalog.subjects:
        if e.subject != subject or (kind is not None and e.kinds is not None and kind not in e.kinds):
            continue
        if e.active_from is not None and e.active_from > at:
            continue
        if best is None or (e.active_from is not None and (best.active_from is None or e.active_from > best.active_from)):
            best = e
    return best


def plan_for_subject(
    catalog: Catalog, subject: str, *, kind: UsageKind | str | None = None, at: datetime | None = None,
) -> str:
    """The plan_id ``subject`` is priced under: its own ``[[subjects]]`` entry in effect at ``at`` (default: now)
    for usage of ``kind`` (default: any), else the ``*any`` entry, as CGRateS picks a rating profile.

    Raises ``NotFoundError`` when neither exists.
    """
    when = utc_now() if at is None else require_aware(at, "at")
    k = UsageKind(kind) if kind is not None else None
    entry = _entry(catalog, subject, k, when) or _entry(catalog, ANY_SUBJECT, k, when)
    if entry is None:
        raise NotFoundError(
            f"no plan for subject {subject!r}" + (f" ({k} usage)" if k else "") + " and no '*any' entry in the catalog",
            details={"subject": subject, **({"kind": str(k)} if k else {})},
        )
    return entry.plan
