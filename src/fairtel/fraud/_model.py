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

def _p(name_en: str, name_zh: str, unit: str, high_en: str, high_zh: str, low_en: str = "", low_zh: str = "") -> Phrase:
    """A feature's words: its name, the unit of its values, and what a high (and a low) value says."""
    return Phrase(high_en, high_zh, low_en, low_zh, name_en=name_en, name_zh=name_zh, unit=unit)


# Units (``Phrase.unit``): "count" whole numbers, "share" a percentage, "s" seconds (minutes from 10 minutes
# on), "min" minutes, "bytes" and "mb" MB or GB, "yuan" money; "" a figure as it is (ratios, hours, variances).
_PHRASES: dict[str, Phrase] = {
    # the Sichuan fraud-call data (per-user aggregates of call, SMS, app-traffic and user tables)
    "opposite_count": _p("calls", "通话次数", "count", "many calls ({value})", "通话次数多（{value}）",
                         "few calls ({value})", "通话次数少（{value}）"),
    "opposite_unique": _p("distinct numbers in contact", "通话对端号码数", "count", "many distinct callees ({value})",
                          "被叫号码多且分散（{value}个）", "few distinct callees ({value})", "联系的号码少（{value}个）"),
    "voccalltype1": _p("outgoing calls", "主叫次数", "count", "many outgoing calls ({value})", "主叫次数多（{value}）",
                       "few outgoing calls ({value})", "主叫次数少（{value}）"),
    "voc_calltype1": _p("share of calls that are outgoing", "主叫占比", "share", "calls are mostly outgoing ({value})",
                        "主叫占比高（{value}）", "calls are mostly incoming ({value})", "被叫占比高（{value}）"),
    "imeis": _p("handsets used (IMEIs)", "使用的手机数（IMEI）", "count", "several handsets used ({value} IMEIs)",
                "使用多部手机（{value}个 IMEI）", "a single handset ({value} IMEI{s})", "只用一部手机（{value}个 IMEI）"),
    "idcard_cnt": _p("ID cards behind the line", "关联身份证数", "count", "several ID cards behind the line ({value})",
                     "关联多个身份证（{value}）"),
    "city_name_call": _p("cities called from", "通话城市数", "count", "calls from many cities ({value})",
                         "在多个城市通话（{value}）", "calls from one city only ({value})", "只在一个城市通话（{value}）"),
    "city_name_nunique": _p("cities called from", "通话城市数", "count", "calls from many cities ({value})",
                            "在多个城市通话（{value}）", "calls from one city only ({value})", "只在一个城市通话（{value}）"),
    "county_name_call": _p("counties called from", "通话区县数", "count", "calls from many counties ({value})",
                           "在多个区县通话（{value}）", "calls from few counties ({value})", "通话区县少（{value}）"),
    "county_name_nunique": _p("counties called from", "通话区县数", "count", "calls from many counties ({value})",
                              "在多个区县通话（{value}）", "calls from few counties ({value})", "通话区县少（{value}）"),
    "phone2opposite_mean": _p("calls per number (mean)", "每个号码的平均通话次数", "count",
                              "calls each number many times ({value})", "对同一号码反复拨打（{value}次）",
                              "rarely calls the same number twice ({value})", "很少重复联系同一号码（{value}次）"),
    "phone2opposite_median": _p("calls per number (median)", "每个号码的通话次数中位数", "count",
                                "calls each number many times ({value})", "对同一号码反复拨打（{value}次）",
                                "rarely calls the same number twice ({value})", "很少重复联系同一号码（{value}次）"),
    "phone2opposite_max": _p("most calls with one number", "与单一号码的最多通话次数", "count",
                             "calls one number very often ({value} times)", "与某一号码通话极多（{value}次）",
                             "no number called often (at most {value})", "没有经常联系的号码（最多{value}次）"),
    "phone2oppo_sum_mean": _p("call time per number (mean)", "每个号码的平均累计通话时长", "s",
                              "long call time per number ({value})", "与每个号码累计通话时间长（{value}）",
                              "little call time per number ({value})", "与每个号码累计通话时间短（{value}）"),
    "phone2oppo_sum_median": _p("call time per number (median)", "每个号码累计通话时长中位数", "s",
                                "long call time per number ({value})", "与每个号码累计通话时间长（{value}）",
                                "little call time per number ({value})", "与每个号码累计通话时间短（{value}）"),
    "phone2oppo_sum_max": _p("most call time with one number", "与单一号码的最长累计通话时长", "s",
                             "long call time with one number ({value})", "与某一号码累计通话时间很长（{value}）",
                             "no long talks with any number (at most {value})", "与任何号码的通话都很短（最长{value}）"),
    "call_dur_mean": _p("mean call duration", "平均通话时长", "s", "long calls on average ({value})",
                        "平均通话时长较长（{value}）", "short calls on average ({value})", "平均通话时长短（{value}）"),
    "call_dur_median": _p("median call duration", "通话时长中位数", "s", "long typical call ({value})",
                          "通话时长中位数较长（{value}）", "short typical call ({value})", "通话时长中位数短（{value}）"),
    "call_dur_max": _p("longest call", "最长通话时长", "s", "a very long call ({value})", "有很长的通话（{value}）",
                       "no call lasted long (longest {value})", "没有较长的通话（最长{value}）"),
    "call_dur_min": _p("shortest call", "最短通话时长", "s", "even the shortest call was long ({value})",
                       "最短的通话也较长（{value}）", "very short calls ({value} the shortest)", "有极短的通话（最短{value}）"),
    "calltype_id_unique": _p("kinds of call (outgoing, incoming, forwarded)", "通话类型数（主叫、被叫、呼转）", "count",
                             "calls of several kinds ({value})", "通话类型多（{value}种）",
                             "calls of one kind only ({value})", "只有一种通话类型（{value}种）"),
    "voc_hour_mode": _p("hour of day with the most calls", "通话最多的时段", "",
                        "calls peak late in the day (hour {value})", "通话高峰在较晚时段（{value}点）",
                        "calls peak early in the day (hour {value})", "通话高峰在较早时段（{value}点）"),
    "voc_hour_mode_count": _p("calls in the busiest hour of day", "最集中时段的通话次数", "count",
                              "calls bunched in one hour of day ({value})", "通话集中在同一时段（{value}次）",
                              "calls spread over the day ({value} in the busiest hour)", "通话分散在各时段（最多{value}次）"),
    "voc_hour_nunique": _p("hours of day with calls", "有通话的时段数", "count", "calls at many hours of the day ({value})",
                           "通话分布在多个时段（{value}个）", "calls in few hours of the day ({value})",
                           "通话集中在少数时段（{value}个）"),
    "voc_day_mode": _p("day of month with the most calls", "通话最多的日期", "",
                       "calls peak late in the month (day {value})", "通话高峰在月末（{value}日）",
                       "calls peak early in the month (day {value})", "通话高峰在月初（{value}日）"),
    "voc_day_mode_count": _p("calls on the busiest day", "最集中一天的通话次数", "count",
                             "calls bunched on one day ({value})", "通话集中在同一天（{value}次）",
                             "calls spread over the days ({value} on the busiest)", "通话分散在各天（最多{value}次）"),
    "voc_day_nunique": _p("days with calls", "通话天数", "count", "calls on many days ({value})", "通话天数多（{value}天）",
                          "active on few days ({value})", "通话天数少（{value}天），疑似短期突击使用"),
    "sms_count": _p("SMS", "短信条数", "count", "many SMS ({value})", "短信多（{value}条）", "few SMS ({value})",
                    "短信很少（{value}条）"),
    "sms_nunique": _p("distinct SMS contacts", "短信联系号码数", "count", "SMS with many numbers ({value})",
                      "短信联系号码多（{value}个）", "SMS with few numbers ({value})", "短信联系号码少（{value}个）"),
    "sms_rate": _p("SMS per contact", "每个号码的短信数", "count", "many SMS per contact ({value})",
                   "与每个号码短信往来多（{value}条）", "few SMS per contact ({value})", "与每个号码短信往来少（{value}条）"),
    "calltype_2": _p("SMS received", "收到短信数", "count", "many SMS received ({value})", "收到短信多（{value}条）",
                     "few SMS received ({value})", "很少收到短信（{value}条）"),
    "calltype_rate": _p("share of SMS that are received", "收到短信占比", "share", "SMS mostly received ({value})",
                        "短信多为接收（{value}）", "SMS mostly sent ({value} received)", "短信多为发送（接收占{value}）"),
    "hour_mode": _p("hour of day with the most SMS", "短信最多的时段", "",
                    "SMS peak late in the day (hour {value})", "短信高峰在较晚时段（{value}点）",
                    "SMS peak early in the day (hour {value})", "短信高峰在较早时段（{value}点）"),
    "hour_mode_count": _p("SMS in the busiest hour of day", "最集中时段的短信数", "count",
                          "SMS bunched in one hour of day ({value})", "短信集中在同一时段（{value}条）",
                          "SMS spread over the day ({value} in the busiest hour)", "短信分散在各时段（最多{value}条）"),
    "hour_nunique": _p("hours of day with SMS", "有短信的时段数", "count", "SMS at many hours of the day ({value})",
                       "短信分布在多个时段（{value}个）", "SMS in few hours of the day ({value})", "短信集中在少数时段（{value}个）"),
    "day_mode": _p("day of month with the most SMS", "短信最多的日期", "",
                   "SMS peak late in the month (day {value})", "短信高峰在月末（{value}日）",
                   "SMS peak early in the month (day {value})", "短信高峰在月初（{value}日）"),
    "day_mode_count": _p("SMS on the busiest day", "最集中一天的短信数", "count", "SMS bunched on one day ({value})",
                         "短信集中在同一天（{value}条）", "SMS spread over the days ({value} on the busiest)",
                         "短信分散在各天（最多{value}条）"),
    "day_nunique": _p("days with SMS", "有短信的天数", "count", "SMS on many days ({value})", "短信天数多（{value}天）",
                      "SMS on few days ({value})", "短信天数少（{value}天）"),
    "busi_count": _p("app sessions", "应用使用次数", "count", "many app sessions ({value})", "应用使用多（{value}）",
                     "few app sessions ({value})", "应用使用很少（{value}）"),
    "flow_mean": _p("mobile data per month (mean)", "月均流量", "mb", "heavy mobile data use ({value})", "流量使用多（{value}）",
                    "little mobile data use ({value})", "几乎不用流量（{value}）"),
    "flow_median": _p("mobile data per session (median)", "流量中位数", "mb", "heavy mobile data use ({value})",
                      "流量使用多（{value}）", "little mobile data use ({value})", "几乎不用流量（{value}）"),
    "flow_min": _p("least mobile data", "最少流量", "mb", "steady mobile data use (at least {value})",
                   "流量使用稳定（最少{value}）", "some periods without data ({value} the least)", "有几乎不用流量的时候（最少{value}）"),
    "flow_max": _p("most mobile data", "最多流量", "mb", "a peak of heavy data use ({value})", "有流量使用高峰（{value}）",
                   "never much mobile data (at most {value})", "流量一直很少（最多{value}）"),
    "flow_var": _p("variation of mobile data use", "流量波动", "", "mobile data use varies a lot ({value})",
                   "流量波动大（{value}）", "steady mobile data use ({value})", "流量平稳（{value}）"),
    "flow_sum": _p("mobile data in total", "总流量", "mb", "heavy mobile data use ({value})", "流量使用多（{value}）",
                   "little mobile data use ({value})", "几乎不用流量（{value}）"),
    "flow_month": _p("mobile data per month", "每月流量", "mb", "heavy mobile data use ({value} a month)",
                     "每月流量多（{value}）", "little mobile data ({value} a month)", "每月流量少（{value}）"),
    "month_ids": _p("months with a bill", "在网月数", "count", "active for many months ({value})", "在网月数多（{value}）",
                    "new or short-lived line ({value} month{s})", "新入网或短期号码（{value}个月）"),
    "arpu_mean": _p("monthly spend (mean)", "月均消费", "yuan", "high monthly spend ({value})", "月消费较高（{value}）",
                    "low monthly spend ({value})", "月消费较低（{value}）"),
    "arpu_median": _p("monthly spend (median)", "月消费中位数", "yuan", "high monthly spend ({value})", "月消费较高（{value}）",
                      "low monthly spend ({value})", "月消费较低（{value}）"),
    "arpu_quantile": _p("monthly spend (median)", "月消费中位数", "yuan", "high monthly spend ({value})",
                        "月消费较高（{value}）", "low monthly spend ({value})", "月消费较低（{value}）"),
    "arpu_max": _p("highest monthly spend", "最高月消费", "yuan", "high peak monthly spend ({value})", "最高月消费较高（{value}）",
                   "never a high bill (at most {value})", "月消费一直较低（最高{value}）"),
    "arpu_min": _p("lowest monthly spend", "最低月消费", "yuan", "high spend even in the lowest month ({value})",
                   "最低月消费也较高（{value}）", "a month of very low spend ({value})", "有月消费很低的月份（{value}）"),
    "arpu_sum": _p("total spend", "总消费", "yuan", "high total spend ({value})", "总消费较高（{value}）",
                   "low total spend ({value})", "总消费较低（{value}）"),
    "arpu_var": _p("variation of monthly spend", "月消费波动", "", "monthly spend varies a lot ({value})",
                   "月消费波动大（{value}）", "steady monthly spend ({value})", "月消费平稳（{value}）"),
    "arpu_sem": _p("uncertainty of the mean monthly spend", "月消费均值的标准误", "",
                   "monthly spend varies a lot ({value})", "月消费波动大（{value}）", "steady monthly spend ({value})",
                   "月消费平稳（{value}）"),
    "arpu_skew": _p("skew of monthly spend", "月消费偏度", "", "a few months of much higher spend ({value})",
                    "个别月份消费明显偏高（偏度{value}）", "a few months of much lower spend ({value})",
                    "个别月份消费明显偏低（偏度{value}）"),
    # features derived from raw call tables (the evaluation's feature builder)
    "distinct_callees": _p("distinct numbers called", "被叫号码数", "count", "many distinct callees ({value})",
                           "被叫号码多且分散（{value}个）", "few distinct callees ({value})", "联系的号码少（{value}个）"),
    "unique_ratio": _p("share of numbers called only once", "只联系一次的号码占比", "share",
                       "most numbers called only once ({value})", "大部分号码只联系一次（{value}）",
                       "calls the same people repeatedly ({value})", "经常联系固定号码（{value}）"),
    "callback_ratio": _p("share of callees who call back", "回拨比例", "share", "many callees call back ({value})",
                         "回拨比例高（{value}）", "few callees ever call back ({value})", "很少有人回拨（{value}）"),
    "outgoing_share": _p("share of calls that are outgoing", "主叫占比", "share", "calls are mostly outgoing ({value})",
                         "主叫占比高（{value}）", "calls are mostly incoming ({value})", "被叫占比高（{value}）"),
    "calls_per_day": _p("calls per active day", "日均通话次数", "count", "many calls per active day ({value})",
                        "日均通话次数多（{value}）", "few calls per active day ({value})", "日均通话次数少（{value}）"),
    "callees_per_day": _p("new callees per day", "日均联系号码数", "count", "many new callees per day ({value})",
                          "日均联系号码多（{value}）", "few new callees per day ({value})", "日均联系号码少（{value}）"),
    "imei_count": _p("handsets used (IMEIs)", "使用的手机数（IMEI）", "count", "several handsets used ({value})",
                     "使用多部手机（{value}）", "a single handset ({value})", "只用一部手机（{value}）"),
    # fairtel's own per-line features (compute_features; `fraud features` exports them)
    "calls_out": _p("outgoing calls", "主叫次数", "count", "many outgoing calls ({value})", "主叫次数多（{value}）",
                    "few outgoing calls ({value})", "主叫次数少（{value}）"),
    "calls_out_answered": _p("answered outgoing calls", "接通的主叫次数", "count", "many answered outgoing calls ({value})",
                             "接通的主叫多（{value}次）", "few outgoing calls answered ({value})", "主叫接通少（{value}次）"),
    "calls_in": _p("incoming calls", "被叫次数", "count", "many incoming calls ({value})", "被叫次数多（{value}）",
                   "few incoming calls ({value})", "很少有人来电（{value}次）"),
    "distinct_callers": _p("distinct numbers calling in", "来电号码数", "count", "called by many numbers ({value})",
                           "来电号码多（{value}个）", "called by few numbers ({value})", "来电号码少（{value}个）"),
    "callees_calling_back": _p("callees who called back", "回拨的号码数", "count", "many callees call back ({value})",
                               "回拨的号码多（{value}个）", "few callees call back ({value})", "回拨的号码少（{value}个）"),
    "active_days": _p("active days", "活跃天数", "count", "active on many days ({value})", "活跃天数多（{value}天）",
                      "active on few days ({value})", "活跃天数少（{value}天）"),
    "roaming_days": _p("days roaming", "漫游天数", "count", "many days roaming ({value})", "漫游天数多（{value}天）",
                       "few days roaming ({value})", "漫游天数少（{value}天）"),
    "sms_out": _p("SMS sent", "发送短信数", "count", "many SMS sent ({value})", "发送短信多（{value}条）",
                  "few SMS sent ({value})", "很少发短信（{value}条）"),
    "sms_in": _p("SMS received", "收到短信数", "count", "many SMS received ({value})", "收到短信多（{value}条）",
                 "few SMS received ({value})", "很少收到短信（{value}条）"),
    "data_sessions": _p("mobile data sessions", "上网次数", "count", "many mobile data sessions ({value})",
                        "上网次数多（{value}次）", "hardly any mobile data sessions ({value})", "几乎不上网（{value}次）"),
    "data_bytes": _p("mobile data used", "上网流量", "bytes", "heavy mobile data use ({value})", "上网流量大（{value}）",
                     "hardly any mobile data ({value})", "几乎不用流量（{value}）"),
    "median_out_duration_s": _p("median answered outgoing call", "主叫时长中位数", "s",
                                "long typical outgoing call ({value})", "主叫时长中位数长（{value}）",
                                "short typical outgoing call ({value})", "主叫时长中位数短（{value}）"),
    "mean_out_duration_s": _p("mean answered outgoing call", "主叫平均时长", "s", "long outgoing calls ({value})",
                              "主叫平均时长长（{value}）", "short outgoing calls ({value})", "主叫平均时长短（{value}）"),
    "calls_out_per_day": _p("outgoing calls a day", "日均主叫次数", "count", "many outgoing calls a day ({value})",
                            "日均主叫次数多（{value}）", "few outgoing calls a day ({value})", "日均主叫次数少（{value}）"),
    "out_in_ratio": _p("outgoing calls per incoming call", "主被叫比", "count",
                       "far more calls made than received ({value} per incoming)", "主叫远多于被叫（主被叫比 {value}）",
                       "few calls made for the calls received ({value} per incoming)", "主叫少于被叫（主被叫比 {value}）"),
    "callee_diversity": _p("distinct numbers per outgoing call", "被叫号码分散度（不同号码数/主叫次数）", "share",
                           "almost every call to a different number ({value})", "几乎每次呼叫不同号码（{value}）",
                           "calls the same people repeatedly ({value})", "经常联系固定号码（{value}）"),
    "callback_share": _p("share of callees who called back", "回拨比例", "share", "many callees call back ({value})",
                         "回拨比例高（{value}）", "few callees ever call back ({value})", "很少有人回拨（{value}）"),
    "short_call_share": _p("share of very short outgoing calls", "极短主叫占比", "share",
                           "many very short calls ({value})", "极短通话占比高（{value}）",
                           "few very short calls ({value})", "极短通话占比低（{value}）"),
    "night_share": _p("share of outgoing calls at night", "夜间主叫占比", "share", "many night calls ({value})",
                      "夜间通话占比高（{value}）", "few night calls ({value})", "夜间通话占比低（{value}）"),
    "office_hours_share": _p("share of outgoing calls in office hours", "工作时间主叫占比", "share",
                             "calls mostly in office hours ({value})", "通话集中在工作时间（{value}）",
                             "calls mostly outside office hours ({value})", "通话多在非工作时间（{value}）"),
    "intl_share": _p("share of outgoing calls abroad", "国际主叫占比", "share", "many international calls ({value})",
                     "国际通话占比高（{value}）", "few international calls ({value})", "国际通话占比低（{value}）"),
    "intl_calls_out": _p("international calls made", "国际主叫次数", "count", "many international calls ({value})",
                         "国际通话多（{value}次）", "few international calls ({value})", "国际通话少（{value}次）"),
    "premium_calls": _p("calls to premium international numbers", "拨打国际高额号码次数", "count",
                        "many calls to premium international numbers ({value})", "拨打国际高额号码次数多（{value}）",
                        "few calls to premium international numbers ({value})", "拨打国际高额号码次数少（{value}）"),
    "premium_minutes": _p("minutes to premium international numbers", "拨打国际高额号码时长", "min",
                          "many minutes to premium international numbers ({value})", "拨打国际高额号码时长多（{value}）",
                          "few minutes to premium international numbers ({value})", "拨打国际高额号码时长少（{value}）"),
    "premium_numbers": _p("premium international numbers called", "拨打的国际高额号码数", "count",
                          "called many premium international numbers ({value})", "拨打多个国际高额号码（{value}个）",
                          "called few premium international numbers ({value})", "拨打的国际高额号码少（{value}个）"),
    "premium_night_share": _p("share of premium calls made at night", "国际高额呼叫中夜间占比", "share",
                              "premium calls mostly at night ({value})", "国际高额呼叫多在夜间（{value}）",
                              "premium calls mostly by day ({value} at night)", "国际高额呼叫多在白天（夜间占{value}）"),
    "premium_roaming_calls": _p("premium calls made while roaming", "漫游时拨打国际高额号码次数", "count",
                                "premium-rate calls made while roaming ({value})", "漫游时拨打国际高额号码（{value}次）",
                                "few premium-rate calls while roaming ({value})", "漫游时很少拨打国际高额号码（{value}次）"),
    "premium_line_age_days": _p("days from activation to the first premium call", "开户到首次拨打国际高额号码的天数", "count",
                                "premium calls began long after activation ({value} day{s})",
                                "开户较久后才拨打国际高额号码（{value}天）",
                                "premium calls began soon after activation ({value} day{s})",
                                "开户后很快拨打国际高额号码（{value}天）"),
    "distinct_imeis": _p("handsets used (IMEIs)", "使用的手机数（IMEI）", "count", "several handsets used ({value})",
                         "使用多部手机（{value}个 IMEI）", "a single handset ({value})", "只用一部手机（{value}个 IMEI）"),
    "sims_per_imei": _p("most SIM cards seen in its handset", "同一终端的最多 SIM 卡数", "count",
                        "its handset carried several SIM cards ({value})", "同一终端使用多张 SIM 卡（{value}）",
                        "one SIM card in its handset ({value})", "终端只用一张 SIM 卡（{value}）"),
    "distinct_cells": _p("cells called from", "通话基站数", "count", "calls from many cells ({value})",
                         "在多个基站下通话（{value}）", "calls from one place only ({value} cell{s})", "只在一处通话（{value}个基站）"),
    "sms_per_day": _p("SMS a day", "日均短信数", "count", "many SMS a day ({value})", "日均短信多（{value}）",
                      "hardly any SMS ({value} a day)", "几乎不发短信（日均{value}）"),
    "data_sessions_per_day": _p("mobile data sessions a day", "日均上网次数", "count",
                                "much mobile data use ({value} session{s} a day)", "日均上网次数多（{value}）",
                                "hardly any mobile data ({value} session{s} a day)", "几乎不用流量（日均{value}次）"),
    "line_age_days": _p("age of the line", "号码在网天数", "count", "an old line ({value} day{s})", "老号码（{value}天）",
                        "a new line ({value} day{s})", "新开号码（{value}天）"),
    "callbacks_to_one_ring": _p("callbacks to one-ring numbers", "回拨响一声号码次数", "count",
                                "called back one-ring numbers ({value})", "回拨了响一声号码（{value}次）",
                                "few callbacks to one-ring numbers ({value})", "很少回拨响一声号码（{value}次）"),
    "premium_callbacks": _p("premium-rate callbacks to one-ring numbers", "回拨响一声国际高额号码次数", "count",
                            "called back one-ring numbers at premium rates ({value})", "回拨响一声的国际高额号码（{value}次）",
                            "few premium-rate callbacks to one-ring numbers ({value})",
                            "很少回拨响一声的国际高额号码（{value}次）"),
}


def _reading_phrases(reading: FeatureConfig) -> dict[str, Phrase]:
    """The phrases of features counted against a configured duration, stating the one they were counted with."""
    brief = reading.brief_call_s
    return {"brief_call_share": _p(f"share of outgoing calls under {brief} s", f"{brief}秒以内短主叫占比", "share",
                                   f"many brief calls under {brief} s ({{value}})", f"{brief}秒以内短通话占比高（{{value}}）",
                                   f"few brief calls under {brief} s ({{value}})", f"{brief}秒以内短通话占比低（{{value}}）")}


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
        phrasebook=fraud_phrases(reading), source=source, progress=progress, ranges=True,
    )
