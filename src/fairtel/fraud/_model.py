"""The supervised fraud model: the shared tabular scorer with the words of fraud investigation.

Works on any labelled per-user table; the phrasebook below names the features of the Sichuan fraud-call
data and of fairtel's own usage features, so that a flagged line comes with reasons an analyst can act on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import polars as pl

from fairtel.fraud._features import FeatureConfig
from fairtel.learn import Phrase, Progress, TabularModel, TrainOptions, phrase_key, train_model

TASK = "fraud"

_PHRASES: dict[str, Phrase] = {
    "opposite_count": Phrase("many calls ({value})", "通话次数多（{value}）", "few calls ({value})", "通话次数少（{value}）"),
    "opposite_unique": Phrase("many distinct callees ({value})", "被叫号码多且分散（{value}个）",
                              "few distinct callees ({value})", "联系的号码少（{value}个）"),
    "voccalltype1": Phrase("many outgoing calls ({value})", "主叫次数多（{value}）", "few outgoing calls ({value})", "主叫次数少（{value}）"),
    "voc_calltype1": Phrase("calls are mostly outgoing ({value})", "主叫占比高（{value}）",
                            "calls are mostly incoming ({value})", "被叫占比高（{value}）"),
    "sms_count": Phrase("many SMS ({value})", "短信多（{value}条）", "few SMS ({value})", "短信很少（{value}条）"),
    "imeis": Phrase("several handsets used ({value} IMEIs)", "使用多部手机（{value}个IMEI）"),
    "idcard_cnt": Phrase("several ID cards behind the line ({value})", "关联多个身份证（{value}）"),
    "phone2opposite_mean": Phrase("calls each number many times ({value})", "对同一号码反复拨打（{value}次）",
                                  "rarely calls the same number twice ({value})", "很少重复联系同一号码（{value}次）"),
    "phone2opposite_median": Phrase("calls each number many times ({value})", "对同一号码反复拨打（{value}次）",
                                    "rarely calls the same number twice ({value})", "很少重复联系同一号码（{value}次）"),
    "call_dur_mean": Phrase("long calls on average ({value} s)", "平均通话时长较长（{value}秒）",
                            "short calls on average ({value} s)", "平均通话时长短（{value}秒）"),
    "call_dur_median": Phrase("long typical call ({value} s)", "通话时长中位数较长（{value}秒）",
                              "short typical call ({value} s)", "通话时长中位数短（{value}秒）"),
    "city_name_call": Phrase("calls from many cities ({value})", "在多个城市通话（{value}）"),
    "city_name_nunique": Phrase("calls from many cities ({value})", "在多个城市通话（{value}）"),
    "county_name_call": Phrase("calls from many counties ({value})", "在多个区县通话（{value}）"),
    "county_name_nunique": Phrase("calls from many counties ({value})", "在多个区县通话（{value}）"),
    "voc_day_nunique": Phrase("calls on many days ({value})", "通话天数多（{value}天）",
                              "active on few days ({value})", "通话天数少（{value}天），疑似短期突击使用"),
    "voc_hour_mode_count": Phrase("calls bunched in one hour of day ({value})", "通话集中在同一时段（{value}次）"),
    "voc_day_mode_count": Phrase("calls bunched on one day ({value})", "通话集中在同一天（{value}次）"),
    "flow_sum": Phrase("heavy mobile data use ({value})", "流量使用多（{value}）", "little mobile data use ({value})", "几乎不用流量（{value}）"),
    "flow_mean": Phrase("heavy mobile data use ({value})", "流量使用多（{value}）", "little mobile data use ({value})", "几乎不用流量（{value}）"),
    "busi_count": Phrase("many app sessions ({value})", "应用使用多（{value}）", "few app sessions ({value})", "应用使用很少（{value}）"),
    "arpu_mean": Phrase("high monthly spend ({value})", "月消费较高（{value}元）", "low monthly spend ({value})", "月消费较低（{value}元）"),
    "arpu_max": Phrase("high peak monthly spend ({value})", "最高月消费较高（{value}元）"),
    "arpu_sum": Phrase("high total spend ({value})", "总消费较高（{value}元）", "low total spend ({value})", "总消费较低（{value}元）"),
    "month_ids": Phrase("active for many months ({value})", "在网月数多（{value}）", "new or short-lived line ({value} month{s})", "新入网或短期号码（{value}个月）"),
    # features derived from raw call tables (fairtel's own usage features and the evaluation's feature builder)
    "distinct_callees": Phrase("many distinct callees ({value})", "被叫号码多且分散（{value}个）"),
    "unique_ratio": Phrase("most numbers called only once ({value})", "大部分号码只联系一次（{value}）",
                           "calls the same people repeatedly ({value})", "经常联系固定号码（{value}）"),
    "callback_ratio": Phrase("many callees call back ({value})", "回拨比例高（{value}）", "few callees ever call back ({value})", "很少有人回拨（{value}）"),
    "night_share": Phrase("many night calls ({value})", "夜间通话占比高（{value}）"),
    "short_call_share": Phrase("many very short calls ({value})", "极短通话占比高（{value}）"),
    "outgoing_share": Phrase("calls are mostly outgoing ({value})", "主叫占比高（{value}）", "calls are mostly incoming ({value})", "被叫占比高（{value}）"),
    "calls_per_day": Phrase("many calls per active day ({value})", "日均通话次数多（{value}）"),
    "callees_per_day": Phrase("many new callees per day ({value})", "日均联系号码多（{value}）"),
    "imei_count": Phrase("several handsets used ({value})", "使用多部手机（{value}）"),
    # fairtel's own per-line features (compute_features; `fraud features` exports them)
    "calls_out": Phrase("many outgoing calls ({value})", "主叫次数多（{value}）", "few outgoing calls ({value})", "主叫次数少（{value}）"),
    "calls_in": Phrase("many incoming calls ({value})", "被叫次数多（{value}）", "few incoming calls ({value})", "很少有人来电（{value}次）"),
    "distinct_callers": Phrase("called by many numbers ({value})", "来电号码多（{value}个）",
                               "called by few numbers ({value})", "来电号码少（{value}个）"),
    "callees_calling_back": Phrase("many callees call back ({value})", "回拨的号码多（{value}个）",
                                   "few callees call back ({value})", "回拨的号码少（{value}个）"),
    "active_days": Phrase("active on many days ({value})", "活跃天数多（{value}天）", "active on few days ({value})", "活跃天数少（{value}天）"),
    "sms_out": Phrase("many SMS sent ({value})", "发送短信多（{value}条）", "few SMS sent ({value})", "很少发短信（{value}条）"),
    "sms_in": Phrase("many SMS received ({value})", "收到短信多（{value}条）", "few SMS received ({value})", "很少收到短信（{value}条）"),
    "median_out_duration_s": Phrase("long typical outgoing call ({value} s)", "主叫时长中位数长（{value}秒）",
                                    "short typical outgoing call ({value} s)", "主叫时长中位数短（{value}秒）"),
    "calls_out_per_day": Phrase("many outgoing calls a day ({value})", "日均主叫次数多（{value}）",
                                "few outgoing calls a day ({value})", "日均主叫次数少（{value}）"),
    "out_in_ratio": Phrase("far more calls made than received ({value} per incoming)", "主叫远多于被叫（主被叫比 {value}）"),
    "callee_diversity": Phrase("almost every call to a different number ({value})", "几乎每次呼叫不同号码（{value}）",
                               "calls the same people repeatedly ({value})", "经常联系固定号码（{value}）"),
    "callback_share": Phrase("many callees call back ({value})", "回拨比例高（{value}）",
                             "few callees ever call back ({value})", "很少有人回拨（{value}）"),
    "distinct_imeis": Phrase("several handsets used ({value})", "使用多部手机（{value}个IMEI）"),
    "sims_per_imei": Phrase("its handset carried several SIM cards ({value})", "同一终端使用多张SIM卡（{value}）"),
    "distinct_cells": Phrase("calls from many cells ({value})", "在多个基站下通话（{value}）",
                             "calls from one place only ({value} cell{s})", "只在一处通话（{value}个基站）"),
    "sms_per_day": Phrase("many SMS a day ({value})", "日均短信多（{value}）", "hardly any SMS ({value} a day)", "几乎不发短信（日均{value}）"),
    "data_sessions_per_day": Phrase("much mobile data use ({value} session{s} a day)", "日均上网次数多（{value}）",
                                    "hardly any mobile data ({value} session{s} a day)", "几乎不用流量（日均{value}次）"),
    "office_hours_share": Phrase("calls mostly in office hours ({value})", "通话集中在工作时间（{value}）",
                                 "calls mostly outside office hours ({value})", "通话多在非工作时间（{value}）"),
    "intl_share": Phrase("many international calls ({value})", "国际通话占比高（{value}）"),
    "premium_minutes": Phrase("many minutes to premium international numbers ({value})", "拨打国际高额号码时长多（{value}分钟）"),
    "premium_calls": Phrase("many calls to premium international numbers ({value})", "拨打国际高额号码次数多（{value}）"),
    "line_age_days": Phrase("an old line ({value} day{s})", "老号码（{value}天）", "a new line ({value} day{s})", "新开号码（{value}天）"),
    "callbacks_to_one_ring": Phrase("called back one-ring numbers ({value})", "回拨了响一声号码（{value}次）"),
    "mean_out_duration_s": Phrase("long outgoing calls ({value} s)", "主叫平均时长长（{value}秒）",
                                  "short outgoing calls ({value} s)", "主叫平均时长短（{value}秒）"),
}


def _reading_phrases(reading: FeatureConfig) -> dict[str, Phrase]:
    """The phrases of features counted against a configured duration, stating the one they were counted with."""
    brief = reading.brief_call_s
    return {"brief_call_share": Phrase(f"many brief calls under {brief} s ({{value}})", f"{brief}秒以内短通话占比高（{{value}}）")}


def fraud_phrases(reading: FeatureConfig | None = None) -> dict[str, Phrase]:
    """The fraud phrasebook, its reasons stating the durations the features were computed with
    (``FraudFeatures.config``; the features' defaults when not known, as for a table read from a file)."""
    return {**_PHRASES, **_reading_phrases(reading or FeatureConfig())}


FRAUD_PHRASES: dict[str, Phrase] = fraud_phrases()


def restate(model: TabularModel, reading: FeatureConfig | None) -> TabularModel:
    """``model`` with the reasons of its duration-bound features worded for features computed with
    ``reading``: the durations a line's features were counted with when it is scored, which may not be the
    ones of the table the model was trained on (nor the default its stored words say). ``None``: as it is."""
    if reading is None:
        return model
    worded = {phrase_key(k): v for k, v in _reading_phrases(reading).items()}  # matched as training matched them
    return replace(model, phrases={**model.phrases, **{n: worded[phrase_key(n)] for n in model.spec.names if phrase_key(n) in worded}})


# A table exported by `fraud features` carries the line and the period of each row: keys, never behaviour to
# learn. The line's number repeats once per period, so without ``id_column`` it would not look like an id and
# would be learned as a number.
PERIOD_COLUMN = "period"
LINE_COLUMN = "msisdn"


def train_fraud_model(
    frame: pl.DataFrame,
    *,
    label: str,
    id_column: str | None = None,
    exclude: Iterable[str] = (),
    options: TrainOptions | None = None,
    source: str = "table",
    progress: Progress | None = None,
    reading: FeatureConfig | None = None,
) -> TabularModel:
    """Train the fraud scorer on a labelled per-user table (1 row per line or subscriber). A ``period``
    column (the layout of `fraud features --out`) is left out of the features, and without ``id_column`` an
    ``msisdn`` column is the id. ``reading``: the config the table's features were computed with
    (``FraudFeatures.config``), whose durations the reasons state; the features' defaults when not given."""
    excluded = list(exclude)
    if PERIOD_COLUMN in frame.columns and label != PERIOD_COLUMN and PERIOD_COLUMN not in excluded:
        excluded.append(PERIOD_COLUMN)
    if id_column is None and LINE_COLUMN in frame.columns and label != LINE_COLUMN:
        id_column = LINE_COLUMN
    return train_model(
        frame, label=label, id_column=id_column, exclude=excluded, options=options, task=TASK,
        phrasebook=fraud_phrases(reading), source=source, progress=progress,
    )
