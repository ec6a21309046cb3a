"""The API reads the home's stored catalog: offers, orders and the assistant's prices from the catalog in force
(one loaded while the server runs is used from the next request on); without one, the bundled demo catalog
stands in only in development, and test or production answer ``catalog_missing`` (never the demo operator's
offers and prices); a stored catalog that does not parse is an error, not the demo catalog; a bill's adjustments
are named from the catalog it was issued under when the home has no current one."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fairtel_seed import ALICE as SEED_ALICE
from fairtel_seed import PASSWORD as SEED_PASSWORD
from fairtel_seed import Seeded, seed
from fastapi.testclient import TestClient

from fairtel.api import ApiOptions, create_app, create_user
from fairtel.api._errors import status_for
from fairtel.api._services import CatalogMissingError, CurrentCatalogAssistant, find_assistant
from fairtel.billing import bill_id_for
from fairtel.billing._model import encode_reason
from fairtel.bootstrap import bootstrap
from fairtel.care._intent_model import BUILTIN_MODEL_FILE
from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.core.settings import load_settings
from fairtel.store import Bill, BillLine, catalog_version, consent_ledger, import_subscribers, store_catalog
from fairtel.store._catalog import NEVER_ACTIVATED
from fairtel.store._schema import CatalogVersion, table_of

PASSWORD = "correct-horse-battery"
ALICE = "13800138000"
DEMO_TEXT = default_catalog_path().read_text(encoding="utf-8")


def _client(home: Path, environment: str) -> Iterator[tuple[TestClient, Any]]:
    settings = load_settings(home=home, environment=environment, secret_key="test-secret-key-0123456789abcdef")
    app = bootstrap(settings)
    api = create_app(settings, app=app, options=ApiOptions(rate_per_second=0))
    with TestClient(api) as client:
        with app.db.begin() as conn:
            create_user(conn, "agent1", PASSWORD, "agent")
        r = client.post("/api/v1/auth/token", data={"username": "agent1", "password": PASSWORD})
        assert r.status_code == 200, r.text
        client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        yield client, app
    app.close()


@pytest.fixture
def test_home(tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    yield from _client(tmp_path / "home", "test")


@pytest.fixture
def dev_home(tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    yield from _client(tmp_path / "home", "development")


def test_offers_without_a_stored_catalog_are_refused_outside_development(test_home: tuple[TestClient, Any]) -> None:
    client, _app = test_home
    r = client.get("/api/v1/offers")
    body = r.json()
    assert r.status_code == status_for("catalog_missing") != 200, r.text
    assert body["error"]["code"] == "catalog_missing"
    assert body["error"]["details"] == {"environment": "test"}
    assert "fairtel load" in body["error"]["message"]
    assert "vas-music-10" not in r.text and "10.00" not in r.text  # nothing of the demo operator's offers


def test_a_vas_order_without_a_stored_catalog_is_refused_outside_development(test_home: tuple[TestClient, Any]) -> None:
    client, app = test_home
    register = app.settings.home / "subscribers.csv"
    register.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                        f"{ALICE},cust-a,basic-39,2025-01-05T10:00:00+08:00,active,en,Shanghai\n", encoding="utf-8")
    with app.db.begin() as conn:
        import_subscribers(conn, register, timezone="Asia/Shanghai")
        create_user(conn, "alice", PASSWORD, "subscriber", msisdn=ALICE)
    token = client.post("/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}).json()["access_token"]
    r = client.post("/api/v1/me/subscriptions", json={"offer_id": "vas-music-10"}, headers={"Authorization": f"Bearer {token}"})
    assert r.json()["error"]["code"] == "catalog_missing", r.text
    with app.db.connect() as conn:  # nothing ordered, nothing sent
        assert consent_ledger(conn, msisdns=[ALICE]).num_rows == 0
    assert not [f for f in app.settings.outbox_dir.rglob("*") if f.is_file()]


def test_development_falls_back_on_the_demo_catalog(dev_home: tuple[TestClient, Any]) -> None:
    client, _app = dev_home
    r = client.get("/api/v1/offers")
    assert r.status_code == 200, r.text
    assert [o["offer_id"] for o in r.json()] == [o.id for o in load_catalog(default_catalog_path()).offers]


def test_a_catalog_loaded_while_serving_is_in_force_from_the_next_request(test_home: tuple[TestClient, Any]) -> None:
    client, app = test_home
    with app.db.begin() as conn:
        store_catalog(conn, DEMO_TEXT)
    first = {o["offer_id"]: o["price"] for o in client.get("/api/v1/offers").json()}
    assert first["vas-music-10"] == "10.00"

    raised = DEMO_TEXT.replace('id = "vas-music-10"\nname = { zh = "畅听音乐包", en = "Music pack" }\nprovider = "sp-melody"\nprice = "10.00"',
                               'id = "vas-music-10"\nname = { zh = "畅听音乐包", en = "Music pack" }\nprovider = "sp-melody"\nprice = "12.00"')
    assert raised != DEMO_TEXT and parse_catalog(raised)[0] is not None
    with app.db.begin() as conn:
        store_catalog(conn, raised)
    second = {o["offer_id"]: o["price"] for o in client.get("/api/v1/offers").json()}
    assert second["vas-music-10"] == "12.00"


def test_a_stored_catalog_that_does_not_parse_is_an_error_not_the_demo_catalog(dev_home: tuple[TestClient, Any]) -> None:
    client, app = dev_home
    with app.db.begin() as conn:
        store_catalog(conn, "[operator]\nname = 3\n")
    r = client.get("/api/v1/offers")
    assert r.status_code == 500, r.text
    assert r.json()["error"]["code"] == "config_invalid"
    assert "does not parse" in r.json()["error"]["message"]
    assert "vas-music-10" not in r.text


class _Assistant:
    def __init__(self, catalog: Any) -> None:
        self.catalog = catalog

    def reply(self, message: str, *, msisdn: str, language: str | None) -> str:
        return f"{message}: {self.catalog.offers[0].price}"

    def use(self, catalog: Any) -> None:
        self.catalog = catalog


def test_the_assistant_answers_from_the_catalog_in_force() -> None:
    demo = load_catalog(default_catalog_path())
    dearer = parse_catalog(DEMO_TEXT.replace('price = "10.00"', 'price = "12.00"', 1))[0]
    assert dearer is not None and dearer.offers[0].price != demo.offers[0].price
    now: list[Any] = [demo]
    built: list[_Assistant] = []

    def build(catalog: Any) -> tuple[_Assistant, Any]:
        built.append(_Assistant(catalog))
        return built[-1], built[-1].use

    def current() -> Any:
        if now[0] is None:
            raise CatalogMissingError("no tariff catalog is loaded on this server")
        return now[0]

    assistant = CurrentCatalogAssistant(build, current)
    assert assistant.reply("price", msisdn="13800138000", language="en") == f"price: {demo.offers[0].price}"
    now[0] = dearer
    assert assistant.reply("price", msisdn="13800138000", language="en") == f"price: {dearer.offers[0].price}"
    assert len(built) == 1  # one assistant (its conversations kept), its catalog swapped
    now[0] = None
    with pytest.raises(CatalogMissingError):
        assistant.reply("price", msisdn="13800138000", language="en")


def test_the_assistant_waits_for_a_catalog_rather_than_build_on_the_demo_one() -> None:
    built: list[_Assistant] = []

    def build(catalog: Any) -> tuple[_Assistant, Any]:
        built.append(_Assistant(catalog))
        return built[-1], built[-1].use

    def current() -> Any:
        raise CatalogMissingError("no tariff catalog is loaded on this server")

    assistant = CurrentCatalogAssistant(build, current)
    with pytest.raises(CatalogMissingError):
        assistant.reply("hello", msisdn=ALICE, language="en")
    assert built == []


def test_the_served_assistant_quotes_the_prices_of_a_catalog_loaded_while_serving(seeded: Seeded) -> None:
    settings = seeded.settings
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BUILTIN_MODEL_FILE, settings.models_dir / "intents.joblib")
    assistant = find_assistant(settings, seeded.app)
    assert assistant is not None
    asked = "how much is data roaming in Hong Kong"
    assert "data: 1.00 CNY per MiB" in assistant.reply(asked, msisdn=SEED_ALICE, language="en").text
    old = 'steps = [{ rate = "1.00", rate_unit = "1MiB", increment = "10KiB" }]'
    assert DEMO_TEXT.count(old) == 1
    with seeded.app.db.begin() as conn:
        store_catalog(conn, DEMO_TEXT.replace(old, old.replace('"1.00"', '"0.50"')))
    assert "data: 0.50 CNY per MiB" in assistant.reply(asked, msisdn=SEED_ALICE, language="en").text


def test_a_bill_without_a_current_catalog_names_its_adjustments_from_the_catalog_it_was_issued_under(tmp_path: Path) -> None:
    seeded = seed(tmp_path / "home")
    period = "2026-11"
    bill = bill_id_for(SEED_ALICE, period)
    fee = encode_reason("rerate-fee", "CNY", period="2026-10", plan="basic-39", old="39.00", new="29.00")
    issued_under = DEMO_TEXT.replace('en = "Basic 39" }', 'en = "Basic 39 (2026 tariff)" }')
    assert issued_under.count("Basic 39 (2026 tariff)") == 1
    with seeded.engine.begin() as conn:
        version = catalog_version(conn, issued_under)
        conn.execute(table_of(CatalogVersion).update().values(activated_at=NEVER_ACTIVATED))  # no current catalog
        conn.execute(table_of(Bill).insert().values(
            bill_id=bill, msisdn=SEED_ALICE, period=period, issued_at=datetime(2026, 12, 1, tzinfo=UTC), catalog_version_id=version,
            currency="CNY", subtotal_minor=2900, tax_minor=0, total_minor=2900, run_id=None, plan_id="basic-39"))
        conn.execute(table_of(BillLine).insert(), [
            {"bill_id": bill, "line_no": 1, "kind": "adjustment", "description": f"credit: {fee}", "rule_id": None, "quantity": None,
             "unit": None, "amount_minor": -1000, "currency": "CNY", "allowance_id": None, "adjustment_id": None}])
    try:
        with TestClient(create_app(seeded.settings, options=ApiOptions(rate_per_second=0))) as client:
            token = client.post("/api/v1/auth/token", data={"username": "alice", "password": SEED_PASSWORD}).json()["access_token"]
            r = client.get(f"/api/v1/bills/{bill}/lines", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert [line["description"] for line in r.json()] == [
            "Credit: rerate 2026-10: monthly fee Basic 39 (2026 tariff) 39.00 → 29.00 CNY"]
    finally:
        seeded.engine.dispose()
