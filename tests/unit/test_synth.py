"""The synthetic operator: deterministic, contract-valid, and every injected case is both in the data and in
the ground truth."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter, defaultdict
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from fairtel.core.contracts import CONSENT_FIELDS, SUBSCRIBER_FIELDS, USAGE_FIELDS, USAGE_REQUIRED
from fairtel.core.time import parse_rfc3339
from fairtel.synth import SynthSummary, synthesize

SUBS, DAYS, SEED = 200, 14, 11


def _catalog(tmp: Path) -> Path | None:
    if resources.files("fairtel.catalog").joinpath("data/default.toml").is_file():
        return None
    p = tmp / "catalog.toml"
    p.write_text('[operator]\ncurrency = "CNY"\n', encoding="utf-8")
    return p


def _run(out: Path, *, workers: int = 1, seed: int = SEED) -> SynthSummary:
    return synthesize(out, subscribers=SUBS, days=DAYS, seed=seed, workers=workers, catalog=_catalog(out.parent),
                      chunk_subscribers=100)


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SynthSummary]:
    out = tmp_path_factory.mktemp("synth") / "op"
    return out, _run(out)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _truth(out: Path, kind: str) -> list[dict[str, Any]]:
    return _jsonl(out / "truth" / f"{kind}.jsonl")


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _malformed_at(out: Path) -> set[tuple[str, int]]:
    return {(m["file"], m["line"]) for m in _truth(out, "malformed") if m["reason"] != "encoding_gbk"}


def _usage_rows(out: Path) -> list[dict[str, Any]]:
    """Every well-formed usage record in canonical field names (Parquet, CSV, JSONL; not the switch layouts)."""
    bad = _malformed_at(out)
    rows: list[dict[str, Any]] = []
    for p in sorted((out / "usage").iterdir()):
        name = f"usage/{p.name}"
        if p.suffix == ".parquet":
            for r in pq.read_table(p).to_pylist():
                r["_file"] = name
                rows.append(r)
        elif p.suffix == ".jsonl":
            for i, line in enumerate(p.read_bytes().split(b"\n"), start=1):
                if line and (name, i) not in bad:
                    r = json.loads(line)
                    r["_file"] = name
                    rows.append(r)
        elif p.suffix == ".csv" and "Master" not in p.name and "gbk" not in p.name:
            lines = p.read_text(encoding="utf-8").split("\n")
            header = lines[0].split(",")
            for i, line in enumerate(lines[1:], start=2):
                if line and (name, i) not in bad:
                    r = {k: (v if v != "" else None) for k, v in zip(header, next(csv.reader([line])), strict=True)}
                    r["_file"] = name
                    rows.append(r)
    return rows


@pytest.fixture(scope="module")
def rows(op: tuple[Path, SynthSummary]) -> list[dict[str, Any]]:
    return _usage_rows(op[0])


def test_same_seed_gives_the_same_bytes_whatever_the_worker_count(tmp_path: Path) -> None:
    def run(name: str, *, workers: int, seed: int = SEED) -> SynthSummary:
        return synthesize(tmp_path / name, subscribers=120, days=9, seed=seed, workers=workers,
                          catalog=_catalog(tmp_path), chunk_subscribers=40)

    one, two = run("one", workers=1), run("two", workers=2)
    digest = _digest(tmp_path / "one")
    assert len(digest) > 20 and digest == _digest(tmp_path / "two")
    assert one.to_dict() | {"out_dir": "", "elapsed_s": 0} == two.to_dict() | {"out_dir": "", "elapsed_s": 0}
    run("one", workers=1)  # rewriting a previous output in place gives the same bytes again
    assert _digest(tmp_path / "one") == digest
    run("other", workers=1, seed=SEED + 1)
    other = _digest(tmp_path / "other")
    assert other["subscribers.csv"] != digest["subscribers.csv"]
    assert other["usage/c0000-w00.parquet"] != digest["usage/c0000-w00.parquet"]


def test_summary_counts_match_the_files(op: tuple[Path, SynthSummary]) -> None:
    out, s = op
    by_format: Counter[str] = Counter()
    for p in (out / "usage").iterdir():
        if p.suffix == ".parquet":
            by_format["parquet"] += pq.read_metadata(p).num_rows
        else:
            data = p.read_bytes()
            lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
            header = 1 if p.suffix == ".csv" and "Master" not in p.name else 0
            fmt = ("asterisk-csv" if "asterisk" in p.name else "freeswitch-csv" if "freeswitch" in p.name
                   else p.suffix[1:])
            by_format[fmt] += lines - header
    assert dict(by_format) == s.records_by_format
    assert sum(by_format.values()) == s.usage_records
    assert s.usage_files == len(list((out / "usage").iterdir()))
    assert s.consent_events == len(_jsonl(out / "consent" / "events.jsonl"))
    assert s.complaints == len(_jsonl(out / "complaints.jsonl"))
    for kind, n in s.truth.items():
        assert len(_truth(out, kind)) == n, kind
    assert s.duplicates == len(_truth(out, "duplicates"))
    assert s.malformed == len(_malformed_at(out))
    assert s.gbk_records == sum(1 for m in _truth(out, "malformed") if m["reason"] == "encoding_gbk")
    assert json.loads((out / "synth.json").read_text())["usage_records"] == s.usage_records
    # ~20 records per subscriber-day, so the benchmark's sizing holds.
    assert 12 < s.usage_records / (SUBS * DAYS) < 30


def test_canonical_rows_follow_the_usage_contract(rows: list[dict[str, Any]]) -> None:
    assert len(rows) > 50_000
    kinds = Counter(r["kind"] for r in rows)
    assert set(kinds) == {"voice", "sms", "data", "vas"}
    for r in rows:
        assert set(r) - {"_file"} <= set(USAGE_FIELDS)
        for f in USAGE_REQUIRED:
            assert r[f] not in (None, ""), (f, r)
        ts = r["started_at"]
        when = ts if isinstance(ts, datetime) else parse_rfc3339(ts)
        assert when.utcoffset() is not None
        assert len(r["msisdn"]) == 13 and r["msisdn"].startswith("86")
        if r["kind"] == "voice":
            assert r["direction"] in ("out", "in") and int(r["duration_s"]) >= 0 and r["peer"]
        elif r["kind"] == "sms":
            assert r["direction"] in ("out", "in") and r["peer"]
        elif r["kind"] == "data":
            assert int(r["bytes_up"]) >= 0 and int(r["bytes_down"]) >= 0
        else:
            assert r["offer_id"].startswith("vas-") and r["currency"] == "CNY"
            assert r["amount"].count(".") == 1 and len(r["amount"].split(".")[1]) == 2
    assert sum(1 for r in rows if r.get("roaming_country")) > 0
    # Heavy tails: the longest calls and sessions are far above the median.
    durs = sorted(int(r["duration_s"]) for r in rows if r["kind"] == "voice" and int(r["duration_s"]) > 0)
    assert durs[int(0.99 * len(durs))] > 8 * durs[len(durs) // 2]


def test_daily_and_weekly_shape(rows: list[dict[str, Any]]) -> None:
    hours: Counter[int] = Counter()
    for r in rows:
        if r["kind"] == "voice" and isinstance(r["started_at"], datetime):
            hours[r["started_at"].hour] += 1  # Parquet: aware, in the operator's zone
    assert hours[10] > 10 * hours[3]


def test_duplicates_are_exactly_the_ones_in_truth(op: tuple[Path, SynthSummary], rows: list[dict[str, Any]]) -> None:
    out, _ = op
    seen = Counter((r["source"], r["record_id"]) for r in rows)
    fs = Counter()
    for p in (out / "usage").glob("*freeswitch-Master.csv"):
        fs.update(("pbx-fs-01", line[10]) for line in csv.reader(io.StringIO(p.read_text())))
    repeated = {k for k, n in (seen + fs).items() if n > 1}
    truth = _truth(out, "duplicates")
    assert repeated == {(d["source"], d["record_id"]) for d in truth}
    assert any(d["files"][0] != d["files"][1] for d in truth)  # across files
    assert any(d["files"][0] == d["files"][1] for d in truth)  # within a file


def test_partial_sessions_match_truth(op: tuple[Path, SynthSummary], rows: list[dict[str, Any]]) -> None:
    out, _ = op
    parts: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r.get("session_id"):
            parts[r["session_id"]].append(r)
    truth = {t["session_id"]: t for t in _truth(out, "partial_sessions")}
    assert set(parts) == set(truth)
    for sid, t in truth.items():
        got = parts[sid]
        assert sorted(p["record_id"] for p in got) == sorted(t["record_ids"])
        assert any(str(p["final"]).lower() == "true" for p in got) == t["complete"]
        assert sum(int(p["bytes_down"]) for p in got) == t["bytes_down"]
        assert len({p["_file"] for p in got}) > 1 == t["across_files"] or not t["across_files"]
    assert any(not t["complete"] for t in truth.values())
    assert any(t["across_files"] for t in truth.values())
    assert any(t["out_of_order"] for t in truth.values())
    # out of order means seq 2 is written before seq 1 in the file
    for t in truth.values():
        if t["out_of_order"]:
            f = out / t["files"][0]
            ids = ([r["record_id"] for r in pq.read_table(f, columns=["record_id"]).to_pylist()]
                   if f.suffix == ".parquet" else [json.loads(x)["record_id"] for x in f.read_text().splitlines()
                                                    if x.startswith("{") and x.endswith("}")])
            assert ids.index(t["record_ids"][1]) < ids.index(t["record_ids"][0])
            break


def test_malformed_lines_are_where_truth_says(op: tuple[Path, SynthSummary]) -> None:
    out, _ = op
    truth = _truth(out, "malformed")
    reasons = Counter(m["reason"] for m in truth)
    assert {"bad_timestamp", "missing_field", "column_count", "bad_json", "truncated", "encoding_gbk"} <= set(reasons)
    for m in truth:
        raw = (out / m["file"]).read_bytes()
        line = raw.split(b"\n")[m["line"] - 1]
        if m["reason"] == "encoding_gbk":
            with pytest.raises(UnicodeDecodeError):
                line.decode("utf-8")
            assert m["record_id"] in line.decode("gbk")
            continue
        assert m["record_id"].encode() in line
        if m["reason"] == "truncated":
            assert not raw.endswith(b"\n") and raw.split(b"\n")[-1] == line
        elif m["file"].endswith(".jsonl"):
            if m["reason"] == "bad_json":
                with pytest.raises(json.JSONDecodeError):
                    json.loads(line)
            else:
                r = json.loads(line)
                assert "msisdn" not in r if m["reason"] == "missing_field" else not _is_rfc3339(r["started_at"])
        else:
            fields = line.decode().split(",")
            if m["reason"] == "column_count":
                assert len(fields) != len(USAGE_FIELDS)
            elif m["reason"] == "missing_field":
                assert fields[2] == ""
            else:
                assert not _is_rfc3339(fields[5])


def _is_rfc3339(text: str) -> bool:
    try:
        parse_rfc3339(text)
    except Exception:
        return False
    return True


def test_vas_charges_follow_the_consent_ledger(op: tuple[Path, SynthSummary], rows: list[dict[str, Any]]) -> None:
    """Replaying consent events labels every VAS charge exactly as the ground truth does."""
    out, _ = op
    events = _jsonl(out / "consent" / "events.jsonl")
    assert all(set(e) == set(CONSENT_FIELDS) for e in events)
    subs: dict[str, dict[str, Any]] = defaultdict(dict)
    for e in events:
        subs[e["subscription_id"]].setdefault("msisdn", e["msisdn"])
        subs[e["subscription_id"]]["offer_id"] = e["offer_id"]
        subs[e["subscription_id"]][e["event"]] = parse_rfc3339(e["at"])
    no_consent = {t["record_id"] for t in _truth(out, "vas_no_consent")}
    after = {t["record_id"] for t in _truth(out, "vas_after_cancellation")}
    assert no_consent and after
    vas = [r for r in rows if r["kind"] == "vas"]
    for r in vas:
        at = parse_rfc3339(r["started_at"])
        mine = [s for s in subs.values() if s["msisdn"] == r["msisdn"] and s["offer_id"] == r["offer_id"]]
        covered = any("confirmed" in s and s["confirmed"] <= at
                      and all(s.get(k) is None or at < s[k] for k in ("cancelled", "expired")) for s in mine)
        was_cancelled = any("cancelled" in s and s["cancelled"] <= at for s in mine)
        assert covered == (r["record_id"] not in no_consent | after), r
        if r["record_id"] in after:
            assert was_cancelled


def test_fee_stealing_merchants_look_like_it(op: tuple[Path, SynthSummary]) -> None:
    out, _ = op
    merchants = {m["merchant"]: m for m in _truth(out, "fee_stealing_merchants")}
    assert set(merchants) == {"sp-luckystar", "sp-pixelart"}
    events = _jsonl(out / "consent" / "events.jsonl")
    ordered = {e["subscription_id"]: parse_rfc3339(e["at"]) for e in events if e["event"] == "ordered"}
    for m in merchants.values():
        delays = [(parse_rfc3339(e["at"]) - ordered[e["subscription_id"]]).total_seconds() for e in events
                  if e["event"] == "confirmed" and e["subscription_id"] in set(m["subscription_ids"])]
        assert sum(d < 2 for d in delays) == m["machine_speed_confirmations"] > 0
        assert m["night_orders"] > 0 and m["charges"] > 0
    normal = [(parse_rfc3339(e["at"]) - ordered[e["subscription_id"]]).total_seconds() for e in events
              if e["event"] == "confirmed" and e["offer_id"] in ("vas-music-10", "vas-video-15", "vas-cloud-8")]
    assert normal and min(normal) >= 2


def test_fraud_cases_are_in_the_data(op: tuple[Path, SynthSummary], rows: list[dict[str, Any]]) -> None:
    out, _ = op
    by_id = {(r["source"], r["record_id"]): r for r in rows}
    simbox = _truth(out, "simbox")
    assert len(simbox) >= 4 and len({s["imei"] for s in simbox}) == 1
    for s in simbox:
        mine = [r for r in rows if r["msisdn"] == s["msisdn"]]
        out_calls = [r for r in mine if r["kind"] == "voice" and r["direction"] == "out"]
        assert len(out_calls) > 20 * max(1, sum(r["kind"] == "data" for r in mine))
        assert {r["cell_id"] for r in out_calls} == {s["cell_id"]}
    wangiri = _truth(out, "wangiri")
    callers = [w for w in wangiri if w["role"] == "caller"]
    assert callers and any(w["role"] == "callback" for w in wangiri)
    for w in callers:
        hits = [r for r in rows if r["record_id"] in set(w["record_ids"])]
        assert len(hits) == w["calls"] >= len(w["msisdns"])
        assert all(r["direction"] == "in" and int(r["duration_s"]) <= 3 and r["peer"] == w["peer"] for r in hits)
    premium = ("881", "882", "883", "979", "2393", "2392", "2313", "3712", "5392", "6753")
    irsf = _truth(out, "irsf")
    assert {i["trigger"] for i in irsf} == {"new_line", "roaming"}
    for i in irsf:
        calls = [by_id[("msc-01", x)] if ("msc-01", x) in by_id else by_id[("msc-02", x)] for x in i["record_ids"]]
        assert all(r["peer"].startswith(premium) and int(r["duration_s"]) >= 120 for r in calls)
    assert not any(r.get("peer") and r["peer"].startswith(premium) and r["kind"] == "sms" for r in rows)
    shock = {b["msisdn"] for b in _truth(out, "bill_shock")}
    trips = _truth(out, "roaming_trips")
    heavy = [t["roaming_bytes"] / t["days"] for t in trips if t["bill_shock"]]
    light = [t["roaming_bytes"] / t["days"] for t in trips if not t["bill_shock"]]
    assert shock == {t["msisdn"] for t in trips if t["bill_shock"]}
    assert min(heavy) > 5 * sorted(light)[len(light) // 2]


def test_churners_decline_and_complain(op: tuple[Path, SynthSummary], rows: list[dict[str, Any]]) -> None:
    out, _ = op
    churners = {c["msisdn"]: c for c in _truth(out, "churners")}
    assert churners
    first: Counter[str] = Counter()
    last: Counter[str] = Counter()
    for r in rows:
        if r["msisdn"] in churners and r["kind"] != "vas":
            day = (r["started_at"] if isinstance(r["started_at"], datetime) else parse_rfc3339(r["started_at"])).day
            if day <= 4:
                first[r["msisdn"]] += 1
            elif day > DAYS - 4:
                last[r["msisdn"]] += 1
    assert sum(last.values()) < 0.6 * sum(first.values())
    complaints = _jsonl(out / "complaints.jsonl")
    assert all({"msisdn", "at", "category", "channel", "text"} <= set(c) for c in complaints)
    per = Counter(c["msisdn"] for c in complaints)
    assert all(per[m] == c["complaints"] for m, c in churners.items())
    assert any(per[m] for m in churners)
    assert {c["language"] for c in complaints} <= {"zh", "en"}


def test_subscribers_file(op: tuple[Path, SynthSummary]) -> None:
    out, _ = op
    with (out / "subscribers.csv").open(encoding="utf-8") as fh:
        subs = list(csv.DictReader(fh))
    assert list(subs[0]) == [*SUBSCRIBER_FIELDS, "closed_at"]
    # a closed line carries its closing date (without one, the bill run holds all its usage); no other line has one
    assert any(s["status"] == "closed" for s in subs)
    assert all(bool(s["closed_at"]) == (s["status"] == "closed") for s in subs)
    assert all(s["closed_at"] > s["activated_at"] for s in subs if s["closed_at"])
    assert len(subs) == SUBS and len({s["msisdn"] for s in subs}) == SUBS
    assert {s["plan_id"] for s in subs} == {"basic-39", "unlimited-129", "payg", "senior-19"}
    zh = sum(s["language"] == "zh" for s in subs) / SUBS
    assert 0.75 < zh < 0.95
    start = parse_rfc3339("2026-09-01T00:00:00+08:00")
    assert any(parse_rfc3339(s["activated_at"]) > start for s in subs)  # new lines in the window
    assert {s["status"] for s in subs} <= {"active", "suspended", "closed"}


def test_no_usage_before_a_line_is_activated(op: tuple[Path, SynthSummary], rows: list[dict[str, Any]]) -> None:
    out, _ = op
    with (out / "subscribers.csv").open(encoding="utf-8") as fh:
        activated = {s["msisdn"]: parse_rfc3339(s["activated_at"]) for s in csv.DictReader(fh)}
    start = parse_rfc3339("2026-09-01T00:00:00+08:00")
    new_lines = {m for m, t in activated.items() if t > start}
    mine = [r for r in rows if r["msisdn"] in new_lines]
    assert mine, "lines activated in the window have usage"
    early = [r for r in mine if _instant(r["started_at"]) < activated[r["msisdn"]]]
    assert early == []


def _instant(value: Any) -> datetime:
    return value if isinstance(value, datetime) else parse_rfc3339(str(value))


def test_cli_synth_json(tmp_path: Path) -> None:
    from fairtel.cli import app

    if _catalog(tmp_path) is not None:
        pytest.skip("default catalog not present")
    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "o"), "--subscribers", "50", "--days", "2",
                                      "--seed", "5", "--workers", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["subscribers"] == 50 and data["usage_records"] > 0
    assert (tmp_path / "o" / "catalog.toml").read_bytes() == (
        resources.files("fairtel.catalog").joinpath("data/default.toml").read_bytes())
    refused = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "o" / "catalog.toml"), "--json"])
    assert refused.exit_code == 2
