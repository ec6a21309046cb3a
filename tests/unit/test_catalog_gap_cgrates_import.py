"""`import-cgrates` as an operator meets it: an incoming call is not priced as if the subscriber had made it
(CGRateS rates the account it charges, the caller's), a CSV line with a column too many is a problem with its
file and line (not a traceback), and the import's own advice for a category it cannot map (`--category
mms=sms`) gives a catalog that validates."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fairtel.catalog import Catalog, import_cgrates, parse_catalog, plan_for_subject, validate_catalog
from fairtel.cli import app
from fairtel.core.errors import InvalidInputError
from fairtel.rating import quote

NOW = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def tutorial_dir(shared_dir: Path, tmp_path: Path) -> Path:
    plan = tmp_path / "tp"
    shutil.copytree(shared_dir / "samples" / "cdr" / "cgrates_tutorial_tp", plan)
    return plan


def _catalog(directory: Path, **kwargs: object) -> Catalog:
    result = import_cgrates(directory, now=NOW, **kwargs)  # type: ignore[arg-type]
    catalog, problems = parse_catalog(result.text)
    assert catalog is not None and not problems, problems
    return catalog


def _call(msisdn: str, direction: str, peer: str, seconds: int, kind: str = "voice") -> dict[str, object]:
    rec: dict[str, object] = {"record_id": f"{msisdn}-{direction}-{peer}", "msisdn": msisdn, "kind": kind,
                              "direction": direction, "peer": peer, "started_at": NOW.isoformat()}
    if kind == "voice":
        rec["duration_s"] = seconds
    return rec


# ---- incoming usage

def test_an_incoming_call_costs_the_called_subscriber_nothing(tutorial_dir: Path) -> None:
    """1002 calls 1001 for 1m20s: CGRateS charges 1002 (RP_1002 → DR_1001_20CNT, 0.6334, as its least-cost
    route test says); 1001's incoming leg costs 1001 nothing. It was priced 0.6334 under RP_1001/DR_1002_20CNT,
    1001's own outgoing rate to 1002."""
    c = _catalog(tutorial_dir)
    incoming, outgoing, callers_leg = quote(
        [_call("1001", "in", "1002", 80), _call("1001", "out", "1002", 80), _call("1002", "out", "1001", 80)], c)
    assert (incoming["amount"], incoming["rule"]) == ("0.0000", "RP_1001/incoming"), incoming
    assert (outgoing["amount"], outgoing["rule"]) == ("0.6334", "RP_1001/DR_1002_20CNT")
    assert (callers_leg["amount"], callers_leg["rule"]) == ("0.6334", "RP_1002/DR_1001_20CNT")
    # the rule says what it is, in both languages
    rule = c.plan("RP_1001").rule_for("voice", "in")
    assert rule is not None and rule.free and rule.name is not None and rule.name.en == "Incoming call: not charged"


def test_an_incoming_sms_is_free_and_an_outgoing_one_is_priced(tutorial_dir: Path) -> None:
    c = _catalog(tutorial_dir)
    received, sent = quote([_call("1001", "in", "1002", 0, "sms"), _call("1001", "out", "1002", 0, "sms")], c)
    assert (received["amount"], received["rule"]) == ("0.0000", "RP_SMS/incoming")
    assert (sent["amount"], sent["rule"]) == ("0.0100", "RP_SMS/DR_SMS")


def test_the_catalog_says_why_incoming_usage_is_free(tutorial_dir: Path) -> None:
    text = import_cgrates(tutorial_dir, now=NOW).text
    header = text.split("\nversion = ", 1)[0]
    assert "Incoming calls and SMS are free" in header and "called party is not charged" in header


def test_an_old_plans_incoming_direction_profile_is_not_taken_for_an_outgoing_one(tutorial_dir: Path) -> None:
    """Plans before CGRateS dropped the Direction column start each profile with *out (or, never rated, *in). An
    *in profile was read as an outgoing one: 1003 would have been priced by it."""
    profiles = tutorial_dir / "RatingProfiles.csv"
    profiles.write_text("#Direction,Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n"
                        "*out,cgrates.org,call,1001,2014-01-14T00:00:00Z,RP_1001,\n"
                        "*in,cgrates.org,call,1003,2014-01-14T00:00:00Z,RP_1002,\n", encoding="utf-8")
    result = import_cgrates(tutorial_dir, now=NOW)
    notes = [(n.line, n.field, n.code) for n in result.notes if n.code == "unsupported_direction"]
    assert notes == [(3, "Direction", "unsupported_direction")]
    c, problems = parse_catalog(result.text)
    assert c is not None and not problems
    assert plan_for_subject(c, "1001", kind="voice", at=NOW) == "RP_1001"
    assert all(s.subject != "1003" for s in c.subjects)


# ---- a line with a column too many

@pytest.mark.parametrize(("file", "old", "new", "line"), [
    ("Rates.csv", "RT_SMS,0,0.01,1,1,0\n", "RT_SMS,0,0.01,1,1,0,\n", 10),
    ("Destinations.csv", "DST_1003,1003", "DST_1003,1003,x", 5),  # the file's last line, with no line end
    ("RatingPlans.csv", "RP_SMS,DR_SMS,*any,0\n", "RP_SMS,DR_SMS,*any,0,\n", 7),
    ("DestinationRates.csv", "DR_SMS,*any,RT_SMS,*up,4,0,\n", "DR_SMS,*any,RT_SMS,*up,4,0,,\n", 6),
    ("RatingProfiles.csv", "cgrates.org,sms,*any,2014-01-14T00:00:00Z,RP_SMS,\n",
     "*out,cgrates.org,sms,*any,2014-01-14T00:00:00Z,RP_SMS,,q1,\n", 6),
])
def test_a_column_too_many_is_a_problem_with_file_and_line(tutorial_dir: Path, file: str, old: str, new: str,
                                                          line: int) -> None:
    path = tutorial_dir / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")  # was: ValueError: too many values to unpack
    with pytest.raises(InvalidInputError) as info:
        import_cgrates(tutorial_dir, now=NOW)
    first = info.value.problems[0]
    assert (Path(first.file).name, first.line, first.code) == (file, line, "wrong_type")
    assert first.field is not None and first.field.startswith("column ")


def test_the_command_lists_the_problem_once_and_exits_2(tutorial_dir: Path, tmp_path: Path) -> None:
    rates = tutorial_dir / "Rates.csv"
    rates.write_text(rates.read_text(encoding="utf-8").replace("RT_SMS,0,0.01,1,1,0\n", "RT_SMS,0,0.01,1,1,0,\n"),
                     encoding="utf-8")
    result = runner.invoke(app, ["catalog", "import-cgrates", str(tutorial_dir), "--out", str(tmp_path / "c.toml")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, ValueError)
    assert result.stdout.count("Rates.csv:10: column 7:") == 1 and "(a trailing comma?)" in result.stdout
    assert "Rates.csv:10" not in result.stderr  # the list is printed once, the summary says how many
    as_json = runner.invoke(app, ["catalog", "import-cgrates", str(tutorial_dir), "--out", str(tmp_path / "c.toml"),
                                  "--json"])
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["error"]["code"] == "input_invalid"


def test_older_profiles_with_a_direction_and_a_stat_queue_column_are_still_read(tutorial_dir: Path) -> None:
    profiles = tutorial_dir / "RatingProfiles.csv"
    profiles.write_text("#Direction,Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject,"
                        "CdrStatQueueIds\n*out,cgrates.org,call,1001,2014-01-14T00:00:00Z,RP_1001,,\n",
                        encoding="utf-8")
    c = _catalog(tutorial_dir)
    assert plan_for_subject(c, "1001", kind="voice", at=NOW) == "RP_1001"


# ---- the advice for a category with no usage kind

def test_the_advice_for_mms_gives_a_valid_catalog(tutorial_dir: Path, tmp_path: Path) -> None:
    """The note says to map mms with --category; mms=sms gave '*any' two sms entries at the same time
    (duplicate_id, exit 2). A record has a kind, not a category: the sms profiles keep pricing SMS, and the
    mms one is skipped with a note saying so."""
    plain = import_cgrates(tutorial_dir, now=NOW)
    advice = next(n for n in plain.notes if n.code == "unsupported_category")
    assert "--category mms=" in advice.message
    out = tmp_path / "c.toml"
    result = runner.invoke(app, ["catalog", "import-cgrates", str(tutorial_dir), "--out", str(out),
                                 "--category", "mms=sms", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["valid"] is True and data["problems"] == []
    assert validate_catalog(out) == []
    overlap = [(Path(n["file"]).name, n["line"], n["field"]) for n in data["notes"] if n["code"] == "category_overlap"]
    assert overlap == [("RatingProfiles.csv", 7, "Category")]
    c, _ = parse_catalog(out.read_text(encoding="utf-8"))
    assert c is not None
    assert plan_for_subject(c, "1001", kind="sms", at=NOW) == "RP_SMS"
    (sms,) = quote([_call("1001", "out", "1002", 0, "sms")], c)
    assert (sms["amount"], sms["rule"]) == ("0.0100", "RP_SMS/DR_SMS")


def test_a_mapped_category_prices_a_subject_its_kinds_own_category_does_not(tutorial_dir: Path) -> None:
    """Only where both categories rate the same subject does the kind's own category win: a subject with an mms
    profile alone is priced by it."""
    profiles = tutorial_dir / "RatingProfiles.csv"
    profiles.write_text(profiles.read_text(encoding="utf-8").rstrip("\n")
                        + "\ncgrates.org,mms,1003,2014-01-14T00:00:00Z,RP_MMS,\n", encoding="utf-8")
    result = import_cgrates(tutorial_dir, now=NOW, categories={"mms": "sms"})
    c, problems = parse_catalog(result.text)
    assert c is not None and not problems, problems
    assert plan_for_subject(c, "1003", kind="sms", at=NOW).startswith("RP_MMS")
    assert plan_for_subject(c, "1001", kind="sms", at=NOW) == "RP_SMS"
    assert [n.line for n in result.notes if n.code == "category_overlap"] == [7]
    assert Decimal(quote([_call("1003", "out", "1002", 0, "sms")], c)[0]["amount"]) == Decimal("0.01")
