"""What the command line shows in clear (numbers of subscribers, complaints, fraud cases, findings, exports) is
recorded in the access audit the API writes, before it is shown: who ran it (``--actor`` / ``FAIRTEL_ACTOR``, else
the OS user, who is always named), the command, each subscriber shown by their keyed pseudonym (or, for a large
export, how many), and where the output went. If the row cannot be written, nothing is shown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from fairtel.bootstrap import App, bootstrap
from fairtel.cli import app
from fairtel.cli._audit import LISTED_ONE_BY_ONE, audit_shown, os_user
from fairtel.core.settings import load_settings
from fairtel.privacy import Pseudonymizer
from fairtel.store import AccessAudit, import_subscribers
from fairtel.store._schema import table_of

runner = CliRunner()
LINE, LINE2 = "8613800138000", "8613900139000"


def _app(home: Path) -> App:
    return bootstrap(load_settings(home=home))


def _pseudonym(home: Path, number: str) -> str:
    with _app(home) as fapp:
        return Pseudonymizer(fapp.settings.secret_key.get_secret_value(), domain="msisdn")(number)


def _audit(home: Path, action: str | None = None) -> list[Any]:
    t = table_of(AccessAudit)
    q = select(t).order_by(t.c.audit_id)
    if action is not None:
        q = q.where(t.c.action == action)
    with _app(home) as fapp, fapp.db.connect() as conn:
        return list(conn.execute(q))


def _no_number_in(rows: list[Any], *numbers: str) -> None:
    for r in rows:
        for value in (r.actor, r.resource, r.reason, r.subject_msisdn_pseudonym):
            assert not any(n in (value or "") for n in numbers), (value, r)


def _register(home: Path, tmp_path: Path, numbers: tuple[str, ...]) -> None:
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    + "".join(f"{n},c{i},payg,2025-01-01T00:00:00+08:00,active,zh,sh\n" for i, n in enumerate(numbers)),
                    encoding="utf-8")
    with _app(home) as fapp, fapp.db.begin() as conn:
        import_subscribers(conn, subs)


def _cli(*args: str, env: dict[str, str] | None = None, code: int = 0) -> Any:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def care_home(tmp_path: Path) -> Path:
    """Three complaints: two of LINE, one of LINE2."""
    home = tmp_path / "home"
    _register(home, tmp_path, (LINE, LINE2))
    for number, words in ((LINE, "扣了我6元"), (LINE, "信号太差"), (LINE2, "charged twice")):
        _cli("care", "complain", "--msisdn", number, "--text", words, "--category", "unexplained_charge",
             "--home", str(home), "--json")
    return home


# -- complaints ---------------------------------------------------------------------------------------------
def test_the_complaint_list_names_each_subscriber_it_shows(care_home: Path) -> None:
    out = _cli("care", "complaints", "--home", str(care_home), "--json")
    assert {r["msisdn"] for r in json.loads(out.stdout)} == {LINE, LINE2}  # in clear, as before
    rows = _audit(care_home, "complaint.list")
    assert {r.subject_msisdn_pseudonym for r in rows} == {_pseudonym(care_home, LINE), _pseudonym(care_home, LINE2)}
    assert len(rows) == 2 and len({r.request_id for r in rows}) == 1 and rows[0].request_id.startswith("cli_")
    for r in rows:
        assert (r.actor, r.role, r.resource) == (os_user(), "cli", "cli/care complaints")
        assert "fairtel care complaints: 3 complaints in clear, 2 subscribers; to standard output" in r.reason
        assert f"run by OS user {os_user()}" in r.reason
    _no_number_in(rows, LINE, LINE2)


def test_the_actor_named_is_recorded_beside_the_os_user(care_home: Path) -> None:
    _cli("--actor", "desk lead 3", "care", "complaints", "--home", str(care_home), "--limit", "1")
    (row,) = _audit(care_home, "complaint.list")
    assert row.actor == "desk lead 3" and f"run by desk lead 3 (OS user {os_user()})" in row.reason
    assert "1 complaint in clear, 1 subscriber" in row.reason


def test_an_actor_named_by_a_phone_number_is_recorded_by_its_login_pseudonym(care_home: Path) -> None:
    _cli("care", "complaints", "--home", str(care_home), env={"FAIRTEL_ACTOR": "+86 138 0013 8000"})
    rows = _audit(care_home, "complaint.list")
    with _app(care_home) as fapp:
        login = Pseudonymizer(fapp.settings.secret_key.get_secret_value(), domain="login")("+86 138 0013 8000")
    assert {r.actor for r in rows} == {login}
    _no_number_in(rows, LINE, "138 0013 8000", "0013")


def test_the_history_and_the_moves_name_who_ran_the_command(care_home: Path) -> None:
    cid = json.loads(_cli("care", "complaints", "--home", str(care_home), "--json", "--limit", "1").stdout)[0]["complaint_id"]
    moved = json.loads(_cli("care", "complaint-ack", cid, "--by", "desk-7", "--home", str(care_home), "--json").stdout)
    assert moved["msisdn"] in (LINE, LINE2)  # the answer shows the complaint in clear
    (ack,) = [r for r in _audit(care_home) if r.resource == f"complaint/{cid}" and r.actor == "desk-7"]
    assert f"run by OS user {os_user()}" in (ack.reason or "")
    _cli("care", "complaint-history", cid, "--home", str(care_home), "--json")
    (read,) = _audit(care_home, "complaint.history")
    assert (read.actor, read.role, read.resource) == (os_user(), "cli", f"complaint/{cid}")
    assert read.subject_msisdn_pseudonym == _pseudonym(care_home, moved["msisdn"])


def test_nothing_is_shown_when_its_audit_row_cannot_be_written(care_home: Path) -> None:
    with _app(care_home) as fapp, fapp.db.begin() as conn:
        conn.execute(text("CREATE TRIGGER no_audit BEFORE INSERT ON access_audit BEGIN SELECT RAISE(ABORT, 'audit down'); END"))
    result = runner.invoke(app, ["care", "complaints", "--home", str(care_home), "--json"])
    assert result.exit_code != 0
    assert LINE not in result.stdout and LINE2 not in result.stdout


def test_the_api_audit_search_finds_what_the_command_line_showed(care_home: Path) -> None:
    from fairtel.api._access import Access, Pseudonyms
    from fairtel.api._admin import search_audit
    from fairtel.api._security import Principal
    from fairtel.privacy import Role

    _cli("care", "complaints", "--home", str(care_home))
    with _app(care_home) as fapp:
        acc = Access(principal=Principal("auditor", Role.ADMIN), pseudonyms=Pseudonyms(fapp.settings.secret_key.get_secret_value()),
                     begin=fapp.db.begin)
        page = search_audit(acc, msisdn=LINE2, action="complaint.list")
        acc.end()
    assert [(i.action, i.role, i.actor) for i in page.items] == [("complaint.list", "cli", os_user())]


# -- fraud --------------------------------------------------------------------------------------------------
def _usage_rows() -> pl.DataFrame:
    """Two SIMs in one device calling ever new numbers (two SIM-box cases), and a normal line."""
    from zoneinfo import ZoneInfo

    sh = ZoneInfo("Asia/Shanghai")
    rows = []
    n = 0
    for line in ("8613000000001", "8613000000002"):
        for d in range(3):
            for k in range(60):
                n += 1
                at = datetime(2026, 9, 10 + d, 7, tzinfo=sh) + timedelta(seconds=k * 1000)
                rows.append({"record_id": f"r{n:08d}", "source": "t", "msisdn": line, "kind": "voice", "direction": "out",
                             "started_at": at.astimezone(UTC), "duration_s": 70, "peer": f"86150{n:08d}",
                             "cell_id": "460-00-1", "imei": "356938037867562"})
    for k in range(3):
        rows.append({"record_id": f"p{k}", "source": "t", "msisdn": "8613000000003", "kind": "voice", "direction": "out",
                     "started_at": datetime(2026, 9, 10 + k, 12, tzinfo=UTC), "duration_s": 100, "peer": "8613000000001",
                     "cell_id": "460-00-2", "imei": "356938030000009"})
    return pl.DataFrame(rows)


LINES = ("8613000000001", "8613000000002", "8613000000003")


@pytest.fixture
def fraud_home(tmp_path: Path) -> Iterator[Path]:
    from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
    from fairtel.store import Lake

    home = tmp_path / "home"
    frame = _usage_rows()
    table = frame.with_columns(pl.lit(None, dtype=pl.String).alias(f.name) for f in CLEAN_USAGE_SCHEMA
                               if f.name not in frame.columns).to_arrow()
    Lake(home / "lake").write("usage", "2026-09", table, part="t1")
    _register(home, tmp_path, LINES)
    yield home


def test_fraud_case_lists_name_the_numbers_they_show(fraud_home: Path) -> None:
    home = str(fraud_home)
    _cli("fraud", "detect", "--home", home, "--limit", "1")
    (detected,) = _audit(fraud_home, "fraud_case.list")  # the table shows one case
    assert detected.subject_msisdn_pseudonym in {_pseudonym(fraud_home, n) for n in LINES[:2]}
    assert "fairtel fraud detect: 1 fraud case in clear" in detected.reason

    cases = json.loads(_cli("fraud", "cases", "--home", home, "--json").stdout)["cases"]
    shown = {n for c in cases for n in (c["subject"], *c["related"])}
    listed = [r for r in _audit(fraud_home, "fraud_case.list") if r.request_id != detected.request_id]
    assert {r.subject_msisdn_pseudonym for r in listed} == {_pseudonym(fraud_home, n) for n in shown}
    assert all("fairtel fraud cases: 2 fraud cases in clear" in r.reason for r in listed)

    decided = json.loads(_cli("fraud", "decide", cases[0]["case_id"], "--confirm", "--by", "analyst-1", "--home", home,
                              "--json").stdout)
    reads = _audit(fraud_home, "fraud_case.read")  # the case's line and the other SIMs of its device it names
    named = {decided["case"]["subject"], *decided["case"]["related"]}
    assert {r.subject_msisdn_pseudonym for r in reads} == {_pseudonym(fraud_home, n) for n in named}
    assert {(r.actor, r.resource) for r in reads} == {(os_user(), f"fraud_case/{cases[0]['case_id']}")}
    _no_number_in(_audit(fraud_home), *LINES)


def test_the_feature_export_records_whom_it_names_and_the_file(fraud_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "features.csv"
    _cli("fraud", "features", "--out", str(out), "--home", str(fraud_home))
    exported = set(pl.read_csv(out, schema_overrides={"msisdn": pl.String})["msisdn"].to_list())
    rows = _audit(fraud_home, "fraud_features.export")
    assert {r.subject_msisdn_pseudonym for r in rows} == {_pseudonym(fraud_home, n) for n in exported}
    assert all(f"to file {out.resolve()}" in r.reason for r in rows)


# -- assurance ----------------------------------------------------------------------------------------------
def test_assure_records_the_findings_its_json_shows(tmp_path: Path) -> None:
    op = tmp_path / "op"
    (op / "consent").mkdir(parents=True)
    (op / "usage").mkdir()
    (op / "consent" / "events.jsonl").write_text("", encoding="utf-8")
    (op / "catalog.toml").write_text('[operator]\nid = "demo"\ncurrency = "CNY"\n\n[[offers]]\nid = "vas-2"\n'
                                     'provider = "sp-x"\nprice = "2.00"\nperiod = "per_use"\n', encoding="utf-8")
    (op / "usage" / "sp.jsonl").write_text("\n".join(json.dumps(
        {"record_id": f"v{i}", "msisdn": n, "kind": "vas", "started_at": "2026-09-02T00:00:00Z", "offer_id": "vas-2",
         "amount": "2.00", "currency": "CNY"}) for i, n in enumerate((LINE, LINE2))) + "\n", encoding="utf-8")
    home = tmp_path / "home"
    _cli("assure", "--home", str(home), "--operator-dir", str(op), "--no-write")
    assert _audit(home, "finding.list") == []  # the tables show counts, no one
    findings = json.loads(_cli("assure", "--home", str(home), "--operator-dir", str(op), "--no-write", "--json").stdout)["findings"]
    assert {f["msisdn"] for f in findings} == {LINE, LINE2}
    rows = _audit(home, "finding.list")
    assert {r.subject_msisdn_pseudonym for r in rows} == {_pseudonym(home, LINE), _pseudonym(home, LINE2)}


# -- the helper ---------------------------------------------------------------------------------------------
def test_a_large_export_is_one_row_saying_how_many(tmp_path: Path) -> None:
    home = tmp_path / "home"
    numbers = [f"86138{i:08d}" for i in range(LISTED_ONE_BY_ONE + 1)]
    with _app(home) as fapp:
        audit_shown(None, fapp, action="retention.export", subjects=numbers, what="a retention list",
                    to=tmp_path / "86138000000001.csv")
    (row,) = _audit(home, "retention.export")
    assert row.subject_msisdn_pseudonym is None
    assert f"{LISTED_ONE_BY_ONE + 1} subscribers (more than {LISTED_ONE_BY_ONE}: not named one by one)" in row.reason
    assert "86138000000001" not in row.reason  # a number in the file's name is kept as its pseudonym
    with _app(home) as fapp:
        assert audit_shown(None, fapp, action="retention.export", subjects=[None, ""], what="nothing") is None
    assert len(_audit(home, "retention.export")) == 1


# -- the assistant ------------------------------------------------------------------------------------------
def test_a_chat_for_a_subscriber_is_recorded_before_its_replies(care_home: Path) -> None:
    from fairtel.care._chat import MODEL_FILE
    from fairtel.care._intent_data import Example
    from fairtel.care._intent_model import IntentConfig, train_intents

    # a small intent model of the home's own (the built-in one takes minutes to train)
    examples = [Example(t, label) for label, texts in (("bill", ("my bill", "what is my bill", "bill please")),
                                                       ("fault", ("no signal", "signal is bad", "network down")))
                for t in texts]
    with _app(care_home) as fapp:
        train_intents(examples, config=IntentConfig(embed_weight=0, neighbour_weight=0, embedding_model_weight=0)).save(
            fapp.settings.models_dir / MODEL_FILE)
    out = runner.invoke(app, ["assistant", "chat", "--msisdn", LINE, "--script", "-", "--json", "--home", str(care_home)],
                        input="my bill\n")
    assert out.exit_code == 0, out.output
    (row,) = _audit(care_home, "chat.session")
    conversation = json.loads(out.stdout)["conversation_id"]
    assert (row.subject_msisdn_pseudonym, row.resource) == (_pseudonym(care_home, LINE), f"conversation/{conversation}")
    assert (row.actor, row.role) == (os_user(), "cli")


def test_fraud_score_records_the_lines_it_shows(fraud_home: Path, tmp_path: Path) -> None:
    import numpy as np

    export = tmp_path / "features.csv"
    _cli("fraud", "features", "--out", str(export), "--home", str(fraud_home))
    features = pl.read_csv(export, schema_overrides={"msisdn": pl.String})
    # a model of the home's own feature columns: the two SIM boxes' rows as fraud, the third line's as normal
    rng = np.random.default_rng(3)
    numeric = [c for c in features.columns if c not in ("msisdn", "period", "fraud") and features[c].dtype.is_numeric()]
    rows = []
    for k in range(40):
        base = features.row(k % features.height, named=True)
        rows.append({**{c: (base[c] or 0) * float(rng.uniform(0.9, 1.1)) for c in numeric}, "msisdn": f"x{k}", "period": "2026-09",
                     "fraud": int(base["msisdn"] != LINES[2])})
    data = tmp_path / "train.csv"
    pl.DataFrame(rows).write_csv(data)
    model = tmp_path / "model"
    _cli("fraud", "train", "--data", str(data), "--label", "fraud", "--id", "msisdn", "--model", str(model), "--folds", "2")
    _cli("fraud", "score", "--model", str(model), "--home", str(fraud_home), "--all", "--limit", "2")
    rows_audited = _audit(fraud_home, "fraud_score.list")
    assert len(rows_audited) == 2  # the table's two rows
    assert {r.subject_msisdn_pseudonym for r in rows_audited} <= {_pseudonym(fraud_home, n) for n in LINES}
    assert all("fairtel fraud score: 2 scored lines in clear" in r.reason for r in rows_audited)
