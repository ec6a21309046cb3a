"""NPS counts each subscriber once a month (their latest answer), a survey answer is audited and refused when the
databases cannot store it alike, and the access audit is searched by a number however it is written (with or
without its country code, in groups, after ``+``), in the API and the console. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fairtel_seed import ALICE, BOB, CAROL, PASSWORD, Seeded, auth, seeded_on
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions, create_app
from fairtel.care import SurveyAnswer
from fairtel.core.time import Period, utc_now
from fairtel.kpi import KpiInputs, compute_kpis
from fairtel.store import AccessAudit, Survey
from fairtel.store._schema import table_of
from fairtel.web import create_console


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    yield from seeded_on(request.param, tmp_path_factory.mktemp("home"), url)


@pytest.fixture(scope="module")
def client(seeded: Seeded) -> Iterator[TestClient]:
    with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0), app=seeded.app)) as c:
        yield c


def _login(client: TestClient, user: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return auth(r.json()["access_token"])


def _answers(seeded: Seeded, *rows: tuple[str, str, int, datetime]) -> None:
    with seeded.engine.begin() as conn:
        conn.execute(
            table_of(Survey).insert(),
            [
                {"survey_id": sid, "msisdn": m, "score": score, "answered_at": at, "channel": "sms", "comment": None}
                for sid, m, score, at in rows
            ],
        )


def _nps_points(client: TestClient) -> dict[str, Decimal]:
    kpis = client.get("/api/v1/kpis", headers=_login(client, "analyst1"))
    assert kpis.status_code == 200, kpis.text
    return {p["label"]: Decimal(str(p["value"])) for p in kpis.json()["nps"]["points"]}


def _kpi_nps(seeded: Seeded, key: str) -> str:
    """`fairtel kpi`'s NPS of month ``key``, its facts read as the month's answers with their respondents."""
    period = Period.parse(key, seeded.settings.timezone)
    v = table_of(Survey)
    with seeded.engine.connect() as conn:
        answers = [
            SurveyAnswer(r.survey_id, r.msisdn, r.score, r.answered_at, r.channel)
            for r in conn.execute(select(v).where((v.c.answered_at >= period.start) & (v.c.answered_at < period.end)))
        ]
    inputs = KpiInputs(
        period=key, subscribers=3, now=utc_now(), survey_answers=answers, start=period.start, end=period.end
    )
    return str(compute_kpis(inputs).nps["nps"])


# ---- NPS: once per respondent a month, their latest answer ----------------------------------------------
def test_a_month_counts_each_subscribers_latest_answer_once(client: TestClient, seeded: Seeded) -> None:
    """Carol answers 10 five times in August, Alice 0 once: one promoter and one detractor, NPS 0 (counted per
    answer it read 66.7). Carol's 0 of July is July's, and does not take August's place."""
    aug = [datetime(2026, 8, d, 12, 0, tzinfo=UTC) for d in range(1, 6)]
    _answers(
        seeded,
        *[(f"gap-aug-c{i}", CAROL, 10, at) for i, at in enumerate(aug)],
        ("gap-aug-a", ALICE, 0, datetime(2026, 8, 10, 12, 0, tzinfo=UTC)),
        ("gap-jul-c", CAROL, 0, datetime(2026, 7, 31, 12, 0, tzinfo=UTC)),
    )
    points = _nps_points(client)
    assert points["2026-08"] == 0, points
    assert points["2026-07"] == -100, points
    # `fairtel kpi`'s rule is the dashboard's
    assert Decimal(_kpi_nps(seeded, "2026-08")) == points["2026-08"]
    # a later answer of the month changes that subscriber's say, not the number of respondents
    _answers(seeded, ("gap-aug-a2", ALICE, 9, datetime(2026, 8, 20, 12, 0, tzinfo=UTC)))
    assert _nps_points(client)["2026-08"] == 100
    assert _kpi_nps(seeded, "2026-08") == "100.0"


def test_answering_again_through_the_api_replaces_the_answer_that_counts(client: TestClient, seeded: Seeded) -> None:
    """A subscriber answering five times counts once, with their latest answer: four 10s then a 6 make Alice a
    detractor; with Bob a promoter the month's NPS is 0 (counting every answer it was far above)."""
    alice, bob = _login(client, "alice"), _login(client, "bob")
    ids = []
    for score in (10, 10, 10, 10, 6):
        r = client.post("/api/v1/me/surveys", json={"score": score}, headers=alice)
        assert r.status_code == 201, r.text
        ids.append(r.json()["survey_id"])
    assert client.post("/api/v1/me/surveys", json={"score": 9}, headers=bob).status_code == 201
    key = Period.containing(utc_now(), seeded.settings.timezone).key
    points = _nps_points(client)
    assert points[key] == 0, points
    assert Decimal(_kpi_nps(seeded, key)) == points[key]
    with seeded.engine.connect() as conn:  # every answer is kept: the earlier ones just no longer count
        v = table_of(Survey)
        assert set(ids) <= set(conn.scalars(select(v.c.survey_id).where(v.c.msisdn == ALICE)))


def test_fairtel_kpi_reports_the_dashboards_nps(client: TestClient, seeded: Seeded) -> None:
    from fairtel.cli._care import gather_kpis

    for key, value in _nps_points(client).items():
        assert Decimal(gather_kpis(seeded.app, key).nps["nps"]) == value, key


# ---- survey answers and the audit -------------------------------------------------------------------------
def test_a_survey_answer_is_audited_under_the_subscribers_pseudonym(client: TestClient, seeded: Seeded) -> None:
    r = client.post("/api/v1/me/surveys", json={"score": 8, "comment": "fine"}, headers=_login(client, "alice"))
    assert r.status_code == 201, r.text
    rows = client.get(
        "/api/v1/audit", params={"action": "survey.answer", "msisdn": ALICE}, headers=_login(client, "admin1")
    ).json()["items"]
    mine = [a for a in rows if a["resource"] == f"survey/{r.json()['survey_id']}"]
    assert len(mine) == 1 and mine[0]["actor"] == "alice" and mine[0]["reason"] == "own data", rows
    assert ALICE not in str(rows)


def test_a_comment_the_databases_cannot_store_alike_is_refused_naming_the_field(
    client: TestClient, seeded: Seeded
) -> None:
    """PostgreSQL refuses a NUL that SQLite keeps: refused on both (422 naming ``comment``), not a 500 on one."""
    r = client.post(
        "/api/v1/me/surveys",
        content='{"score": 7, "comment": "ok\\u0000"}',
        headers={**_login(client, "alice"), "content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert [p["field"] for p in r.json()["error"]["details"]["problems"]] == ["comment"]
    with seeded.engine.connect() as conn:
        v = table_of(Survey)
        assert not conn.scalars(select(v.c.survey_id).where(v.c.comment.like("ok%"))).all()


# ---- searching the audit by a number however written -----------------------------------------------------
@pytest.fixture(scope="module")
def trail(client: TestClient, seeded: Seeded) -> list[int]:
    """Alice's own reads, in the audit under her pseudonym: the rows a search by her number must find."""
    alice = _login(client, "alice")
    assert client.get("/api/v1/me/roaming-cap", headers=alice).status_code == 200
    t = table_of(AccessAudit)
    pseudonym = client.get(
        "/api/v1/audit", params={"msisdn": ALICE, "action": "roaming_cap.read"}, headers=_login(client, "admin1")
    ).json()["items"][0]["subject"]
    with seeded.engine.connect() as conn:
        ids = sorted(
            conn.scalars(
                select(t.c.audit_id).where(t.c.subject_msisdn_pseudonym == pseudonym, t.c.action != "audit.search")
            )
        )
    assert ids
    return ids


def _found(client: TestClient, **params: str) -> list[int]:
    r = client.get("/api/v1/audit", params={**params, "limit": "500"}, headers=_login(client, "admin1"))
    assert r.status_code == 200, r.text
    return sorted(a["audit_id"] for a in r.json()["items"] if a["action"] != "audit.search")


def test_the_audit_is_searched_by_a_number_without_its_country_code(client: TestClient, trail: list[int]) -> None:
    found = _found(client, msisdn="13800138000")
    assert set(trail) <= set(found) and found == _found(client, msisdn=ALICE)


@pytest.mark.parametrize(
    "written", ["+86 138 0013 8000", "13800138000", "138-0013-8000", "0086 138 0013 8000", "+8613800138000"]
)
def test_a_number_given_as_the_subject_is_searched_however_written(
    client: TestClient, trail: list[int], written: str
) -> None:
    assert _found(client, subject=written) == _found(client, msisdn=ALICE)


def test_a_number_without_country_code_ending_no_line_finds_nothing_of_another(
    client: TestClient, trail: list[int]
) -> None:
    """Bob's number without its country code finds Bob's rows, not Alice's; digits no line ends in find nothing."""
    bob = _login(client, "bob")
    assert client.get("/api/v1/me/roaming-cap", headers=bob).status_code == 200
    found = _found(client, msisdn=BOB[2:])
    assert found and not set(found) & set(trail) and found == _found(client, msisdn=BOB)
    assert _found(client, msisdn="55500001234") == []


def test_a_search_by_a_number_without_country_code_is_recorded_with_the_subscribers_pseudonym(
    client: TestClient, seeded: Seeded, trail: list[int]
) -> None:
    admin = _login(client, "admin1")
    client.get("/api/v1/audit", params={"msisdn": "13800138000", "action": "roaming_cap.*"}, headers=admin)
    t = table_of(AccessAudit)
    with seeded.engine.connect() as conn:
        last = conn.execute(
            select(t.c.subject_msisdn_pseudonym, t.c.action)
            .where(t.c.action == "audit.search")
            .order_by(t.c.audit_id.desc())
            .limit(1)
        ).one()
        alice = conn.scalar(select(t.c.subject_msisdn_pseudonym).where(t.c.audit_id == trail[0]))
    assert last.subject_msisdn_pseudonym == alice


def test_the_console_searches_the_audit_by_a_number_however_written(
    seeded: Seeded, client: TestClient, trail: list[int]
) -> None:
    with TestClient(create_console(seeded.settings, options=ApiOptions(rate_per_second=0))) as web:
        r = web.post("/login", data={"username": "admin1", "password": PASSWORD}, follow_redirects=False)
        assert r.status_code == 303, r.text
        pages = {
            w: web.get("/audit", params={"msisdn": w, "action": "roaming_cap.read"})
            for w in ("8613800138000", "+86 138 0013 8000", "13800138000")
        }
        assert all(p.status_code == 200 for p in pages.values()), {w: p.status_code for w, p in pages.items()}
        rows = {w: p.text.count("roaming_cap.read</td>") for w, p in pages.items()}
        assert rows["8613800138000"] >= 1 and len(set(rows.values())) == 1, rows
        assert 'pattern="\\d{7,15}"' not in pages["13800138000"].text  # the form takes the number as people write it
        bad = web.get("/audit", params={"msisdn": "not a number"})
        assert bad.status_code == 422 and 'data-field="msisdn"' in bad.text, bad.status_code  # the form again, its problem beside it
