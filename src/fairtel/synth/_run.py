"""``synthesize``: write a whole operator directory, deterministically for a seed.

The random streams come from one ``SeedSequence``: one child for the subscriber base, one for VAS and
consent, one for complaints, one for the legacy file, and one per chunk of subscribers. Chunks are written
by worker processes into their own files, so the bytes never depend on how many workers ran or in which
order they finished.
"""

from __future__ import annotations

import io
import itertools
import math
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from fairtel.core.errors import ConflictError, FairtelError, NotFoundError
from fairtel.synth import _params as P
from fairtel.synth._complaints import build_complaints, complaint_rows, survey_rows
from fairtel.synth._loyalty import LOYALTY_FILE, loyalty_rows
from fairtel.synth._population import CHURN_REASONS, LOOKALIKE_ROLES, Population, Window, build_population
from fairtel.synth._usage import (
    CSV_COLUMNS,
    ChunkResult,
    ChunkTask,
    _inject_jsonl,
    generate_chunk,
)
from fairtel.synth._vas import build_vas, charge_row, dumps, rfc3339_s, vas_truth

RECORDS_PER_SUBSCRIBER_DAY = 19.5  # what the rates of _params give on average; sizes chunks and benchmarks
CHUNK_RECORDS = 1_000_000
SUMMARY_FILE = "synth.json"
MANAGED = ("catalog.toml", "subscribers.csv", "complaints.jsonl", "surveys.jsonl", LOYALTY_FILE, SUMMARY_FILE, "consent", "usage",
           "truth")
TRUTH_KINDS = ("vas_no_consent", "vas_after_cancellation", "fee_stealing_merchants", "duplicates",
               "partial_sessions", "malformed", "roaming_trips", "bill_shock", "simbox", "wangiri", "irsf", "churners", "lookalikes")


class SynthError(FairtelError):
    code = "synth_failed"


class ProgressSink(Protocol):
    def step(self, name: str, *, advance: float = 1, total: float | None = None) -> None: ...


@dataclass(slots=True)
class SynthSummary:
    """What was written. ``usage_records`` counts every data line or row in usage/ (duplicates, partial
    parts, malformed lines and the GBK-encoded file included); ``expected_clean`` is what a correct
    mediation keeps before stitching partials: usage_records - duplicates - malformed, of which
    ``gbk_records`` only if the reader decodes GBK. The files are written so that mediation's partial-record
    rule refuses none of them (no ``late_part``: see the package README), so ``fairtel load`` accepts exactly
    this many."""

    out_dir: Path
    seed: int
    subscribers: int
    days: int
    start: date
    end: date  # exclusive
    usage_records: int = 0
    usage_files: int = 0
    records_by_format: dict[str, int] = field(default_factory=dict)
    records_by_kind: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    malformed: int = 0
    partial_parts: int = 0
    gbk_records: int = 0
    consent_events: int = 0
    subscriptions: int = 0
    complaints: int = 0
    surveys: int = 0
    loyalty_entries: int = 0
    truth: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def expected_clean(self) -> int:
        return self.usage_records - self.duplicates - self.malformed

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        d["start"] = self.start.isoformat()
        d["end"] = self.end.isoformat()
        d["expected_clean"] = self.expected_clean
        return d


def default_catalog_text() -> bytes:
    res = resources.files("fairtel.catalog").joinpath("data/default.toml")
    if not res.is_file():
        raise NotFoundError("the default catalog is missing: package data fairtel.catalog/data/default.toml")
    return res.read_bytes()


def subscribers_for(records: int, days: int) -> int:
    """How many subscribers give about ``records`` usage records over ``days``."""
    return max(1, round(records / (RECORDS_PER_SUBSCRIBER_DAY * days)))


def _prepare(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ConflictError(f"{out_dir} exists and is not a directory")
        present = [p.name for p in out_dir.iterdir()]
        if present and SUMMARY_FILE not in present:
            raise ConflictError(f"{out_dir} is not empty and was not written by `fairtel synth`; choose another")
        for name in MANAGED:
            p = out_dir / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
    for sub in ("consent", "usage", "truth"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)


def _parts_of_days(days: int) -> np.ndarray:
    d = np.arange(days)
    if days < 2:
        return np.zeros(days, dtype=np.int32)
    if days < 14:
        return (d >= days // 2).astype(np.int32)
    return np.minimum(d // 7, math.ceil(days / 7) - 1).astype(np.int32)


def synthesize(
    out_dir: Path | str,
    *,
    subscribers: int,
    days: int,
    seed: int,
    start: date | None = None,
    report: ProgressSink | None = None,
    workers: int | None = None,
    catalog: Path | None = None,
    chunk_subscribers: int | None = None,
) -> SynthSummary:
    """Write a synthetic operator directory (docs/formats.md) and return what was written.

    ``workers`` processes generate usage (default: up to 2); ``catalog`` replaces the default catalog;
    ``chunk_subscribers`` overrides the chunk size (each chunk is one set of files)."""
    if subscribers < 1 or days < 1:
        raise SynthError("subscribers and days must be at least 1")
    if seed < 0:
        raise SynthError("seed must be a non-negative integer")
    t0 = time.perf_counter()
    out = Path(out_dir)
    catalog_bytes = catalog.read_bytes() if catalog is not None else default_catalog_text()
    start = start or P.DEFAULT_START
    window = Window.of(start, days)
    _prepare(out)
    (out / "catalog.toml").write_bytes(catalog_bytes)
    summary = SynthSummary(out, seed, subscribers, days, start, start + timedelta(days=days))

    ss = np.random.SeedSequence(seed)
    # a 6th child left the 5 as they were, a 7th the 6
    s_pop, s_vas, s_complaints, s_legacy, s_chunks, s_surveys, s_loyalty = ss.spawn(7)
    pop = build_population(np.random.default_rng(s_pop), subscribers, window)
    _write_subscribers(out / "subscribers.csv", pop, window)

    vas = build_vas(np.random.default_rng(s_vas), pop, window)
    zi = ZoneInfo(window.tz)
    (out / "consent" / "events.jsonl").write_text("".join(dumps(e) + "\n" for e in vas.events), encoding="utf-8")
    summary.consent_events = len(vas.events)
    summary.subscriptions = len(vas.subscriptions)
    truth: dict[str, list[pl.DataFrame]] = {k: [] for k in TRUTH_KINDS}
    for kind, rows in vas_truth(vas, pop, window).items():
        truth[kind].append(pl.DataFrame(rows) if rows else pl.DataFrame())
    vas_rng = np.random.default_rng(s_legacy.spawn(2)[0])
    by_month: dict[str, list[str]] = {}
    for c in vas.charges:
        row = charge_row(c, pop, zi)
        by_month.setdefault(row["started_at"][:7], []).append(dumps(row))
    for month in sorted(by_month):
        name = f"usage/{P.SOURCE_VAS}-{month}.jsonl"
        text, bad = _inject_jsonl(vas_rng, ("\n".join(by_month[month]) + "\n").encode(), name, truncate=False)
        (out / name).write_bytes(text)
        _count(summary, name, "jsonl", len(by_month[month]) + len(bad), {"vas": len(by_month[month])})
        summary.malformed += len(bad)
        truth["malformed"].append(_malformed_frame(bad))

    # Usage, chunk by chunk.
    per_chunk = chunk_subscribers or max(50, math.ceil(CHUNK_RECORDS / (RECORDS_PER_SUBSCRIBER_DAY * days)))
    bounds = [*range(0, subscribers, per_chunk), subscribers]
    seeds = s_chunks.spawn(len(bounds) - 1)
    parts = _parts_of_days(days)
    tasks = [
        ChunkTask(i, pop.slice(lo, hi), window, parts, seeds[i], str(out), truncate=(i % 10 == 0))
        for i, (lo, hi) in enumerate(itertools.pairwise(bounds))
    ]
    results = _run_chunks(tasks, workers, report)
    for r in results:
        for name, fmt, lines in r.files:
            _count(summary, name, fmt, lines, {})
        for k, v in r.by_kind.items():
            summary.records_by_kind[k] = summary.records_by_kind.get(k, 0) + v
        summary.duplicates += r.duplicates
        summary.malformed += r.malformed
        summary.partial_parts += r.partial_parts
    _fraud_truth(truth, results, pop, window)

    legacy_rows, legacy_bad = _write_legacy(out, np.random.default_rng(s_legacy.spawn(2)[1]), pop, window)
    _count(summary, f"usage/{P.SOURCE_LEGACY}-legacy-gbk.csv", "csv", legacy_rows, {"voice": legacy_rows})
    truth["malformed"].append(legacy_bad)
    summary.gbk_records = legacy_rows

    crng = np.random.default_rng(s_complaints)
    complaints, per_sub = build_complaints(crng, pop, window, vas.grievances)
    rows = complaint_rows(crng, complaints, pop, window)
    (out / "complaints.jsonl").write_text("".join(dumps(r) + "\n" for r in rows), encoding="utf-8")
    summary.complaints = len(rows)
    surveys = survey_rows(np.random.default_rng(s_surveys), complaints, rows, pop, window)
    (out / "surveys.jsonl").write_text("".join(dumps(r) + "\n" for r in surveys), encoding="utf-8")
    summary.surveys = len(surveys)
    ledger = loyalty_rows(np.random.default_rng(s_loyalty), pop, window)
    with (out / LOYALTY_FILE).open("wb") as fh:
        ledger.write_ndjson(fh)
    summary.loyalty_entries = ledger.height
    churners = np.flatnonzero(pop.churn_from >= 0)
    truth["churners"].append(pl.DataFrame({
        "kind": ["churner"] * len(churners),
        "msisdn": [str(x) for x in pop.msisdn[churners]],
        "decline_from": [(start + timedelta(days=int(d))).isoformat() for d in pop.churn_from[churners]],
        "usage_share_at_end": [round(float(x), 2) for x in pop.churn_floor[churners]],
        "reason": [CHURN_REASONS[int(r)] for r in pop.churn_reason[churners]],
        "complaints": [int(per_sub[s]) for s in churners],
    }))
    alike = np.flatnonzero(pop.lookalike > 0)
    truth["lookalikes"].append(pl.DataFrame({
        "kind": ["lookalike"] * len(alike),
        "msisdn": [str(x) for x in pop.msisdn[alike]],
        "role": [LOOKALIKE_ROLES[int(r) - 1] for r in pop.lookalike[alike]],
        "calls_abroad_to": [str(int(c)) if r == 3 else None for c, r in zip(pop.intl_cc[alike], pop.lookalike[alike], strict=True)],
    }))
    for kind in TRUTH_KINDS:
        frames = [f for f in truth[kind] if f.height]
        data = b""
        if frames:
            buf = io.BytesIO()
            for f in frames:
                f.write_ndjson(buf)
            data = buf.getvalue()
        (out / "truth" / f"{kind}.jsonl").write_bytes(data)
        summary.truth[kind] = data.count(b"\n")
    summary.usage_files = len(list((out / "usage").iterdir()))
    summary.records_by_format = dict(sorted(summary.records_by_format.items()))
    summary.records_by_kind = dict(sorted(summary.records_by_kind.items()))
    stored = summary.to_dict()
    for volatile in ("out_dir", "elapsed_s"):
        stored.pop(volatile)
    (out / SUMMARY_FILE).write_text(dumps(stored) + "\n", encoding="utf-8")
    summary.elapsed_s = time.perf_counter() - t0
    return summary


def _count(summary: SynthSummary, name: str, fmt: str, lines: int, kinds: dict[str, int]) -> None:
    summary.usage_records += lines
    summary.records_by_format[fmt] = summary.records_by_format.get(fmt, 0) + lines
    for k, v in kinds.items():
        summary.records_by_kind[k] = summary.records_by_kind.get(k, 0) + v


def _run_chunks(tasks: list[ChunkTask], workers: int | None, report: ProgressSink | None) -> list[ChunkResult]:
    n = len(tasks)
    workers = min(n, workers if workers is not None else min(2, os.cpu_count() or 1))
    step: Callable[[], None] = (lambda: report.step("usage chunks", advance=1, total=n)) if report else (lambda: None)
    if workers <= 1:
        results = []
        for t in tasks:
            results.append(generate_chunk(t))
            step()
        return results
    done: dict[int, ChunkResult] = {}
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(generate_chunk, t) for t in tasks]
        for fut in as_completed(futures):
            r = fut.result()
            done[r.index] = r
            step()
    return [done[i] for i in range(n)]


def _malformed_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    if not rows:
        return pl.DataFrame()
    return pl.DataFrame(rows, schema={"file": pl.String, "line": pl.Int64, "reason": pl.String,
                                      "record_id": pl.String}).select(pl.lit("malformed").alias("kind"), pl.all())


def _write_subscribers(path: Path, pop: Population, window: Window) -> None:
    zi = ZoneInfo(window.tz)
    status = ("active", "suspended", "closed")
    lines = [",".join(("msisdn", "customer_id", "plan_id", "activated_at", "status", "language", "region", "closed_at"))]
    for i in range(pop.n):
        # a closed line closed at the start of its first inactive day, as a register records it (a closed line
        # without its closing date holds all its usage off the bill)
        closed = rfc3339_s(int(window.day_start[pop.until_day[i]]), zi) if status[pop.status[i]] == "closed" else ""
        lines.append(",".join((
            str(pop.msisdn[i]), f"cu{pop.customer[i]}", P.PLANS[pop.plan[i]], rfc3339_s(int(pop.activated_at[i]), zi),
            status[pop.status[i]], "en" if pop.english[i] else "zh", P.REGIONS[pop.region[i]], closed,
        )))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_legacy(out: Path, rng: np.random.Generator, pop: Population, window: Window
                  ) -> tuple[int, pl.DataFrame]:
    """A small canonical CSV from an old switch that writes GBK, with Chinese cell-site names."""
    name = f"usage/{P.SOURCE_LEGACY}-legacy-gbk.csv"
    n = int(min(300, max(10, pop.n // 20)))
    subs = rng.integers(0, pop.n, n)
    day = rng.integers(0, window.days, n)
    ok = (day >= pop.first_day[subs]) & (day < pop.until_day[subs]) & (pop.simbox[subs] < 0)
    subs, day = subs[ok], day[ok]
    ts = window.day_start[day] + rng.integers(8 * 3600, 22 * 3600, len(day))
    # each time stays with its own subscriber (sorting the times alone would hand a line another line's day,
    # before its activation or after it stopped), and none precedes the activation instant of its line
    keep = ts >= pop.activated_at[subs]
    subs, ts = subs[keep], ts[keep]
    by_time = np.argsort(ts, kind="stable")
    subs, ts = subs[by_time], ts[by_time]
    zi = ZoneInfo(window.tz)
    lines = [",".join(CSV_COLUMNS)]
    rids = []
    for i, (s, t) in enumerate(zip(subs, ts, strict=True)):
        rid = f"g{i + 1:08d}"
        rids.append(rid)
        values = {c: "" for c in CSV_COLUMNS}
        values.update(record_id=rid, source=P.SOURCE_LEGACY, msisdn=str(pop.msisdn[s]), kind="voice",
                      direction="out" if rng.random() < 0.6 else "in", started_at=rfc3339_s(int(t), zi),
                      duration_s=str(int(rng.lognormal(np.log(60), 1.0)) + 1),
                      peer=str(86 * 10**11 + int(P.MOBILE_PREFIXES[rng.integers(0, len(P.MOBILE_PREFIXES))]) * 10**8
                               + int(rng.integers(0, 10**8))),
                      cell_id=P.GBK_CELL_NAMES[int(rng.integers(0, len(P.GBK_CELL_NAMES)))],
                      imei=str(pop.imei[s]))
        lines.append(",".join(values[c] for c in CSV_COLUMNS))
    (out / name).write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    bad = pl.DataFrame({"kind": ["malformed"] * len(rids), "file": [name] * len(rids),
                        "line": list(range(2, len(rids) + 2)), "reason": ["encoding_gbk"] * len(rids),
                        "record_id": rids})
    return len(rids), bad


def _fraud_truth(truth: dict[str, list[pl.DataFrame]], results: list[ChunkResult], pop: Population,
                 window: Window) -> None:
    def cat(name: str) -> pl.DataFrame:
        frames = [r.truth[name] for r in results if name in r.truth and r.truth[name].height]
        return pl.concat(frames) if frames else pl.DataFrame()

    truth["malformed"].extend(
        f.select(pl.lit("malformed").alias("kind"), pl.all()) for r in results
        if (f := r.truth.get("malformed")) is not None and f.height
    )
    dups = cat("duplicates")
    if dups.height:
        truth["duplicates"].append(dups.select(
            pl.lit("duplicate").alias("kind"), "source", "record_id", "msisdn", pl.col("kind").alias("record_kind"),
            pl.concat_list("file", "copy_file").alias("files"),
        ))
    parts = cat("partials")
    if parts.height:
        truth["partial_sessions"].append(parts.sort("session_id", "seq").group_by("session_id", maintain_order=True).agg(
            pl.first("source"), pl.first("msisdn"), pl.first("started_at"),
            pl.col("record_id").alias("record_ids"), pl.col("seq").alias("seqs"),
            pl.first("parts_expected"), pl.col("final").any().alias("complete"),
            pl.sum("bytes_up"), pl.sum("bytes_down"), pl.col("file").unique(maintain_order=True).alias("files"),
            pl.col("out_of_order").any(), (pl.col("file").n_unique() > 1).alias("across_files"),
        ).select(pl.lit("partial_session").alias("kind"), pl.all()))
    trips = cat("trips")
    if trips.height:
        start = window.start
        truth["roaming_trips"].append(trips.select(
            pl.lit("roaming_trip").alias("kind"), "msisdn", "roaming_country",
            pl.col("first_day").map_elements(lambda d: (start + timedelta(days=int(d))).isoformat(),
                                             return_dtype=pl.String).alias("from"),
            (pl.col("first_day") + pl.col("days") - 1).map_elements(
                lambda d: (start + timedelta(days=int(d))).isoformat(), return_dtype=pl.String).alias("to"),
            "days", pl.col("shock").alias("bill_shock"), "roaming_bytes",
        ))
    shock = cat("bill_shock")
    if shock.height:
        truth["bill_shock"].append(shock.sort("msisdn", "ts").group_by("msisdn", maintain_order=True).agg(
            pl.first("roaming_country"), pl.first("started_at").alias("first_at"),
            pl.last("started_at").alias("last_at"), pl.len().alias("records"), pl.sum("bytes_up"),
            pl.sum("bytes_down"), pl.col("record_id").alias("record_ids"),
        ).select(pl.lit("bill_shock").alias("kind"), pl.all()))
    irsf = cat("irsf")
    if irsf.height:
        truth["irsf"].append(irsf.sort("msisdn", "ts").group_by("msisdn", maintain_order=True).agg(
            pl.when(pl.first("irsf_roaming")).then(pl.lit("roaming")).otherwise(pl.lit("new_line")).alias("trigger"),
            pl.col("roaming_country").drop_nulls().first(), pl.first("started_at").alias("first_at"),
            pl.last("started_at").alias("last_at"), pl.len().alias("calls"),
            pl.sum("duration_s").alias("total_duration_s"), pl.col("peer").unique().sort().alias("peers"),
            pl.col("record_id").alias("record_ids"),
        ).select(pl.lit("irsf").alias("kind"), pl.all()))
    rings = cat("wangiri_ring")
    if rings.height:
        truth["wangiri"].append(rings.sort("peer", "ts", "msisdn").group_by("peer", maintain_order=True).agg(
            pl.first("started_at").alias("first_at"), pl.last("started_at").alias("last_at"),
            pl.len().alias("calls"), pl.col("msisdn").unique().sort().alias("msisdns"),
            pl.col("record_id").alias("record_ids"),
        ).select(pl.lit("wangiri").alias("kind"), pl.lit("caller").alias("role"), pl.all()))
    callbacks = cat("wangiri_callback")
    if callbacks.height:
        truth["wangiri"].append(callbacks.sort("ts", "msisdn").select(
            pl.lit("wangiri").alias("kind"), pl.lit("callback").alias("role"), "msisdn", "peer", "record_id",
            "source", "started_at", "duration_s",
        ))
    sb = cat("simbox")
    if sb.height:
        per = sb.group_by("msisdn", maintain_order=True).agg(
            ((pl.col("kind") == 0) & (pl.col("direction") == 0)).sum().alias("calls_out"),
            ((pl.col("kind") == 0) & (pl.col("direction") == 1)).sum().alias("calls_in"),
            (pl.col("kind") == 1).sum().alias("sms"),
            pl.col("peer").filter((pl.col("kind") == 0) & (pl.col("direction") == 0)).n_unique().alias("distinct_peers"),
        )
        lines = np.flatnonzero(pop.simbox >= 0)
        info = pl.DataFrame({
            "msisdn": [str(x) for x in pop.msisdn[lines]],
            "group": [f"simbox-{int(g) + 1:03d}" for g in pop.simbox[lines]],
            "imei": [str(x) for x in pop.imei[lines]],
            "cell_id": [f"460-00-{int(c)}" for c in pop.home_cell[lines]],
        })
        truth["simbox"].append(info.join(per, on="msisdn", how="left").sort("group", "msisdn").select(
            pl.lit("simbox").alias("kind"), pl.all()))
