"""The reasons charge assurance gives a refund, in Chinese, for every layer that shows them.

A refund's reason is stored as charge assurance writes it (``assurance.refund_reason``, in English): in the
adjustments ledger, and so in the text of the bill line that carries the refund (``refund: <reason>``). Billing
(statements), care (the assistant), the console and assurance's own SMS word it in the reader's language; billing
and the layers below assurance cannot import assurance, so the wording lives here, once. A reason not in the table
(one given by hand) is shown as written.
"""

from __future__ import annotations

REFUND_REASONS_ZH: dict[str, str] = {
    "charge without a confirmed order": "未经您确认订购的扣费",
    "charge after the subscription ended": "退订后的扣费",
    "charge after the line was closed": "销户后的扣费",
    "charge while the line was suspended": "停机期间的扣费",
    "charge under the previous customer's subscription after the line changed owner": "号码过户给您后仍按原机主的订购扣费",
    "charged twice for the same period": "同一周期重复扣费",
    "monthly fee charged again after re-subscribing in the same month": "当月退订后再次订购同一业务，当月不重复收取月功能费",
    "charged more than the catalog price": "超出资费标准的扣费",
    "charge for an offer not in the catalog": "不明业务扣费",
    "charge from a provider whose billing was suspended": "服务商被暂停计费后的扣费",
    "call back to a one-ring scam number charged at premium rates": "回拨“响一声”诈骗号码产生的高额费用",
    "fraudulent calls made on a stolen or cloned SIM": "手机卡被盗用或复制后产生的欺诈通话费用",
    "call back to a one-ring scam number": "回拨“响一声”诈骗号码产生的费用",
    "one-ring scam call received while roaming": "漫游期间接听“响一声”诈骗来电产生的费用",
    "usage charged after the spending cap": "超出消费上限后的费用",
    "confirmation not made by the subscriber": "非您本人操作的订购确认",
    "confirmation evidence reused from another order": "订购确认凭证系从其他订单重复使用",
    "refused by the consent gate before billing": "计费前已被订购核验拦截，未计入账单",
}


def refund_reason_in(reason: str, language: str) -> str:
    """A refund's stored reason in ``language`` (``zh`` or ``en``); a reason the table does not know, as written."""
    if language != "zh":
        return reason
    return REFUND_REASONS_ZH.get(reason.strip(), reason)
