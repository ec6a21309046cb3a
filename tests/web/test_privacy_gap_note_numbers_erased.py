"""A phone number an agent types into a note on a complaint is kept as a token (``care.tokenise_note``), its number in
``complaint_note_numbers``: the agent handling the subscriber reads the number, a pseudonymising role its keyed
pseudonym, as before; once the subscriber is erased, the number is forgotten, and every reader (API, console page,
data export) and the stored rows themselves show ``NOTE_NUMBER_ERASED`` in its place, never its digits. Another
person's number in the same note still resolves. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from console_forms import login
from fairtel_seed import BOB, CAROL, Seeded, client_for, seeded_on, token
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from fairtel.api import ApiOptions
from fairtel.care._complaints import NOTE_NUMBER_ERASED
from fairtel.privacy import Pseudonymizer
from fairtel.store import AgentAssignment, ComplaintEvent, Finding, Subscriber
from fairtel.store._erasure import apply_in_database, plan
from fairtel.store._schema import ComplaintNoteNumber, table_of
from fairtel.web import create_console

# Bob's number as an agent types it, and his sister Carol's (another subscriber) as dialled at home
NOTE = "called him back on 139 0013 9000; his sister on 13700137000 confirmed the charge"
BOB_DIGITS = ("13900139000", "139 0013 9000", "8613900139000")
CAROL_MASKED = "86137****7000"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path / "home", url)


@pytest.fixture
def api(seeded: Seeded) -> Iterator[TestClient]:
    with client_for(seeded) as c:
        yield c


@pytest.fixture
def web(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as c:
        yield c


def _notes(api: TestClient, headers: dict[str, str]) -> list[str]:
    r = api.get("/api/v1/complaints/cmp-2/history", headers=headers)
    assert r.status_code == 200, r.text
    return [e["note"] for e in r.json()["events"] if e["note"] and "confirmed the charge" in e["note"]]


def _stored(seeded: Seeded) -> tuple[list[str], list[tuple[str, str]]]:
    e, n = table_of(ComplaintEvent), table_of(ComplaintNoteNumber)
    with seeded.engine.connect() as conn:
        notes = [x for x in conn.execute(select(e.c.note).where(e.c.complaint_id == "cmp-2")).scalars()
                 if x and "confirmed the charge" in x]
        numbers = [tuple(r) for r in conn.execute(select(n.c.token, n.c.number))]
    return notes, numbers


def _no_digits_of_bob(text: str) -> bool:
    return not any(d in text for d in BOB_DIGITS)


def _exported_notes(api: TestClient, headers: dict[str, str]) -> list[str]:
    r = api.get(f"/api/v1/subscribers/{BOB}/data-export", headers=headers)
    assert r.status_code == 200, r.text
    complaint = next(c for c in r.json()["complaints"] if c["complaint_id"] == "cmp-2")
    return [e["note"] for e in complaint["events"] if e["note"] and "confirmed the charge" in e["note"]]


def test_a_number_in_a_note_is_shown_by_role_and_forgotten_with_its_subscriber(
    seeded: Seeded, api: TestClient, web: TestClient
) -> None:
    pseudonym = Pseudonymizer(seeded.settings.secret_key.get_secret_value(), domain="msisdn")
    agent, admin, bob = token(api, "agent1"), token(api, "admin1"), token(api, "bob")
    assert api.post("/api/v1/complaints/cmp-2/take", headers=agent).status_code == 200
    r = api.post("/api/v1/complaints/cmp-2/resolve", json={"note": "charge explained"}, headers=agent)
    assert r.status_code == 200, r.text
    assert api.post("/api/v1/complaints/cmp-2/close", json={"note": NOTE}, headers=agent).status_code == 200
    # closing ended the agent's assignment: they handle Bob again (his request for a copy of his data)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(AgentAssignment).insert().values(
            assignment_id="asg-copy", agent="agent1", msisdn=BOB, reference_kind="complaint", reference_id="cmp-2",
            started_at=_now() - timedelta(minutes=1), expires_at=_now() + timedelta(hours=1), released_at=None))

    # stored: neither number's digits, in the history or anywhere but the table of note numbers
    notes, numbers = _stored(seeded)
    assert len(notes) == 1 and "[tel:" in notes[0] and _no_digits_of_bob(notes[0]) and "13700137000" not in notes[0]
    assert sorted(n for _, n in numbers) == [CAROL, BOB]

    # the agent handling Bob reads his number; Carol's masked, as every third party's number is to an agent
    (seen,) = _notes(api, agent)
    assert "8613900139000" in seen and CAROL_MASKED in seen, seen
    # a pseudonymising role reads each number's keyed pseudonym, no digit of either
    (seen,) = _notes(api, admin)
    assert pseudonym(BOB) in seen and pseudonym(CAROL) in seen and _no_digits_of_bob(seen) and "7000" not in seen
    # Bob himself, on his console page, reads his own number in the outcome of his complaint
    login(web, "bob", "en")
    assert "8613900139000" in web.get("/my/complaints").text

    # Bob's line is closed and nothing of it is open any more: he asks to be erased
    f, s = table_of(Finding), table_of(Subscriber)
    with seeded.engine.begin() as conn:
        conn.execute(update(f).where(f.c.finding_id == "fnd-2").values(status="dismissed"))
        conn.execute(update(s).where(s.c.msisdn == BOB).values(status="closed", closed_at=_now()))
    with seeded.engine.begin() as conn:
        planned = plan(conn, BOB, now=_now())
        assert planned.refused == () and planned.note_numbers == 1
        assert planned.summary()["erase"]["complaint_note_numbers"] == 1
        apply_in_database(conn, planned)
    with seeded.engine.begin() as conn:
        assert plan(conn, BOB, now=_now()).empty  # nothing left: a second apply changes nothing

    # the stored rows: Bob's number is nowhere, Carol's still is
    notes, numbers = _stored(seeded)
    assert [n for _, n in numbers] == [CAROL]
    assert all(_no_digits_of_bob(n) for n in notes)
    # every reader: the placeholder where Bob's number stood, Carol's number still shown by role
    (seen,) = _notes(api, agent)
    assert NOTE_NUMBER_ERASED in seen and _no_digits_of_bob(seen) and CAROL_MASKED in seen, seen
    (seen,) = _notes(api, admin)
    assert NOTE_NUMBER_ERASED in seen and pseudonym(BOB) not in seen and pseudonym(CAROL) in seen, seen
    (seen,) = _exported_notes(api, agent)
    assert NOTE_NUMBER_ERASED in seen and _no_digits_of_bob(seen) and CAROL_MASKED in seen, seen
    (seen,) = _notes(api, bob)
    assert NOTE_NUMBER_ERASED in seen and _no_digits_of_bob(seen), seen
    login(web, "bob", "en")
    page = web.get("/my/complaints").text
    assert "confirmed the charge" in page and "number erased" in page and _no_digits_of_bob(page)


def _now() -> datetime:
    return datetime.now(UTC)
