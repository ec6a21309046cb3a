"""Charge assurance against the synthesiser's ground truth: precision and recall per finding type, the
fee-stealing merchants' ranks, the unexplained-charge rate with and without the consent gate, and the time
of `fairtel assure` over a lake of many usage records.

    python bench/eval_assurance.py                          # 1 M subscribers' month (value-added part)
    python bench/eval_assurance.py --subscribers 100000 --full   # a whole operator directory via `fairtel synth`
    python bench/eval_assurance.py --lake-records 50000000  # also time `fairtel assure` over 50 M records
    python bench/eval_assurance.py --bill-shock --subscribers 5000   # bill-shock alerts against truth/bill_shock.jsonl

The truth comes from the synthesiser's own rules, which are the rules the detectors check (a charge without a
valid confirmation, a charge after the subscription ended, a confirmation under 2 s): these figures check that
the detectors and the synthesiser agree, and say nothing of how they fare on an operator's real traffic.

The default builds only what the detectors read (consent events, value-added charges, complaints-free truth)
with the synthesiser's own generators and seed, so that a million subscribers fit on a small machine; the
voice and data records it skips are not read by these detectors. ``--full`` runs the whole synthesiser.
Re-sent charges (same content, new record id) are not produced by the synthesiser; this script adds them
(``--resent``, a share of consented charges) and labels them, so duplicate detection is measured too.

``--bill-shock`` is a separate evaluation: the whole synthesiser, then `fairtel load` and `fairtel rate`
(their Python functions) into a fresh home, then the bill-shock detector over the rated lines as `fairtel
assure --bill-shock` reads them. The synthesiser marks the travellers whose roaming data use is heavy
(truth/bill_shock.jsonl); an alert for a subscriber in it is a true positive. It prints precision and
recall per preset and threshold, and for a sweep of roaming-data caps in the operator's currency.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]


def _vas_only(out: Path, subscribers: int, days: int, seed: int) -> dict[str, int]:
    """The synthesiser's consent ledger, charges and truth, without the voice and data usage."""
    from zoneinfo import ZoneInfo

    from fairtel.synth import _params as P
    from fairtel.synth._population import Window, build_population
    from fairtel.synth._run import default_catalog_text
    from fairtel.synth._vas import build_vas, charge_row, dumps, vas_truth

    window = Window.of(P.DEFAULT_START, days)
    s_pop, s_vas, *_ = np.random.SeedSequence(seed).spawn(5)
    pop = build_population(np.random.default_rng(s_pop), subscribers, window)
    vas = build_vas(np.random.default_rng(s_vas), pop, window)
    for d in ("consent", "usage", "truth"):
        (out / d).mkdir(parents=True, exist_ok=True)
    (out / "catalog.toml").write_bytes(default_catalog_text())
    (out / "consent" / "events.jsonl").write_text("".join(dumps(e) + "\n" for e in vas.events), encoding="utf-8")
    zi = ZoneInfo(window.tz)
    (out / "usage" / f"{P.SOURCE_VAS}.jsonl").write_text("".join(dumps(charge_row(c, pop, zi)) + "\n" for c in vas.charges), encoding="utf-8")
    for kind, rows in vas_truth(vas, pop, window).items():
        (out / "truth" / f"{kind}.jsonl").write_text("".join(dumps(r) + "\n" for r in rows), encoding="utf-8")
    return {"consent_events": len(vas.events), "charges": len(vas.charges), "subscriptions": len(vas.subscriptions)}


def _full(out: Path, subscribers: int, days: int, seed: int) -> dict[str, int]:
    from fairtel.synth import synthesize

    s = synthesize(out, subscribers=subscribers, days=days, seed=seed)
    return {"usage_records": s.usage_records, "consent_events": s.consent_events, "subscriptions": s.subscriptions}


def _add_resent(out: Path, share: float, seed: int) -> set[str]:
    """Copies of consented charges with new record ids, as a provider re-sending a claim would make."""
    if share <= 0:
        return set()
    truth_bad = set()
    for name in ("vas_no_consent", "vas_after_cancellation"):
        p = out / "truth" / f"{name}.jsonl"
        if p.exists() and p.stat().st_size:
            truth_bad |= set(pl.read_ndjson(p)["record_id"].to_list())
    files = sorted((out / "usage").glob("spgw-01*.jsonl"))
    rows = []
    for f in files:
        for line in f.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    good = [r for r in rows if r.get("kind") == "vas" and r["record_id"] not in truth_bad]
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(good), size=max(1, int(len(good) * share)), replace=False) if good else []
    copies = []
    for i in picks:
        c = dict(good[int(i)])
        c["record_id"] = f"{c['record_id']}-resent"
        copies.append(c)
    (out / "usage" / "spgw-01-resent.jsonl").write_text("".join(json.dumps(c) + "\n" for c in copies), encoding="utf-8")
    return {c["record_id"] for c in copies}


def _pr(found: set[str], truth: set[str]) -> tuple[float, float, int, int, int]:
    tp = len(found & truth)
    precision = tp / len(found) if found else 1.0
    recall = tp / len(truth) if truth else 1.0
    return precision, recall, tp, len(found) - tp, len(truth) - tp


def _lake(home: Path, ops: Path, records: int, seed: int) -> int:
    """A home whose lake holds ``records`` clean usage rows: the operator's value-added charges plus
    generated voice and data rows around them (period 2026-09)."""
    from fairtel.cli._assure import _from_operator_dir
    from fairtel.consent import ConsentPolicy
    from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
    from fairtel.store import Lake

    inputs = _from_operator_dir(ops, catalog=None, policy=ConsentPolicy())
    vas = inputs.usage
    (home / "consent").mkdir(parents=True, exist_ok=True)
    shutil.copy(ops / "consent" / "events.jsonl", home / "consent" / "events.jsonl")
    shutil.copy(ops / "catalog.toml", home / "catalog.toml")
    lake = Lake(home / "lake")
    rng = np.random.default_rng(seed)
    msisdns = vas["msisdn"].unique().to_numpy()
    start_us = 1_788_192_000_000_000  # 2026-09-01T00:00:00Z
    month_us = 29 * 86_400 * 1_000_000
    chunk = 5_000_000
    left = records - vas.height
    part = 0
    names = CLEAN_USAGE_SCHEMA.names
    while left > 0:
        n = min(chunk, left)
        kinds = np.where(rng.random(n) < 0.6, "data", "voice")
        frame = pl.DataFrame({
            "record_id": pl.Series([f"g{part:03d}"] * n) + pl.int_range(n, eager=True).cast(pl.String),
            "source": ["msc-01"] * n,
            "msisdn": rng.choice(msisdns, n),
            "kind": kinds,
            "started_at": pl.Series(start_us + rng.integers(0, month_us, n)).cast(pl.Datetime("us", "UTC")),
            "duration_s": rng.integers(0, 600, n),
        })
        frame = frame.with_columns(pl.lit(None).alias(c) for c in names if c not in frame.columns).select(names)
        lake.write("usage", "2026-09", frame.to_arrow(), part=f"gen-{part:03d}")
        left -= n
        part += 1
    v = vas.with_columns(pl.lit(None).alias(c) for c in names if c not in vas.columns).select(names)
    lake.write("usage", "2026-09", v.to_arrow(), part="vas")
    return part


def _bill_shock(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime
    from decimal import Decimal

    from fairtel.assurance import DOMESTIC, EU_DATA_ROAMING, BillShockPolicy, bill_shock_findings
    from fairtel.bootstrap import bootstrap
    from fairtel.cli._assure import _from_home
    from fairtel.cli._home import home_catalog
    from fairtel.cli._load import load_directory
    from fairtel.cli._rating import rate_period
    from fairtel.core.money import Money
    from fairtel.core.settings import load_settings
    from fairtel.core.time import Period

    ops = args.work / f"bs-op-{args.subscribers}-{args.days}-{args.seed}"
    home = args.work / f"bs-home-{args.subscribers}-{args.days}-{args.seed}"
    for d in (ops, home):
        shutil.rmtree(d, ignore_errors=True)
    t0 = time.perf_counter()
    made = _full(ops, args.subscribers, args.days, args.seed)
    print(f"synthesised {args.subscribers:,} subscribers x {args.days} days in {time.perf_counter() - t0:.1f} s: {made}")
    app = bootstrap(load_settings(home=home))
    t0 = time.perf_counter()
    summary = load_directory(app, ops)
    print(f"loaded in {time.perf_counter() - t0:.1f} s: {summary.subscribers.accepted if summary.subscribers else 0:,} subscribers, "
          f"{len(summary.usage.get('files', []))} usage file(s) ingested ({summary.usage.get('status')})")
    catalog = home_catalog(app, None, [])
    t0 = time.perf_counter()
    for key in app.lake.periods("usage"):
        totals = rate_period(app, Period.parse(key, catalog.operator.timezone), catalog=catalog)
        print(f"rated {key}: {totals['records']:,} records -> {totals['lines']:,} lines, {totals['unrated']:,} unrated")
    print(f"rating took {time.perf_counter() - t0:.1f} s")
    rated = _from_home(home, app.settings.lake_dir, catalog=None, fapp=app).rated
    if rated is None:
        print("no rated lines with the columns bill shock needs")
        return 1
    roaming = rated.filter(pl.col("roaming_country").is_not_null() & (pl.col("kind") == "data"))
    print(f"{rated.height:,} rated lines, {roaming.height:,} of roaming data on {roaming['msisdn'].n_unique():,} subscribers, "
          f"charged {Money.from_minor(int(roaming['amount_minor'].sum() or 0), catalog.operator.currency)}")

    truth_path = ops / "truth" / "bill_shock.jsonl"
    truth = set(pl.read_ndjson(truth_path)["msisdn"].to_list()) if truth_path.stat().st_size else set()
    trips = ops / "truth" / "roaming_trips.jsonl"
    travellers = set(pl.read_ndjson(trips)["msisdn"].to_list()) if trips.exists() and trips.stat().st_size else set()
    print(f"truth: {len(truth):,} heavy roaming-data users among {len(travellers):,} travellers")

    capped = set(pl.scan_parquet(app.lake.files("rated")).filter(
        pl.col("roaming_country").is_not_null() & (pl.col("kind") == "data") & pl.col("capped").fill_null(False)
    ).select("msisdn").unique().collect()["msisdn"].to_list())
    spend = roaming.group_by("msisdn").agg(pl.col("amount_minor").sum()).with_columns(pl.col("msisdn").is_in(list(capped)).alias("capped"))
    for label, part in (("heavy users (truth)", spend.filter(pl.col("msisdn").is_in(list(truth)))),
                        ("other roaming users", spend.filter(~pl.col("msisdn").is_in(list(truth))))):
        if part.height:
            q = [Money.from_minor(int(part["amount_minor"].quantile(x, "nearest") or 0), catalog.operator.currency) for x in (0.1, 0.5, 0.9)]
            print(f"  roaming data spend of {label:<20} p10 {q[0]}  median {q[1]}  p90 {q[2]}  "
                  f"(a daily cap reached by {part['capped'].sum():,} of {part.height:,})")

    cur = catalog.operator.currency
    eur = Decimal(args.eur_per_cny)
    fractions = (Decimal("0.5"), Decimal("0.8"), Decimal("1"))
    policies = [
        BillShockPolicy(EU_DATA_ROAMING.name, EU_DATA_ROAMING.cap, fractions, EU_DATA_ROAMING.kinds, True, True, rates={cur: eur}),
        BillShockPolicy(DOMESTIC.name, DOMESTIC.cap, fractions, DOMESTIC.kinds, False, False),
    ]
    policies += [
        BillShockPolicy(f"roaming_data_{cap}_{cur}", Money.of(str(cap), cur), fractions, frozenset({"data"}), True, False)
        for cap in args.caps
    ]
    now = datetime.now(UTC)
    print(f"\nbill-shock alerts per subscriber against truth (EUR 1 = {1 / eur:.2f} {cur})")
    print(f"  {'policy':<28} {'cap':>12} {'at':>5} {'alerts':>7} {'precision':>10} {'recall':>8} {'tp':>6} {'fp':>6} {'fn':>6}   seconds")
    for policy in policies:
        t0 = time.perf_counter()
        found = [f for f in bill_shock_findings(rated, policy, detected_at=now, tz=catalog.operator.timezone) if f.kind.value == "bill_shock"]
        took = time.perf_counter() - t0
        for fraction in fractions:
            pct = int(fraction * 100)
            alerted = {f.msisdn for f in found if f.evidence.get("threshold_pct") == pct and f.msisdn}
            p, r, tp, fp, fn = _pr(alerted, truth)
            print(f"  {policy.name:<28} {policy.cap!s:>12} {pct:>4}% {len(alerted):>7,} {p:>10.2%} {r:>8.2%} {tp:>6,} {fp:>6,} {fn:>6,}   {took:.2f}")
    app.close()
    return 0


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--full", action="store_true", help="run the whole synthesiser (all usage)")
    ap.add_argument("--resent", type=float, default=0.002, help="share of consented charges re-sent with new ids")
    ap.add_argument("--lake-records", type=int, default=0, help="also time `fairtel assure` over a lake this big")
    ap.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "fairtel-eval-assurance")
    ap.add_argument("--bill-shock", action="store_true", help="evaluate bill-shock alerts after load and rate (whole synthesiser)")
    ap.add_argument("--eur-per-cny", default="0.13", help="exchange rate for the EU preset's EUR cap")
    ap.add_argument("--caps", type=int, nargs="*", default=[100, 200, 300, 500], help="roaming-data caps to sweep, operator currency")
    args = ap.parse_args(argv)
    if args.bill_shock:
        return _bill_shock(args)

    ops = args.work / f"op-{args.subscribers}-{args.days}-{args.seed}{'-full' if args.full else ''}"
    if ops.exists():
        shutil.rmtree(ops)
    t0 = time.perf_counter()
    made = (_full if args.full else _vas_only)(ops, args.subscribers, args.days, args.seed)
    print(f"synthesised {args.subscribers:,} subscribers x {args.days} days in {time.perf_counter() - t0:.1f} s: {made}")
    resent = _add_resent(ops, args.resent, args.seed)
    print(f"added {len(resent):,} re-sent charges (new record ids, same content)")

    home = args.work / "home"
    shutil.rmtree(home, ignore_errors=True)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "fairtel"), "assure", "--home", str(home), "--operator-dir", str(ops), "--json", "--no-write"],
        capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stdout[-2000:], proc.stderr[-2000:])
        return 1
    out = json.loads(proc.stdout)
    print(f"`fairtel assure --operator-dir` took {elapsed:.1f} s: {out['charges']['gated']:,} charges gated, "
          f"{len(out['findings']):,} findings, verdicts {out['charges']['verdicts']}")

    def truth_ids(name: str, **where: str) -> set[str]:
        p = ops / "truth" / f"{name}.jsonl"
        if not p.exists() or p.stat().st_size == 0:
            return set()
        t = pl.read_ndjson(p)
        for k, v in where.items():
            t = t.filter(pl.col(k) == v)
        return set(t["record_id"].to_list())

    def found_ids(kind: str) -> set[str]:
        return {r for f in out["findings"] if f["kind"] == kind for r in f["record_ids"]}

    print("\nper finding type (record level)   precision   recall      tp      fp      fn")
    rows = [
        ("unconsented_charge", truth_ids("vas_no_consent")),
        ("charge_after_cancellation", truth_ids("vas_after_cancellation")),
        ("duplicate_charge", resent),
    ]
    for kind, truth in rows:
        p, r, tp, fp, fn = _pr(found_ids(kind), truth)
        print(f"  {kind:<30} {p:>10.4%} {r:>9.4%} {tp:>7,} {fp:>7,} {fn:>7,}")
    for kind in ("price_mismatch", "unknown_offer_charge", "replayed_evidence"):
        n = sum(1 for f in out["findings"] if f["kind"] == kind)
        print(f"  {kind:<30} {n:>7,} findings (no labelled truth)")
    stealers = pl.read_ndjson(ops / "truth" / "fee_stealing_merchants.jsonl")
    fast_truth = int(stealers["machine_speed_confirmations"].sum())
    # The truth counts them per merchant, over its subscriptions: match the findings subscription by subscription.
    fast_found = {f["subscription_id"] for f in out["findings"] if f["kind"] == "machine_speed_confirmation"}
    print(f"  machine_speed_confirmation {len(fast_found):>11,} findings; in truth (< 2 s): {fast_truth:,}")
    stealer_subs: set[str] = set()
    for m in stealers.iter_rows(named=True):
        subs = set(m["subscription_ids"])
        stealer_subs |= subs
        print(f"    {m['merchant']:<14} found on its subscriptions {len(fast_found & subs):>6,}   in truth "
              f"{m['machine_speed_confirmations']:>6,}")
    print(f"    on subscriptions of no injected fee-stealer: {len(fast_found - stealer_subs):,}")

    print("\nmerchant ranking (most suspicious first)")
    for m in out["merchants"]:
        mark = "  <- injected fee-stealer" if m["provider_id"] in set(stealers["merchant"].to_list()) else ""
        print(f"  {m['rank']:>2} {m['provider_id']:<14} score {m['score']:.3f}  machine {m['machine_speed_share']:.1%}  night "
              f"{m['night_order_share']:.1%}  quick-cancel {m['quick_cancel_share']:.1%}  complaints {m['complaint_rate']:.1%}  "
              f"unconsented {m['unconsented_share']:.1%}{mark}")
    print(f"  suspension advised: {out['suspension_advice']}")

    # Unexplained charges per million subscribers: all claims billed (no gate) vs billed through the gate.
    bad = truth_ids("vas_no_consent") | truth_ids("vas_after_cancellation") | resent
    charges = []
    for f in sorted((ops / "usage").glob("spgw-01*.jsonl")):
        charges.append(pl.read_ndjson(f, schema={"record_id": pl.String, "msisdn": pl.String}, ignore_errors=True))
    allc = pl.concat(charges).drop_nulls()
    bad_rows = allc.filter(pl.col("record_id").is_in(list(bad)))
    refused = {r for f in out["findings"] for r in f["record_ids"] if f["kind"] in (
        "unconsented_charge", "charge_after_cancellation", "duplicate_charge", "price_mismatch", "unknown_offer_charge")}
    still_billed = bad_rows.filter(~pl.col("record_id").is_in(list(refused)))
    per_m = 1_000_000 / args.subscribers
    print("\nunexplained charges per million subscribers (one month)")
    print(f"  without the gate: {bad_rows.height * per_m:,.0f} charges on {bad_rows['msisdn'].n_unique() * per_m:,.0f} subscribers")
    print(f"  with the gate:    {still_billed.height * per_m:,.0f} charges on {still_billed['msisdn'].n_unique() * per_m:,.0f} subscribers")
    wrongly = len(refused - bad)
    print(f"  consented charges refused by mistake: {wrongly:,}")

    if args.lake_records:
        lake_home = args.work / "lake-home"
        shutil.rmtree(lake_home, ignore_errors=True)
        t0 = time.perf_counter()
        _lake(lake_home, ops, args.lake_records, args.seed)
        print(f"\nwrote a lake of {args.lake_records:,} usage records in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "fairtel"), "assure", "--home", str(lake_home), "--json"],
            capture_output=True, text=True, check=False,
        )
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            print(proc.stdout[-2000:], proc.stderr[-2000:])
            return 1
        lo = json.loads(proc.stdout)
        print(f"`fairtel assure --home` over {args.lake_records:,} records: {elapsed:.1f} s "
              f"({lo['charges']['gated']:,} charges gated, {len(lo['findings']):,} findings written)")
        # Reference in the same run: DuckDB counting the value-added rows of the same files.
        import duckdb

        t0 = time.perf_counter()
        n = duckdb.sql(f"select count(*) from read_parquet('{lake_home}/lake/usage/*/*.parquet') where kind = 'vas'").fetchall()[0]
        print(f"  reference: DuckDB selecting the {n[0] if n else 0:,} VAS rows of the same lake: {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
