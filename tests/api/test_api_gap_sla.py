"""The API under an operator's SLA setting (``[sla]`` in the settings file): the chat's complaint reply, the
deadline a filed complaint is stored with, and the deadline shown for a complaint stored without one all
follow it. A keyword classifier stands in for the intent model, so nothing is trained."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fairtel_seed import Seeded, auth
from fastapi.testclient import TestClient
from sqlalchemy import select

from fairtel.api import ApiOptions, create_app
from fairtel.care import IntentPrediction, detect_language
from fairtel.core.settings import load_settings
from fairtel.store import Complaint
from fairtel.store._schema import table_of

TWELVE = "[sla.acknowledge]\nunexplained_charge = 12\n\n[sla.resolve]\nunexplained_charge = 12\n"


class Words:
    """An intent model that knows one word: complaints."""

    def __call__(self, text: str) -> IntentPrediction:
        label = "complaint" if "complain" in text.lower() else "out_of_scope"
        return IntentPrediction(label, 0.99, detect_language(text), label == "out_of_scope")

    def predict(self, texts: list[str]) -> list[IntentPrediction]:
        return [self(t) for t in texts]


@pytest.fixture(scope="module")
def client(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    config = tmp_path_factory.mktemp("config") / "fairtel.toml"
    config.write_text(TWELVE, encoding="utf-8")
    base = seeded.settings
    (base.models_dir).mkdir(parents=True, exist_ok=True)
    (base.models_dir / "intents.joblib").touch()  # the home has an assistant: the chat is served
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FAIRTEL_CONFIG", str(config))
        mp.delenv("FAIRTEL_SLA", raising=False)
        mp.setattr("fairtel.care.load_intent_model", lambda *_a, **_k: Words())
        settings = load_settings(home=base.home, database_url=base.database_url, environment=base.environment,
                                 secret_key=base.secret_key.get_secret_value())
        api = create_app(settings, options=ApiOptions(rate_per_second=0))
    with TestClient(api) as c:
        yield c


def test_a_filed_complaint_is_due_by_the_configured_hours(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.post("/api/v1/complaints", json={"category": "unexplained_charge", "text": "a charge I never ordered"},
                    headers=auth(tokens["alice"]))
    assert r.status_code == 201, r.text
    filed = r.json()
    assert datetime.fromisoformat(filed["due_at"]) - datetime.fromisoformat(filed["opened_at"]) == timedelta(hours=12)
    r = client.post("/api/v1/complaints", json={"category": "price", "text": "too dear"}, headers=auth(tokens["alice"]))
    assert datetime.fromisoformat(r.json()["due_at"]) - datetime.fromisoformat(r.json()["opened_at"]) == timedelta(hours=72)


def test_a_complaint_stored_without_a_deadline_is_shown_and_kept_by_the_setting(
    client: TestClient, tokens: dict[str, str], seeded: Seeded
) -> None:
    agent = auth(tokens["agent1"])
    items = client.get("/api/v1/complaints", params={"category": "unexplained_charge", "limit": 200}, headers=agent).json()["items"]
    old = next(c for c in items if c["complaint_id"] == "cmp-1")
    due = datetime.fromisoformat(old["due_at"])
    assert due - datetime.fromisoformat(old["opened_at"]) == timedelta(hours=12) and old["overdue"] is True
    # the first move writes that deadline
    assert client.post("/api/v1/complaints/cmp-1/take", headers=agent).status_code == 200
    with seeded.engine.connect() as conn:
        stored = conn.execute(select(table_of(Complaint).c.due_at).where(table_of(Complaint).c.complaint_id == "cmp-1")).scalar_one()
    assert stored is not None and stored.astimezone(due.tzinfo) == due


def test_the_chat_promises_the_configured_hours_and_the_store_keeps_them(
    client: TestClient, tokens: dict[str, str], seeded: Seeded
) -> None:
    r = client.post("/api/v1/chat", json={"message": "I want to complain about an unexplained charge"},
                    headers=auth(tokens["alice"]))
    assert r.status_code == 200, r.text
    assert r.json()["intent"] == "complaint" and "within 12 hours" in r.json()["reply"]
    t = table_of(Complaint)
    with seeded.engine.connect() as conn:
        row = conn.execute(select(t.c.opened_at, t.c.due_at).where(t.c.channel == "chat").order_by(t.c.opened_at.desc())).first()
    assert row is not None and row.due_at - row.opened_at == timedelta(hours=12)



def test_the_dashboard_shows_sla_attainment_judged_by_the_setting(
    client: TestClient, tokens: dict[str, str], seeded: Seeded
) -> None:
    """Two unexplained-charge complaints of January 2025 stored without a deadline, resolved after 10 and 20 hours:
    in time and late under the operator's 12 hours (the built-in 48 would call both in time)."""
    from fairtel.core.time import UTC

    opened = datetime(2025, 1, 10, 2, 0, tzinfo=UTC)
    with seeded.engine.begin() as conn:
        conn.execute(table_of(Complaint).insert(), [
            {"complaint_id": f"cmp-sla-{h}", "msisdn": "8613800138000", "category": "unexplained_charge",
             "opened_at": opened, "closed_at": opened + timedelta(hours=h), "status": "closed", "channel": "phone",
             "text": "charged twice"} for h in (10, 20)])
    kpis = client.get("/api/v1/kpis", headers=auth(tokens["analyst1"])).json()
    points = {p["label"]: p["value"] for p in kpis["sla_attainment"]["points"]}
    assert kpis["sla_attainment"]["available"] and points["2025-01"] == 0.5
