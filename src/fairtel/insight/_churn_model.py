"""The churn early-warning model on any labelled customer table: the shared tabular scorer with churn words.

The phrasebook covers the usual columns of operator customer tables (tenure, charges, contract, support
calls, complaints) under their common spellings; any other column gets a generic phrase.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from fairtel.learn import Phrase, Progress, TabularModel, TrainOptions, train_model

TASK = "churn"

def _p(name_en: str, name_zh: str, unit: str, high_en: str, high_zh: str, low_en: str = "", low_zh: str = "") -> Phrase:
    """A feature's words: its name, the unit of its values (``Phrase.unit``), and what a high (and a low) value
    says; the strong words are for a value outside the training rows' usual range, one within it is stated
    beside the typical value ("monthly charges: 70.35, above the typical 64.8")."""
    return Phrase(high_en, high_zh, low_en, low_zh, name_en=name_en, name_zh=name_zh, unit=unit)


# Units: "count" a number; "" a figure as it is (the amounts of a customer table are in a currency it does not
# name, and tenure in months or days as the table has it).
_TENURE = _p("tenure", "在网时长", "count", "long tenure ({value})", "在网时间长（{value}）",
             "short tenure ({value})", "在网时间短（{value}）")
_MONTHLY = _p("monthly charges", "月租", "", "high monthly charges ({value})", "月租较高（{value}）",
              "low monthly charges ({value})", "月租较低（{value}）")
_TOTAL = _p("total spend so far", "累计消费", "", "high total spend ({value})", "累计消费较高（{value}）",
            "low total spend so far ({value})", "累计消费较低（{value}）")
_SUPPORT = _p("customer-service calls", "客服来电次数", "count", "many customer-service calls ({value})",
              "客服来电多（{value}次）", "few customer-service calls ({value})", "客服来电少（{value}次）")
_COMPLAINTS = _p("complaints", "投诉次数", "count", "many complaints ({value})", "投诉较多（{value}次）")


def _cat(en: str, zh: str) -> Phrase:
    return Phrase(category_en=f"{en}: {{value}}", category_zh=f"{zh}：{{value}}")


CHURN_PHRASES: dict[str, Phrase] = {
    "tenure": _TENURE,
    "tenure_months": _TENURE,
    "account_length": _TENURE,
    "months_on_network": _TENURE,
    "MonthlyCharges": _MONTHLY,
    "monthly_charge": _MONTHLY,
    "monthly_fee": _MONTHLY,
    "arpu": _MONTHLY,
    "TotalCharges": _TOTAL,
    "total_charges": _TOTAL,
    "customer_service_calls": _SUPPORT,
    "CustServCalls": _SUPPORT,
    "complaints": _COMPLAINTS,
    "complaint_count": _COMPLAINTS,
    "Complain": _cat("complained", "有投诉"),
    "Contract": _cat("contract", "合约类型"),
    "PaymentMethod": _cat("payment method", "付款方式"),
    "InternetService": _cat("internet service", "宽带服务"),
    "OnlineSecurity": _cat("online security add-on", "网络安全服务"),
    "OnlineBackup": _cat("online backup add-on", "云备份服务"),
    "DeviceProtection": _cat("device protection", "设备保障"),
    "TechSupport": _cat("tech support", "技术支持服务"),
    "StreamingTV": _cat("streaming TV", "电视流媒体"),
    "StreamingMovies": _cat("streaming movies", "电影流媒体"),
    "PaperlessBilling": _cat("paperless billing", "电子账单"),
    "MultipleLines": _cat("multiple lines", "多线路"),
    "PhoneService": _cat("phone service", "语音服务"),
    "Partner": _cat("has a partner", "有配偶"),
    "Dependents": _cat("has dependents", "有家属"),
    "gender": _cat("gender", "性别"),
    "international_plan": _cat("international plan", "国际套餐"),
    "voice_mail_plan": _cat("voicemail plan", "语音信箱套餐"),
    "plan_id": _cat("plan", "套餐"),
    "SeniorCitizen": Phrase("senior citizen", "老年用户", "not a senior citizen", "非老年用户"),
    "total_day_minutes": _p("daytime call minutes", "白天通话分钟数", "min", "many daytime minutes ({value})",
                            "白天通话分钟多（{value}）"),
    "total_day_charge": _p("daytime call charges", "白天通话费用", "", "high daytime charges ({value})",
                           "白天通话费用高（{value}）"),
    "total_intl_calls": _p("international calls", "国际通话次数", "count", "many international calls ({value})",
                           "国际通话多（{value}）", "few international calls ({value})", "国际通话少（{value}）"),
    "Age": _p("age", "年龄", "count", "older customer ({value})", "年龄较大（{value}）", "younger customer ({value})",
              "年龄较小（{value}）"),
    "Balance": _p("account balance", "账户余额", "", "high account balance ({value})", "账户余额较高（{value}）",
                  "low account balance ({value})", "账户余额较低（{value}）"),
    "NumOfProducts": _p("products held", "持有产品数", "count", "many products held ({value})", "持有产品多（{value}）",
                        "few products held ({value})", "持有产品少（{value}）"),
    "IsActiveMember": Phrase("active member", "活跃用户", "inactive member", "不活跃用户"),
    "data_usage_trend": _p("data use trend", "流量使用趋势", "", "data use rising ({value})", "流量使用上升（{value}）",
                           "data use falling ({value})", "流量使用下降（{value}）"),
    "usage_trend": _p("usage trend", "使用量趋势", "", "usage rising ({value})", "使用量上升（{value}）",
                      "usage falling ({value})", "使用量下降（{value}）"),
    "bill_shock": _p("bill shock", "账单异常偏高", "", "recent bill shock ({value})", "近期账单异常偏高（{value}）"),
}


def train_churn_model(
    frame: pl.DataFrame,
    *,
    label: str,
    id_column: str | None = None,
    exclude: Iterable[str] = (),
    options: TrainOptions | None = None,
    source: str = "table",
    progress: Progress | None = None,
) -> TabularModel:
    """Train the churn scorer on a labelled customer table (one row per customer). The model keeps each numeric
    feature's usual range (10th to 90th percentile of the training rows): a reason calls a value high or low only
    outside it, and states one within it beside the typical value. A model saved before it kept them says high
    or low as it did."""
    model = train_model(
        frame, label=label, id_column=id_column, exclude=exclude, options=options, task=TASK,
        phrasebook=CHURN_PHRASES, source=source, progress=progress, ranges=True,
    )
    return without_flag_ranges(model)


def without_flag_ranges(model: TabularModel) -> TabularModel:
    """The model without the usual range of a yes/no feature whose words state no value ("senior citizen" /
    "not a senior citizen"): such a feature is said in its own words, never as "0, the typical value"."""
    ranges = model.meta.get("ranges")
    if isinstance(ranges, dict):
        def flag(name: str) -> bool:
            e = model.phrases.get(name)
            return e is not None and bool(e.high_en or e.low_en) and "{value}" not in e.high_en + e.low_en

        model.meta["ranges"] = {k: v for k, v in ranges.items() if not flag(k)}
    return model
