"""Rule detectors over the fraud features: SIM-box, Wangiri, IRSF and scam callers.

Each detector is a pure function of a features frame and its thresholds. A detector has *required*
conditions (all must hold for a case to open) and weighted *signals*; the score is the weighted share of
signals that hold (0..1), and a case opens when every required condition holds and the score reaches the
detector's ``min_score``. Every condition that held is written into the case as a reason, in Chinese and
English, with the measured value and the threshold it crossed. docs/fraud.md explains each threshold.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Literal

import polars as pl

from fairtel.core.errors import ConfigError
from fairtel.core.time import DEMO_TIMEZONE, require_aware, zone
from fairtel.fraud._cases import RULE_DETECTORS, CallbackNotice, Detector, FraudCase, Reason, case_id, notice_id
from fairtel.fraud._features import FeatureConfig, FraudFeatures

Op = Literal[">=", "<="]
# The features' default reading: the durations a reason states when it is not told the ones counted.
_DEFAULT_READING = FeatureConfig()


@dataclass(frozen=True, slots=True)
class Condition:
    """``column op threshold`` on a features frame, and how to say it. ``fmt`` formats value and threshold."""

    code: str
    column: str
    op: Op
    threshold: float
    en: str
    zh: str
    weight: float = 1.0
    fmt: str = "{:.0f}"
    show_threshold: bool = True
    # Below this value the data say nothing and the condition does not hold: a line whose records carry no
    # cell id has 0 distinct cells, which is no evidence of one fixed place.
    floor: float | None = None
    # The threshold's unit in each language ("hours", "小时"): the threshold is then said with it and with no
    # more decimals than it has ("(≤ 48 hours)", not "(≤ 48.0)").
    unit_en: str = ""
    unit_zh: str = ""
    # Said instead of ``en``/``zh`` when the row's ``since_column`` holds an instant (a line's age counted from an
    # owner change, not its activation): ``{d}`` is its local date. The condition and threshold are the same; the
    # reason's code is ``since_code``, so that an analyst tells a new holder from a new line.
    since_column: str | None = None
    since_code: str = ""
    since_en: str = ""
    since_zh: str = ""

    def expr(self) -> pl.Expr:
        c = pl.col(self.column)
        held = c >= self.threshold if self.op == ">=" else c <= self.threshold
        if self.floor is not None:
            held = held & (c >= self.floor)
        return held.fill_null(False)

    def reason(self, value: Any, *, since: str | None = None) -> Reason:
        """``since``: the local date the row's ``since_column`` gives (None: it gives none), said in the words of
        ``since_en``/``since_zh`` when the condition has them."""
        v = float(value)
        fmt = _exact_format(self.fmt, self.threshold)
        shown, limit = fmt.format(v), fmt.format(self.threshold)
        sign = "≥" if self.op == ">=" else "≤"
        moved = since is not None and bool(self.since_en)
        en = self.since_en.format(v=shown, d=since) if moved else self.en.format(v=shown)
        zh = self.since_zh.format(v=shown, d=since) if moved else self.zh.format(v=shown)
        limit_en = limit_zh = limit
        if self.unit_en or self.unit_zh:
            bare = _exact_format("{:.0f}", self.threshold).format(self.threshold)
            limit_en = f"{bare} {self.unit_en}".rstrip()
            limit_zh = f"{bare} {self.unit_zh}".rstrip()
        return Reason(
            code=self.since_code if moved and self.since_code else self.code,
            value=round(v, 4),
            threshold=self.threshold,
            en=f"{en} ({sign} {limit_en})" if self.show_threshold else en,
            zh=f"{zh}（{sign} {limit_zh}）" if self.show_threshold else zh,
        )


_FIXED = re.compile(r"\{:\.(\d+)([f%])\}")


def _exact_format(fmt: str, threshold: float) -> str:
    """``fmt`` with as many more decimals as it takes to state ``threshold`` as configured: a reason must not
    say "(≥ 38)" of a threshold of 37.5, nor "(≥ 76%)" of 0.755. The value is shown with the same decimals,
    so that a value that crossed the threshold never reads as if it had not."""
    m = _FIXED.fullmatch(fmt)
    if m is None:
        return fmt
    digits, kind = int(m[1]), m[2]
    scale = 100.0 if kind == "%" else 1.0
    for d in range(digits, digits + 7):
        candidate = f"{{:.{d}{kind}}}"
        if math.isclose(float(candidate.format(threshold).rstrip("%")) / scale, threshold, rel_tol=1e-12, abs_tol=1e-12):
            return candidate
    return candidate


# ------------------------------------------------------------------------------------------ thresholds
@dataclass(frozen=True, slots=True)
class SimboxThresholds:
    """SIM-box / interconnect bypass: a line that terminates a stream of calls for someone else.

    Required: ``min_calls_out_per_day``, ``min_out_in_ratio``, ``min_callee_diversity`` (distinct numbers
    called / calls). Signals: little SMS, no data, one fixed place, a device shared by several SIMs, callees
    who never call back, traffic around the clock rather than office hours. A busy outbound call centre meets
    the required conditions; its callbacks and office hours keep its score under ``min_score``.
    """

    min_calls_out_per_day: float = 40.0
    min_out_in_ratio: float = 8.0
    min_callee_diversity: float = 0.7
    max_sms_per_day: float = 1.0
    max_data_sessions_per_day: float = 1.0
    max_distinct_cells: float = 2
    min_sims_per_imei: float = 2
    max_callback_share: float = 0.1
    max_office_hours_share: float = 0.8
    min_score: float = 0.6


@dataclass(frozen=True, slots=True)
class WangiriThresholds:
    """Wangiri: an international number rings many subscribers once, hoping they call back a premium line.

    Required: at least ``min_targets`` subscribers rung and a share of one-ring calls (answered for at most
    the feature config's ``one_ring_max_s``, 3 s by default) of at least ``min_one_ring_share``. Signals: the
    number is in the premium zone; the campaign lasts at most ``max_span_hours``; calls are answered for at
    most ``max_mean_duration_s`` on average.
    """

    min_targets: float = 10
    min_one_ring_share: float = 0.8
    max_span_hours: float = 48.0
    max_mean_duration_s: float = 3.0
    min_score: float = 0.0


@dataclass(frozen=True, slots=True)
class IrsfThresholds:
    """International revenue share fraud: a line pumping minutes into premium ranges.

    Required: ``min_premium_calls`` calls and ``min_premium_minutes`` minutes to the premium zone. Signals:
    a new line (premium traffic within ``max_new_line_days`` of activation), calls made while roaming,
    night-time calls, many different premium numbers, very high volume. ``lookback_days``: a period's calls are
    counted with the previous period's last days, so that a burst across the turn of a month is seen whole.
    """

    min_premium_calls: float = 5
    min_premium_minutes: float = 30.0
    max_new_line_days: float = 30.0
    min_roaming_calls: float = 1
    min_night_share: float = 0.3
    min_premium_numbers: float = 5
    high_premium_minutes: float = 300.0
    min_score: float = 0.15
    lookback_days: float = 3.0


@dataclass(frozen=True, slots=True)
class ScamThresholds:
    """Scam callers: a line calling many different subscribers briefly, who rarely call back.

    Required: ``min_distinct_callees`` numbers called, ``min_callee_diversity`` and
    ``min_calls_out_per_day``. Signals: mostly brief calls, few callees calling back, few incoming calls,
    several devices (IMEIs), a new line.
    """

    min_distinct_callees: float = 50
    min_callee_diversity: float = 0.7
    min_calls_out_per_day: float = 10.0
    min_brief_call_share: float = 0.6
    max_callback_share: float = 0.05
    min_out_in_ratio: float = 5.0
    min_distinct_imeis: float = 2
    max_new_line_days: float = 30.0
    min_score: float = 0.6


@dataclass(frozen=True, slots=True)
class Thresholds:
    """All detectors' thresholds; ``enabled`` lists the detectors to run."""

    simbox: SimboxThresholds = SimboxThresholds()
    wangiri: WangiriThresholds = WangiriThresholds()
    irsf: IrsfThresholds = IrsfThresholds()
    scam: ScamThresholds = ScamThresholds()
    enabled: tuple[Detector, ...] = RULE_DETECTORS

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Thresholds:
        """From a mapping shaped like the TOML file (``[simbox] min_calls_out_per_day = 60`` ...); unknown
        detectors or fields are a ``ConfigError`` naming them, so a typo never passes silently."""
        out = cls()
        problems: list[str] = []
        for key, value in data.items():
            if key == "enabled":
                try:
                    out = replace(out, enabled=tuple(Detector(v) for v in value))
                    if set(out.enabled) - set(RULE_DETECTORS):
                        raise ValueError(f"only {', '.join(RULE_DETECTORS)} are configured here")
                except ValueError as exc:
                    problems.append(f"enabled: {exc}")
                continue
            if key not in {d.value for d in RULE_DETECTORS} or not isinstance(value, Mapping):
                problems.append(f"unknown section {key!r} (expected one of {', '.join(d.value for d in RULE_DETECTORS)})")
                continue
            current = getattr(out, key)
            known = {f.name for f in fields(current)}
            bad = sorted(set(value) - known)
            if bad:
                problems.append(f"[{key}] unknown threshold(s): {', '.join(bad)}")
                continue
            try:
                numbers = {k: float(v) for k, v in value.items()}
            except (TypeError, ValueError) as exc:
                problems.append(f"[{key}] {exc}")
                continue
            out_of_range = [f"{k} = {v:g}: {_RANGE_NOTE}" if _is_share(k) else f"{k} = {v:g}: not a number of 0 or more"
                            for k, v in numbers.items() if not math.isfinite(v) or v < 0 or (_is_share(k) and v > 1)]
            if out_of_range:
                problems.append(f"[{key}] " + "; ".join(out_of_range))
                continue
            out = replace(out, **{key: replace(current, **numbers)})
        if problems:
            raise ConfigError("fraud thresholds: " + "; ".join(problems), details={"problems": problems})
        return out


_RANGE_NOTE = "a share from 0 to 1 (80 % is 0.8)"


def _is_share(name: str) -> bool:
    """Thresholds compared with a share of calls (or the weighted score): 0 to 1, never a percentage."""
    return "share" in name or "diversity" in name or name == "min_score"


# ------------------------------------------------------------------------------------------ conditions
def _simbox(t: SimboxThresholds) -> tuple[list[Condition], list[Condition]]:
    required = [
        Condition("calls_out_per_day", "calls_out_per_day", ">=", t.min_calls_out_per_day,
                  "{v} outgoing calls a day", "日均主叫 {v} 次"),
        Condition("out_in_ratio", "out_in_ratio", ">=", t.min_out_in_ratio,
                  "{v} outgoing calls per incoming call", "主被叫比 {v}", fmt="{:.1f}"),
        Condition("callee_diversity", "callee_diversity", ">=", t.min_callee_diversity,
                  "{v} of calls go to a number not called before", "被叫号码离散度 {v}", fmt="{:.0%}"),
    ]
    signals = [
        Condition("no_sms", "sms_per_day", "<=", t.max_sms_per_day,
                  "{v} SMS a day", "日均短信 {v} 条", weight=0.5, fmt="{:.2f}"),
        Condition("no_data", "data_sessions_per_day", "<=", t.max_data_sessions_per_day,
                  "{v} data sessions a day", "日均上网 {v} 次", fmt="{:.2f}"),
        Condition("fixed_cell", "distinct_cells", "<=", t.max_distinct_cells,
                  "calls from {v} cell(s) only", "仅在 {v} 个基站下通话", floor=1),
        Condition("shared_device", "sims_per_imei", ">=", t.min_sims_per_imei,
                  "its device (IMEI) carried {v} SIM cards", "同一终端 (IMEI) 使用了 {v} 张 SIM 卡", weight=1.5),
        Condition("no_callbacks", "callback_share", "<=", t.max_callback_share,
                  "{v} of the numbers called ever called back", "被叫回拨比例 {v}", fmt="{:.1%}"),
        Condition("round_the_clock", "office_hours_share", "<=", t.max_office_hours_share,
                  "{v} of calls in office hours", "工作时间通话占比 {v}", fmt="{:.0%}"),
    ]
    return required, signals


def _wangiri(t: WangiriThresholds, premium_zone: str, one_ring_max_s: int,
             zone_name: Mapping[str, str] | None = None) -> tuple[list[Condition], list[Condition]]:
    # The features counted a call as one-ring up to ``one_ring_max_s``: the words say the same bound.
    ring = f"0-{one_ring_max_s}"
    # the zone as the catalog names it (its id when the catalog is not given)
    name_en = (zone_name or {}).get("en") or premium_zone
    name_zh = (zone_name or {}).get("zh") or premium_zone
    required = [
        Condition("targets", "targets", ">=", t.min_targets,
                  "rang {v} different subscribers", "呼叫了 {v} 位不同用户"),
        Condition("one_ring_share", "one_ring_share", ">=", t.min_one_ring_share,
                  f"{{v}} of its calls were one-ring ({ring} s)", f"响一声 ({ring} 秒) 呼叫占比 {{v}}", fmt="{:.0%}"),
    ]
    signals = [
        Condition("premium_zone", "_premium", ">=", 1,
                  f"the number is in the premium-rate zone \"{name_en}\"", f"号码属于国际高资费号段“{name_zh}”",
                  show_threshold=False),
        Condition("burst", "span_hours", "<=", t.max_span_hours,
                  "all calls within {v} hours", "全部呼叫集中在 {v} 小时内", fmt="{:.1f}", unit_en="hours", unit_zh="小时"),
        Condition("unanswered", "mean_duration_s", "<=", t.max_mean_duration_s,
                  "calls lasted {v} s on average", "平均通话 {v} 秒", fmt="{:.1f}", unit_en="s", unit_zh="秒"),
    ]
    return required, signals


# A line's age counts from its current holding: from an owner change (过户: the features' ``holder_since``) when
# later than the activation. The new-line signal holds the same (premium traffic soon after a line changed hands is
# a known pattern), and its reason says "new holder since <date>" so that a transfer is not read as a new line.
_NEW_HOLDER: dict[str, Any] = {"since_column": "holder_since", "since_code": "new_holder"}


def _irsf(t: IrsfThresholds, premium_zone: str = "intl-premium",
          zone_name: Mapping[str, str] | None = None) -> tuple[list[Condition], list[Condition]]:
    # the zone as the catalog names it (its id when the catalog is not given), as the Wangiri reason names it
    name_en = (zone_name or {}).get("en") or premium_zone
    name_zh = (zone_name or {}).get("zh") or premium_zone
    required = [
        Condition("premium_calls", "premium_calls", ">=", t.min_premium_calls,
                  f"{{v}} calls to the premium-rate zone \"{name_en}\"", f"拨打国际高资费号段“{name_zh}” {{v}} 次"),
        Condition("premium_minutes", "premium_minutes", ">=", t.min_premium_minutes,
                  f"{{v}} minutes to \"{name_en}\"", f"“{name_zh}”通话 {{v}} 分钟"),
    ]
    signals = [
        Condition("new_line", "premium_line_age_days", "<=", t.max_new_line_days,
                  "premium calls began {v} days after the line was activated", "开户 {v} 天后即开始拨打高资费号段",
                  weight=1.5, fmt="{:.1f}", unit_en="days", unit_zh="天", **_NEW_HOLDER,
                  since_en="premium calls began {v} days after the line changed hands (new holder since {d})",
                  since_zh="过户（新机主自 {d} 起）{v} 天后即开始拨打高资费号段"),
        Condition("roaming", "premium_roaming_calls", ">=", t.min_roaming_calls,
                  "{v} of them made while roaming", "其中 {v} 次在漫游时拨打", weight=1.5),
        Condition("night", "premium_night_share", ">=", t.min_night_share,
                  "{v} of them at night (00:00-05:59 where the call was made: the visited country's clock, else the "
                  "operator's)", "夜间（拨打地当地时间 0-6 点：漫游国时间，无法确定时按运营商所在地时间）拨打占比 {v}",
                  fmt="{:.0%}"),
        Condition("many_numbers", "premium_numbers", ">=", t.min_premium_numbers,
                  "to {v} different premium numbers", "涉及 {v} 个不同高资费号码"),
        Condition("high_volume", "premium_minutes", ">=", t.high_premium_minutes,
                  "{v} premium minutes in the period", "本期高资费通话 {v} 分钟"),
    ]
    return required, signals


def _scam(t: ScamThresholds, brief_call_s: int) -> tuple[list[Condition], list[Condition]]:
    required = [
        Condition("distinct_callees", "distinct_callees", ">=", t.min_distinct_callees,
                  "called {v} different numbers", "呼叫了 {v} 个不同号码"),
        Condition("callee_diversity", "callee_diversity", ">=", t.min_callee_diversity,
                  "{v} of calls go to a number not called before", "被叫号码离散度 {v}", fmt="{:.0%}"),
        Condition("calls_out_per_day", "calls_out_per_day", ">=", t.min_calls_out_per_day,
                  "{v} outgoing calls a day", "日均主叫 {v} 次"),
    ]
    signals = [
        Condition("brief_calls", "brief_call_share", ">=", t.min_brief_call_share,
                  f"{{v}} of calls shorter than {brief_call_s} s", f"{brief_call_s} 秒以内短通话占比 {{v}}", weight=1.5,
                  fmt="{:.0%}"),
        Condition("no_callbacks", "callback_share", "<=", t.max_callback_share,
                  "{v} of the numbers called ever called back", "被叫回拨比例 {v}", fmt="{:.1%}"),
        Condition("few_incoming", "out_in_ratio", ">=", t.min_out_in_ratio,
                  "{v} outgoing calls per incoming call", "主被叫比 {v}", fmt="{:.1f}"),
        Condition("several_devices", "distinct_imeis", ">=", t.min_distinct_imeis,
                  "used {v} different devices (IMEIs)", "使用了 {v} 部不同终端 (IMEI)"),
        Condition("new_line", "line_age_days", "<=", t.max_new_line_days,
                  "line activated {v} days before this activity", "开户仅 {v} 天", fmt="{:.1f}", unit_en="days",
                  unit_zh="天", **_NEW_HOLDER, since_en="new holder since {d}, {v} days before this activity",
                  since_zh="过户（新机主自 {d} 起）仅 {v} 天"),
    ]
    return required, signals


# ------------------------------------------------------------------------------------------ evaluation
def _evaluate(frame: pl.DataFrame, required: list[Condition], signals: list[Condition], min_score: float) -> pl.DataFrame:
    """The rows that open a case, with ``_score`` and one boolean ``_c<i>`` column per condition."""
    conds = [*required, *signals]
    total = sum(s.weight for s in signals) or 1.0
    score = pl.sum_horizontal([pl.when(s.expr()).then(s.weight).otherwise(0.0) for s in signals]) / total if signals else pl.lit(1.0)
    gate = pl.all_horizontal([c.expr() for c in required]) if required else pl.lit(True)
    return (
        frame.with_columns(*(c.expr().alias(f"_c{i}") for i, c in enumerate(conds)), score.alias("_score"))
        .filter(gate & (pl.col("_score") >= min_score - 1e-9))
        .sort(["_score", frame.columns[0]], descending=[True, False])
    )


def _reasons(row: Mapping[str, Any], conds: list[Condition], tz: str = DEMO_TIMEZONE) -> tuple[Reason, ...]:
    """The reasons of the conditions that held on ``row``; an instant a condition's words name (its
    ``since_column``) is said as a local date of ``tz``."""
    def since(c: Condition) -> str | None:
        at = row.get(c.since_column) if c.since_column else None
        return at.astimezone(zone(tz)).date().isoformat() if isinstance(at, datetime) else None

    return tuple(c.reason(row[c.column], since=since(c)) for i, c in enumerate(conds) if row[f"_c{i}"])


def exempt_numbers(exempt: Collection[str]) -> set[str]:
    """The exempt numbers as usage writes them (E.164 digits without ``+``): an operator's list may carry a
    ``+``, blanks or a trailing newline, and such a number must still open no case."""
    return {n for n in (str(v).strip().removeprefix("+").strip() for v in exempt) if n}


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


_LINE_EVIDENCE: dict[Detector, tuple[str, ...]] = {
    Detector.SIMBOX: (
        "calls_out", "calls_in", "calls_out_per_day", "distinct_callees", "out_in_ratio", "callee_diversity",
        "sms_per_day", "data_sessions_per_day", "distinct_cells", "distinct_imeis", "sims_per_imei",
        "callback_share", "office_hours_share", "night_share", "median_out_duration_s", "active_days",
        "line_age_days",
    ),
    Detector.IRSF: (
        "premium_calls", "premium_minutes", "premium_numbers", "premium_night_share", "premium_roaming_calls",
        "roaming_days", "premium_first_at", "premium_last_at", "premium_line_age_days", "line_age_days", "intl_calls_out",
        "calls_out",
    ),
    Detector.SCAM: (
        "calls_out", "calls_in", "calls_out_per_day", "distinct_callees", "callee_diversity", "brief_call_share",
        "short_call_share", "callback_share", "out_in_ratio", "distinct_imeis", "line_age_days",
        "median_out_duration_s", "active_days",
    ),
}


def _line_cases(
    detector: Detector,
    lines: pl.DataFrame,
    required: list[Condition],
    signals: list[Condition],
    min_score: float,
    *,
    period: str,
    now: datetime,
    exempt: Collection[str],
    id_key: bytes | None = None,
    tz: str | None = None,
    clock: str = DEMO_TIMEZONE,
) -> list[FraudCase]:
    """``tz``: instants of the evidence are written as local times of that zone (with their offset); UTC without.
    ``clock``: the zone of the dates the reasons say (an owner change's), the operator's."""
    no_case = exempt_numbers(exempt)
    frame = lines.filter(~pl.col("msisdn").is_in(list(no_case))) if no_case else lines
    hits = _evaluate(frame, required, signals, min_score)
    conds = [*required, *signals]
    keys = [k for k in _LINE_EVIDENCE[detector] if k in hits.columns]
    return [
        FraudCase(
            case_id=case_id(detector, row["msisdn"], period, id_key),
            detector=detector,
            subject=row["msisdn"],
            period=period,
            score=round(float(row["_score"]), 4),
            evidence={k: _clean(row[k]) if tz is None else _local_iso(row[k], tz) for k in keys},
            reasons=_reasons(row, conds, tz or clock),
            opened_at=now,
        )
        for row in hits.iter_rows(named=True)
    ]


def detect_simbox(lines: pl.DataFrame, thresholds: SimboxThresholds | None = None, *, period: str, now: datetime,
                  exempt: Collection[str] = (), id_key: bytes | None = None,
                  devices: pl.DataFrame | None = None) -> list[FraudCase]:
    """``devices``: the (imei, msisdn, last_at) pairs seen in the period's usage (``device_pairs``: ``last_at``, when
    the line was last seen in the device). With them, a case names its line's device(s) (``imeis`` in its evidence)
    and, in ``related``, the other lines seen in them: the box's other SIMs, which suspending one line leaves
    running. Both are the case line's holding's (``lines``' ``holder_since``, else ``activated_at``), as
    ``sims_per_imei`` counts them: a device it was last seen in before its holding began is not its, and a line last
    seen in its device before then was not in the box beside it. Pairs without ``last_at`` are taken as seen now."""
    t = thresholds or SimboxThresholds()
    required, signals = _simbox(t)
    cases = _line_cases(Detector.SIMBOX, lines, required, signals, t.min_score, period=period, now=require_aware(now),
                        exempt=exempt, id_key=id_key)
    if devices is None or not cases:
        return cases
    starts = _holding_starts(lines, {c.subject for c in cases})
    return [_with_device(c, devices, since=starts.get(c.subject)) for c in cases]


def _holding_starts(lines: pl.DataFrame, msisdns: Collection[str]) -> dict[str, datetime]:
    """msisdn → when its current holding began, as its features say: ``holder_since`` (an owner change later than
    the activation), else ``activated_at``; a line with neither has none."""
    columns = [c for c in ("holder_since", "activated_at") if isinstance(lines.schema.get(c), pl.Datetime)]
    if not columns:
        return {}
    rows = lines.filter(pl.col("msisdn").is_in(list(msisdns))).select(
        "msisdn", pl.coalesce([pl.col(c).cast(pl.Datetime("us", "UTC")) for c in columns]).alias("_start"))
    return {m: at for m, at in rows.iter_rows() if isinstance(at, datetime)}


def _with_device(case: FraudCase, devices: pl.DataFrame, *, since: datetime | None = None) -> FraudCase:
    """The case with its line's devices shared with other lines (an IMEI, like a number, is personal data: kept
    where the case keeps its numbers, and shown by the API as it shows them) and those other lines. ``since``: when
    the case line's holding began; a pair (``devices``: imei, msisdn, last_at) last seen before it counts for
    neither (the devices of the line's holding, and in them the lines seen since it began: ``sims_per_imei``)."""
    utc = pl.Datetime("us", "UTC")
    last = (pl.col("last_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us") if "last_at" in devices.columns
            else pl.lit(None, dtype=utc))
    pairs = devices.select("imei", "msisdn", last.alias("last_at")).filter(
        pl.col("imei").is_not_null() & pl.col("msisdn").is_not_null())
    if since is not None:
        pairs = pairs.filter(pl.col("last_at").is_null() | (pl.col("last_at") >= pl.lit(require_aware(since), dtype=utc)))
    pairs = pairs.select("imei", "msisdn").unique()
    own = set(pairs.filter(pl.col("msisdn") == case.subject)["imei"].to_list())
    if not own:
        return case
    shared = pairs.filter(pl.col("imei").is_in(list(own)))
    others = sorted(set(shared["msisdn"].to_list()) - {case.subject})
    imeis = sorted(set(shared.filter(pl.col("msisdn") != case.subject)["imei"].to_list()))
    if not others:
        return case
    return replace(case, evidence={**case.evidence, "imeis": imeis, "device_lines": len(others) + 1},
                   related=tuple(sorted({*case.related, *others})))


def detect_irsf(lines: pl.DataFrame, thresholds: IrsfThresholds | None = None, *, period: str, now: datetime,
                exempt: Collection[str] = (), id_key: bytes | None = None, premium_zone: str = "intl-premium",
                zone_name: Mapping[str, str] | None = None, tz: str = DEMO_TIMEZONE) -> list[FraudCase]:
    """``zone_name``: the premium zone's catalog name per language, said in the reasons. The evidence's first and
    last premium calls are local times (``tz``, the operator's clock, with its offset), as a Wangiri case's are."""
    t = thresholds or IrsfThresholds()
    required, signals = _irsf(t, premium_zone, zone_name)
    return _line_cases(Detector.IRSF, lines, required, signals, t.min_score, period=period, now=require_aware(now),
                       exempt=exempt, id_key=id_key, tz=tz)


def detect_scam(lines: pl.DataFrame, thresholds: ScamThresholds | None = None, *, period: str, now: datetime,
                exempt: Collection[str] = (), id_key: bytes | None = None,
                brief_call_s: int = _DEFAULT_READING.brief_call_s, tz: str = DEMO_TIMEZONE) -> list[FraudCase]:
    """``brief_call_s``: the bound the features' ``brief_call_share`` was computed with, said in the reason.
    ``tz``: the operator's clock, on which a reason dates an owner change."""
    t = thresholds or ScamThresholds()
    required, signals = _scam(t, brief_call_s)
    return _line_cases(Detector.SCAM, lines, required, signals, t.min_score, period=period, now=require_aware(now),
                       exempt=exempt, id_key=id_key, clock=tz)


def _local_text(value: datetime, tz: str) -> str:
    return value.astimezone(zone(tz)).strftime("%Y-%m-%d %H:%M")


def _local_iso(value: Any, tz: str) -> Any:
    return value.astimezone(zone(tz)).isoformat() if isinstance(value, datetime) else _clean(value)


def detect_wangiri(
    callers: pl.DataFrame,
    callbacks: pl.DataFrame,
    thresholds: WangiriThresholds | None = None,
    *,
    period: str,
    now: datetime,
    premium_zone: str = "intl-premium",
    tz: str = DEMO_TIMEZONE,
    exempt: Collection[str] = (),
    id_key: bytes | None = None,
    one_ring_max_s: int = _DEFAULT_READING.one_ring_max_s,
    zone_name: Mapping[str, str] | None = None,
) -> tuple[list[FraudCase], list[CallbackNotice]]:
    """Cases against the calling numbers, and a protective notice for every subscriber who called one back.

    The notices are not cases: the subscribers are victims, told what happened and what to do.
    ``one_ring_max_s``: the bound the features' one-ring calls were counted with, said in the reason.
    ``zone_name``: the premium zone's catalog name per language (en, zh), said in the reason.
    The evidence's times are local (``tz``), as the notices' are.
    """
    t = thresholds or WangiriThresholds()
    now = require_aware(now)
    required, signals = _wangiri(t, premium_zone, one_ring_max_s, zone_name)
    frame = callers.with_columns((pl.col("zone") == premium_zone).cast(pl.Int8).alias("_premium"))
    no_case = exempt_numbers(exempt)
    if no_case:
        frame = frame.filter(~pl.col("peer").is_in(list(no_case)))
    hits = _evaluate(frame, required, signals, t.min_score)
    conds = [*required, *signals]
    flagged = set(hits["peer"].to_list())
    backs = callbacks.filter(pl.col("peer").is_in(list(flagged))) if flagged else callbacks.clear()
    by_peer: dict[str, list[dict[str, Any]]] = {}
    for row in backs.iter_rows(named=True):
        by_peer.setdefault(row["peer"], []).append(row)
    cases: list[FraudCase] = []
    notices: list[CallbackNotice] = []
    for row in hits.iter_rows(named=True):
        peer = row["peer"]
        cid = case_id(Detector.WANGIRI, peer, period, id_key)
        back = by_peer.get(peer, [])
        # a call back made abroad is priced by the roaming rules, not at the premium zone's rates
        premium_backs = sum(1 for b in back if b["zone"] == premium_zone and not b.get("roaming_country"))
        reasons = _reasons(row, conds)
        if back:
            reasons = (*reasons, Reason(
                code="callbacks", value=float(len(back)), threshold=None,
                en=f"{len(back)} subscriber call(s) back to it, {premium_backs} at premium rates",
                zh=f"{len(back)} 次用户回拨，其中 {premium_backs} 次按高资费计费",
            ))
        cases.append(FraudCase(
            case_id=cid,
            detector=Detector.WANGIRI,
            subject=peer,
            subject_kind="caller",
            period=period,
            score=round(float(row["_score"]), 4),
            evidence={
                "zone": row["zone"], "calls": row["calls"], "targets": row["targets"],
                "one_ring_share": _clean(row["one_ring_share"]), "mean_duration_s": _clean(row["mean_duration_s"]),
                "first_at": _local_iso(row["first_at"], tz), "last_at": _local_iso(row["last_at"], tz),
                "span_hours": _clean(row["span_hours"]), "callbacks": len(back), "premium_callbacks": premium_backs,
            },
            reasons=reasons,
            opened_at=now,
            related=tuple(sorted({b["msisdn"] for b in back})),
        ))
        for b in back:
            premium = b["zone"] == premium_zone
            when = _local_text(b["started_at"], tz)
            at_premium = premium and not b.get("roaming_country")  # abroad: charged at roaming rates
            rate_en = ", and calls to it are charged at premium rates" if at_premium else ""
            rate_zh = "，该号码按国际高资费计费" if at_premium else ""
            notices.append(CallbackNotice(
                notice_id=notice_id(cid, b["record_id"]),
                case_id=cid,
                msisdn=b["msisdn"],
                caller=peer,
                record_id=b["record_id"],
                source=b["source"],
                called_back_at=b["started_at"],
                duration_s=int(b["duration_s"] or 0),
                zone=b["zone"],
                premium=premium,
                text_en=(
                    f"On {when} you returned a missed call from +{peer}. It is a \"one-ring\" scam: the number rang "
                    f"many subscribers once so that they would call it back{rate_en}. "
                    "Please do not call back unknown international numbers; "
                    "if this call was charged, reply or call customer service to have it checked."
                ),
                text_zh=(
                    f"您于 {when} 回拨了未接来电 +{peer}。该号码向大量用户“响一声”后挂断，属于诈骗来电{rate_zh}。"
                    "请勿回拨陌生境外号码；如该通话已产生费用，请联系客服核查。"
                ),
            ))
    return cases, notices


@dataclass(frozen=True, slots=True)
class Detection:
    """What one run of the detectors over one period found."""

    period: str
    cases: tuple[FraudCase, ...]
    notices: tuple[CallbackNotice, ...]

    def counts(self) -> dict[str, int]:
        out = {d.value: 0 for d in RULE_DETECTORS}
        for c in self.cases:
            out[c.detector.value] += 1
        return out


def detect(
    features: FraudFeatures,
    thresholds: Thresholds | None = None,
    *,
    period: str,
    now: datetime,
    premium_zone: str = "intl-premium",
    tz: str = DEMO_TIMEZONE,
    exempt: Collection[str] = (),
    id_key: bytes | None = None,
    devices: pl.DataFrame | None = None,
    zone_name: Mapping[str, str] | None = None,
) -> Detection:
    """Every enabled detector over one period's features. ``exempt`` numbers (known business lines, a
    partner's call centre) never open a case. ``id_key``: the operator's key of case ids (``case_id``).
    The reasons state the durations the features were computed with (``features.config``; the defaults
    when the features do not say). ``devices``: the period's (imei, msisdn, last_at) pairs (``device_pairs``),
    for the other SIMs of a SIM-box (``detect_simbox``); ``zone_name``: the premium zone's catalog name per language."""
    t = thresholds or Thresholds()
    reading = features.config or _DEFAULT_READING
    cases: list[FraudCase] = []
    notices: list[CallbackNotice] = []
    if Detector.SIMBOX in t.enabled:
        cases += detect_simbox(features.lines, t.simbox, period=period, now=now, exempt=exempt, id_key=id_key,
                               devices=devices)
    if Detector.WANGIRI in t.enabled:
        w, notices = detect_wangiri(features.callers, features.callbacks, t.wangiri, period=period, now=now,
                                    premium_zone=premium_zone, tz=tz, exempt=exempt, id_key=id_key,
                                    one_ring_max_s=reading.one_ring_max_s, zone_name=zone_name)
        cases += w
    if Detector.IRSF in t.enabled:
        cases += detect_irsf(features.lines, t.irsf, period=period, now=now, exempt=exempt, id_key=id_key,
                             premium_zone=premium_zone, zone_name=zone_name, tz=tz)
    if Detector.SCAM in t.enabled:
        cases += detect_scam(features.lines, t.scam, period=period, now=now, exempt=exempt, id_key=id_key,
                             brief_call_s=reading.brief_call_s, tz=tz)
    return Detection(period=period, cases=tuple(cases), notices=tuple(notices))
